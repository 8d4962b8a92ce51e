"""The dataset's data contract inside promotion (promotion.py): every rule judged in the same
pass as the casts, and afterwards, for referential rules with orphans, whether the missing keys
were deleted from the reference or never in it. Job side: Spark, no Dagster, no catalog."""

from __future__ import annotations

from datetime import date, timedelta

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from lake_assets.contracts.model import Contract
from lake_assets.contracts.rules import (
    VIOLATIONS,
    drop_reasons,
    row_violations,
    violating_keys,
    with_referential_violations,
    with_unique_violations,
)
from lake_assets.contracts.verdicts import classify_missing_keys
from lake_assets.ingestion.promotion_plan import PromotionPlan
from lake_assets.tables.frames import PARTITION, read_locations
from lake_assets.tables.types import SPARK_TYPES


def with_contract(
    spark: SparkSession, rows: DataFrame, plan: PromotionPlan
) -> tuple[DataFrame, Column]:
    """`rows` with VIOLATIONS, every contract rule each row violates, and the reason (null if
    none) for which a row violating a drop rule goes to quarantine."""
    contract = Contract.model_validate(plan.contract)
    # A column the contract expects but no payload has delivered yet reads as null: a
    # non-nullable one then violates its schema rule, a nullable one is simply empty. Only the
    # plan's columns are written, so these stand-ins never reach the output.
    for column, kind in contract.column_types.items():
        if column not in rows.columns:
            rows = rows.withColumn(column, F.lit(None).cast(SPARK_TYPES[kind]))
    rows = rows.withColumn(VIOLATIONS, row_violations(contract, rows.columns))
    rows = with_unique_violations(rows, contract, PARTITION)
    for rule in contract.rules_of("referential_integrity"):
        reference = plan.references.get(rule.name)
        known = (
            read_locations(spark, list(reference.uris), reference.columns)
            if reference and reference.uris
            else spark.createDataFrame(
                [], f"{PARTITION} date, `{rule.check.references.column}` string"
            )
        )
        rows = with_referential_violations(rows, rule, known, PARTITION)
    return rows, drop_reasons(VIOLATIONS, contract)


def classify_orphans(
    spark: SparkSession, written: DataFrame, plan: PromotionPlan, violations: dict
) -> dict[str, dict[str, dict[str, int]]]:
    """For referential rules with orphans: were the keys in the reference's previous snapshot
    (deleted since, the seed's failure mode) or never there? Runs only when orphans exist."""
    contract = Contract.model_validate(plan.contract)
    classified = {}
    for rule in contract.rules_of("referential_integrity"):
        reference = plan.references.get(rule.name)
        if not reference or not any(rule.name in counts for counts in violations.values()):
            continue
        orphans = violating_keys(written, VIOLATIONS, rule, PARTITION)
        snapshots = {}
        if reference.uris:
            known = read_locations(spark, list(reference.uris), reference.columns)
            column = rule.check.references.column
            for day, key in (
                known.select(PARTITION, F.col(column).cast("string")).distinct().collect()
            ):
                snapshots.setdefault(day.isoformat(), set()).add(key)
        classified[rule.name] = {
            partition: classify_missing_keys(
                keys,
                snapshots.get((date.fromisoformat(partition) - timedelta(days=1)).isoformat(), ()),
            )
            for partition, keys in orphans.items()
        }
    return classified
