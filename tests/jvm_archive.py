"""A class-data-sharing archive (AppCDS) of the Spark JVM, so that each JVM the tests start maps
the classes Spark loads instead of reading and verifying them from its jars again.

The suite starts about twenty short-lived JVMs besides the workers' own (the fake EMR's jobs,
the Pipes subprocesses, `lake` commands in a subprocess): each spends most of its life loading
classes. Measured on this machine: a JVM that starts a session and runs one query used 20.9 CPU
seconds without the archive and 10.8-11.3 with it (ADR-0054's C1-only, serial-GC flags in
both). `make test` (pytest -n) dumps it once, beside its workers (a JVM started before it is
ready runs without it), from one run of the kind of work the jobs do (JSON and CSV read, casts,
a partitioned Parquet write, reading back, an aggregate); a plain `pytest` uses it when an
earlier `make test` left it. Production JVMs are untouched.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

# Unified logging's cds tags print a warning to stdout when an archive does not fit (another
# Spark's class path, as the PySpark 3.5 environment has): that JVM runs without it, silently.
QUIET = "-Xlog:cds=off -Xlog:cds+dynamic=off"

WORKLOAD = """
import sys
from pyspark.sql import SparkSession, functions as F
folder = sys.argv[1]
spark = (SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false")
         .config("spark.sql.shuffle.partitions", "2").getOrCreate())
with open(f"{folder}/in.json", "w") as out:
    out.write('{"id": "a", "amount": "1.5", "at": "2026-03-02T10:00:00Z"}\\n{"id": "b"}\\n')
with open(f"{folder}/in.csv", "w") as out:
    out.write("id,segment,day\\nC1,retail,2026-03-02\\n")
rows = spark.read.schema("id string, amount string, at string, _corrupt_record string").json(
    f"{folder}/in.json")
typed = rows.select("id", F.col("amount").cast("double").alias("amount"),
                    F.to_timestamp("at").alias("at"),
                    F.when(F.col("amount").isNull(), F.lit("no amount")).alias("reason"))
typed = typed.withColumn("day", F.to_date("at"))
typed.write.partitionBy("day").mode("error").parquet(f"{folder}/out")
back = spark.read.parquet(f"{folder}/out")
back.groupBy("day").agg(F.count("*"), F.percentile_approx("amount", 0.5)).collect()
spark.read.option("header", True).csv(f"{folder}/in.csv").join(back, "id", "left").collect()
spark.stop()
"""


@functools.cache
def archive_path(flags: str) -> Path:
    """Where the archive of this Java, this PySpark and these flags is kept between runs."""
    import pyspark

    java = Path(shutil.which("java") or "java").resolve()
    jars = Path(pyspark.__file__).parent / "jars"
    key = f"{java}:{java.stat().st_mtime_ns if java.exists() else 0}:{jars}:{pyspark.__version__}"
    digest = hashlib.sha256(f"{key}:{flags}".encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"lakehouse-spark-{digest}.jsa"


def options(flags: str) -> str:
    """`flags` with the archive, when there is one."""
    archive = archive_path(flags)
    return f"{flags} -XX:SharedArchiveFile={archive} {QUIET}" if archive.exists() else flags


def dump_beside(flags: str) -> None:
    """Dump the archive for `flags` in a process of its own, unless it exists."""
    if not archive_path(flags).exists():
        subprocess.Popen(
            [sys.executable, __file__, flags],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )


def dump(flags: str) -> Path:
    """The archive for `flags`, dumped from one run of WORKLOAD unless it exists. Written under
    a name of its own and renamed, so runs side by side never read half an archive."""
    archive = archive_path(flags)
    if archive.exists():
        return archive
    with tempfile.TemporaryDirectory() as folder:
        partial = Path(folder) / "spark.jsa"
        env = {**os.environ, "SPARK_SUBMIT_OPTS": f"{flags} -XX:ArchiveClassesAtExit={partial}"}
        subprocess.run(
            [sys.executable, "-c", WORKLOAD, folder], env=env, capture_output=True, check=True
        )
        if partial.exists():
            os.replace(partial, archive)
    return archive


if __name__ == "__main__":
    dump(sys.argv[1])
