"""The Spark job of every gold table: its SQL over temp views of its inputs, written as Parquet.

Dagster-free, catalog-free and config-free, like every registered job (runtime/jobs.py): the
plan carries the SQL text and the inputs as tables.reader.resolve_published resolved them, so
the job runs in-process, in a Pipes subprocess or on EMR (PySpark 3.5 and 4.x) unchanged.
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
    """The registered Spark job `gold_table`. Plan: `table` (its name, for messages), `sql`,
    `inputs` (view name -> what resolve_published resolved) and `output_uri`, the partition's
    folder in the run's own folder. Result: the `rows` written, the data `files` (names) and
    the `columns` written (column -> field type), for the orchestrator's schema check."""
    # A session of its own: its temp views are invisible to any other job in this JVM.
    session = spark.newSession()
    inputs = {view: read_resolved(session, resolved) for view, resolved in plan["inputs"].items()}
    gold_rows(session, plan["sql"], inputs).write.mode("errorifexists").parquet(plan["output_uri"])
    written = session.read.parquet(plan["output_uri"])
    per_file = (
        written.groupBy(F.col("_metadata.file_name").alias("file"))
        .agg(F.count(F.lit(1)).alias("rows"))
        .collect()
    )
    return {
        "rows": sum(r["rows"] for r in per_file),
        "files": sorted(r["file"] for r in per_file),
        "columns": {
            f.name: field_type_of_spark(f.dataType.simpleString()) for f in written.schema.fields
        },
    }
