"""The Spark job `cost_cur`: a CUR delivery's Parquet files as the curated cost_cur table.

Dagster-free and catalog-free like every registered job (runtime/jobs.py): the plan names the
delivery's files and the run's folder; the orchestrator (cur_run.py) checks the contract and
publishes. Runs on EMR 7.x's Spark 3.5 and on Spark 4 alike (no Column.try_cast: every cast
here is of a type the schema check admitted, so none can fail).
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from lake_assets.cost.cur_delivery import COST_COLUMNS
from lake_assets.cost.cur_source import CURATED_COLUMNS, NON_NULL
from lake_assets.tables.types import SPARK_TYPES

NANOS_PER_USD = 1_000_000_000


def nanos(usd: Column) -> Column:
    """A double of dollars as integer nano-dollars, as model.to_nanos rounds it: half-even on
    the value's decimal representation. Spark turns a double into a decimal through its
    shortest decimal text (Double.toString) as Python's Decimal(str(x)) does, and 18 places
    keep every digit a CUR cost carries; bround is half-even."""
    return (F.bround(usd.cast("decimal(38,18)"), 9) * F.lit(NANOS_PER_USD)).cast("bigint")


def curated_lines(lines: DataFrame, delivery_id: str) -> DataFrame:
    """The delivery's line items at the curated table's columns and types. Timestamps: a
    delivery's naive timestamps are UTC (AWS's convention) and the lake's Spark sessions run
    in UTC (runtime/entry.py, the runner's configuration), so a cast keeps the instant."""
    present = set(lines.columns)
    delivered = {
        name: (F.col(f"`{name}`") if name in present else F.lit(None)).cast(SPARK_TYPES[kind])
        for name, kind in CURATED_COLUMNS.items()
        if name not in ("cost_nanos", "net_cost_nanos", "usage_hour", "delivery_id")
    }
    derived = {
        "cost_nanos": nanos(delivered["line_item_unblended_cost"]),
        "net_cost_nanos": nanos(delivered["line_item_net_unblended_cost"]),
        "usage_hour": F.date_format(delivered["line_item_usage_start_date"], "yyyy-MM-dd'T'HH"),
        "delivery_id": F.lit(delivery_id),
    }
    columns = {**delivered, **derived}
    return lines.select(*[columns[name].alias(name) for name in CURATED_COLUMNS])


def cost_cur_job(spark: SparkSession, plan: dict) -> dict:
    """The registered Spark job `cost_cur`. Plan: `files` (the delivery's data file URIs),
    `delivery_id`, `output_uri` (the month's folder in the run's own folder). Result: `rows`,
    the data `files` written (names), `nulls` per required column, `sums` per cost column and
    `cost_nanos`, for the contract."""
    lines = spark.read.parquet(*plan["files"])
    curated_lines(lines, plan["delivery_id"]).write.mode("error").parquet(plan["output_uri"])
    per_file = (
        spark.read.parquet(plan["output_uri"])
        .groupBy(F.col("_metadata.file_name").alias("file"))
        .agg(
            F.count(F.lit(1)).alias("rows"),
            F.sum("cost_nanos").alias("cost_nanos"),
            *[F.sum(c).alias(c) for c in COST_COLUMNS],
            *[F.sum(F.col(c).isNull().cast("int")).alias(f"null_{c}") for c in NON_NULL],
        )
        .collect()
    )
    return {
        "rows": sum(r["rows"] for r in per_file),
        "files": sorted(r["file"] for r in per_file),
        "cost_nanos": sum(r["cost_nanos"] or 0 for r in per_file),
        "sums": {c: sum(r[c] or 0.0 for r in per_file) for c in COST_COLUMNS},
        "nulls": {c: sum(r[f"null_{c}"] or 0 for r in per_file) for c in NON_NULL},
    }
