"""The Spark side every derived job ends with: write the built rows as the declared columns
into the run's folder, then one read of what was written for the orchestrator's audit (rows
and files) and the output contract (violating rows per rule). Dagster-free and catalog-free,
like every registered job (lake_assets/runtime/jobs.py)."""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lake_assets.contracts.model import Contract
from lake_assets.contracts.rules import (
    VIOLATIONS,
    row_violations,
    violation_counts,
    with_unique_violations,
)
from lake_assets.tables.frames import PARTITION, conformed


def write_derived(spark: SparkSession, rows: DataFrame, plan: dict) -> dict:
    """Write `rows` (the table's declared `plan["columns"]`, typed, in order) to
    `plan["output_uri"]`. Result: `rows` and `files` written, and `violations`, the written
    rows breaking each rule of `plan["contract"]` (none without a contract)."""
    columns = plan["columns"]
    conformed(rows, columns).select(*columns).write.mode("error").parquet(plan["output_uri"])
    written = spark.read.parquet(plan["output_uri"])
    per_file = (
        written.groupBy(F.col("_metadata.file_name").alias("file"))
        .agg(F.count(F.lit(1)).alias("rows"))
        .collect()
    )
    checked = written.withColumn(PARTITION, F.lit(plan["partition"]))
    violations = contract_violations(checked, plan.get("contract")).get(plan["partition"], {})
    return {
        "rows": sum(r["rows"] for r in per_file),
        "files": sorted(r["file"] for r in per_file),
        "violations": violations,
    }


def contract_violations(written: DataFrame, contract: dict | None) -> dict[str, dict[str, int]]:
    """Per partition (the `event_date` column of `written`), the rows breaking each rule of
    `contract` (a plan's JSON form); none without a contract."""
    if not contract:
        return {}
    rules = Contract.model_validate(contract)
    checked = written.withColumn(VIOLATIONS, row_violations(rules, written.columns))
    checked = with_unique_violations(checked, rules, PARTITION)
    return violation_counts(checked, VIOLATIONS, PARTITION)
