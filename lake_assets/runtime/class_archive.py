"""A class-data-sharing archive (AppCDS) of the local Spark JVM, so that a JVM maps the classes
Spark loads instead of reading and verifying them from its jars again.

Every local JVM starts from nothing: each `lake` command and Dagster run that starts Spark, and
each job of the Pipes subprocess runner (which starts a JVM per job, as EMR Serverless starts a
job run). Measured on a 2-core machine: a session took 8.7 s to start and its first query 4.2 s;
with the archive 5.5 s and 2.4 s (ADR-0125). Java 17 cannot make the archive by itself (JDK
19's -XX:+AutoCreateSharedArchive), so it is dumped once, from one run of the kind of work the
jobs do (JSON and CSV read, casts, a partitioned Parquet write, reading back, an aggregate, a
join): `make demo`, `make dev` and `make bench` dump it for the JVM's default flags, `make test`
for the tests' flags (tests/conftest.py), and a Spark session built here takes it when it is
there (`classes_from_archive`). Kept in the environment's own folder under a name made of the
Java, the PySpark and the flags, so another Java or Spark finds no archive rather than a wrong
one. EMR Serverless starts its own JVM: nothing here reaches it.

    python -m lake_assets.runtime.class_archive [FLAGS]   # dump it, unless it exists
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from contextlib import AbstractContextManager
from pathlib import Path

from lake_assets.runtime.environ import unless_set

# The variable spark-submit adds to the local driver JVM's options (client mode).
SUBMIT_OPTS = "SPARK_SUBMIT_OPTS"
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
def archive_path(flags: str = "") -> Path:
    """Where the archive of this Java, this PySpark and these JVM flags is kept."""
    import pyspark

    java = Path(shutil.which("java") or "java").resolve()
    jars = Path(pyspark.__file__).parent / "jars"
    key = f"{java}:{java.stat().st_mtime_ns if java.exists() else 0}:{jars}:{pyspark.__version__}"
    digest = hashlib.sha256(f"{key}:{flags}".encode()).hexdigest()[:16]
    return Path(sys.prefix) / "spark-class-archives" / f"{digest}.jsa"


def options(flags: str = "") -> str:
    """`flags` with the archive, when there is one."""
    archive = archive_path(flags)
    return f"{flags} -XX:SharedArchiveFile={archive} {QUIET}".strip() if archive.exists() else flags


def classes_from_archive() -> AbstractContextManager[None]:
    """Around the creation of a local SparkSession: its JVM maps the archive of the default
    flags, when there is one, unless SPARK_SUBMIT_OPTS is someone else's (a user's, the tests')."""
    return unless_set(SUBMIT_OPTS, options() if archive_path().exists() else None)


def dump(flags: str = "") -> Path:
    """The archive for `flags`, dumped from one run of WORKLOAD unless it exists. Written under
    a name of its own and renamed, so JVMs started meanwhile never read half an archive."""
    archive = archive_path(flags)
    if archive.exists():
        return archive
    archive.parent.mkdir(parents=True, exist_ok=True)
    # Beside the archive: the rename is then one step of one file system.
    with tempfile.TemporaryDirectory(dir=archive.parent, prefix="dumping-") as folder:
        partial = Path(folder) / "spark.jsa"
        env = {**os.environ, SUBMIT_OPTS: f"{flags} -XX:ArchiveClassesAtExit={partial} {QUIET}"}
        subprocess.run(
            [sys.executable, "-c", WORKLOAD, folder], env=env, capture_output=True, check=True
        )
        if not partial.exists():
            raise RuntimeError(f"the JVM wrote no class archive at {partial}")
        os.replace(partial, archive)
    return archive


def main(flags: str) -> int:
    """Dump the archive; a failure says why and that JVMs start without one (exit 1)."""
    try:
        print(f"Spark class archive: {dump(flags)}")
    except (subprocess.CalledProcessError, RuntimeError, OSError) as error:
        said = getattr(error, "stderr", b"") or b""
        last = said.decode(errors="replace").strip().splitlines()[-3:]
        print(f"no Spark class archive ({error}); Spark JVMs start without one", *last, sep="\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(" ".join(sys.argv[1:])))
