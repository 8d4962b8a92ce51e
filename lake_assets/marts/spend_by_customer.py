"""The Spark job of the `marts/spend_by_customer` mart: card spend per customer and segment.

Dagster-free and catalog-free, like every registered job (lake_assets/runtime/jobs.py): the
orchestrator resolves the inputs' published files into the plan (tables.reader) and audits and
publishes what the job wrote (assets.py)."""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lake_assets.tables.frames import read_resolved


def spend_by_customer_rows(cards: DataFrame, customers: DataFrame | None) -> DataFrame:
    """Card spend per customer and segment; without the customers snapshot the segment is null
    (a partial run, flagged in its metadata)."""
    if customers is None:
        cards = cards.withColumn("segment", F.lit(None).cast("string"))
    else:
        cards = cards.join(customers.select("customer_id", "segment"), "customer_id", "left")
    return cards.groupBy("customer_id", "segment").agg(
        F.count(F.lit(1)).alias("transactions"), F.sum("amount").alias("spend")
    )


def spend_by_customer_job(spark: SparkSession, plan: dict) -> dict:
    """The registered Spark job `spend_by_customer`. Plan: `cards` and `customers` (or None) as
    `tables.reader.resolve_published` resolved them, and `output_uri`, the partition's folder
    in the run's own folder. Result: the `rows` written, the data `files` (names),
    `transactions`, the card rows they count, for the orchestrator's audit, and
    `null_customer_ids`, the rows without a customer, for its check."""
    cards = read_resolved(spark, plan["cards"])
    customers = read_resolved(spark, plan["customers"]) if plan["customers"] else None
    spend_by_customer_rows(cards, customers).write.mode("error").parquet(plan["output_uri"])
    # One pass over what was written: rows and card rows per file, and the file names.
    per_file = (
        spark.read.parquet(plan["output_uri"])
        .groupBy(F.col("_metadata.file_name").alias("file"))
        .agg(
            F.count(F.lit(1)).alias("rows"),
            F.sum("transactions").alias("transactions"),
            F.sum(F.col("customer_id").isNull().cast("int")).alias("null_customer_ids"),
        )
        .collect()
    )
    return {
        "rows": sum(r["rows"] for r in per_file),
        "files": sorted(r["file"] for r in per_file),
        "transactions": sum(r["transactions"] or 0 for r in per_file),
        "null_customer_ids": sum(r["null_customer_ids"] or 0 for r in per_file),
    }
