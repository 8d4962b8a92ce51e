"""The Spark job of every gold table: its SQL over temp views of its inputs, written as Parquet,
and what the orchestrator checks against the table's declared schema, read back from the files.

Dagster-free, catalog-free and config-free, like every registered job (runtime/jobs.py): the
plan carries the SQL text, the inputs as tables.reader.resolve_published resolved them and the
columns to check, so the job runs in-process, in a Pipes subprocess or on EMR (PySpark 3.5 and
4.x) unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lake_assets.tables.frames import read_resolved
from lake_assets.tables.types import field_type_of_spark


def gold_rows(spark: SparkSession, sql: str, inputs: Mapping[str, DataFrame]) -> DataFrame:
    """The rows `sql` defines over `inputs` (view name -> rows, each of `spark`'s session)."""
    for view, frame in inputs.items():
        frame.createOrReplaceTempView(view)
    return spark.sql(sql)


def gold_job(spark: SparkSession, plan: dict) -> dict:
    """The registered Spark job `gold_table`. Plan: `sql`, `inputs` (view name -> what
    resolve_published resolved), `not_null` and `grain` (column lists) and `output_uri`, the
    partition's folder in the run's own folder. Result: the `rows` written, the data `files`
    (names), the `columns` written (column -> field type), `nulls` (not_null column -> null
    rows) and `duplicate_keys` (rows beyond one per grain), for the orchestrator's checks."""
    # A session of its own: its temp views are invisible to any other job in this JVM.
    session = spark.newSession()
    inputs = {view: read_resolved(session, resolved) for view, resolved in plan["inputs"].items()}
    gold_rows(session, plan["sql"], inputs).write.mode("errorifexists").parquet(plan["output_uri"])
    written = session.read.parquet(plan["output_uri"])
    present = set(written.columns)
    checked = [c for c in plan["not_null"] if c in present]
    grain = [F.col(c) for c in plan["grain"] if c in present]
    # One pass over what was written: rows, files, nulls and distinct keys together.
    stats = written.agg(
        F.count(F.lit(1)).alias("rows"),
        F.collect_set(F.col("_metadata.file_name")).alias("files"),
        F.countDistinct(F.struct(*grain) if grain else F.lit(0)).alias("keys"),
        *[F.sum(F.col(c).isNull().cast("int")).alias(c) for c in checked],
    ).first()
    rows = stats["rows"]
    return {
        "rows": rows,
        "files": sorted(stats["files"]),
        "columns": {
            f.name: field_type_of_spark(f.dataType.simpleString()) for f in written.schema.fields
        },
        "nulls": {c: stats[c] or 0 for c in checked},
        "duplicate_keys": rows - stats["keys"] if grain else 0,
    }
