"""What a silver job wrote, counted in one pass over its output folder: the audit's figures."""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F


def write_counted(spark: SparkSession, rows: DataFrame, uri: str) -> dict:
    """`rows` written as Parquet to `uri` (a run's own folder, never overwritten); returns the
    `rows` written and the data `files` (names), as the publish records them."""
    rows.write.mode("errorifexists").parquet(uri)
    per_file = (
        spark.read.parquet(uri).groupBy(F.col("_metadata.file_name").alias("file")).count()
    ).collect()
    return {"rows": sum(r["count"] for r in per_file), "files": sorted(r["file"] for r in per_file)}
