"""The dataset's data contract inside promotion (promotion.py): every rule judged in the same
pass as the casts, and afterwards, for referential rules with orphans, whether the missing keys
were deleted from the reference or never in it. Job side: Spark, no Dagster, no catalog."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from lake_assets.contracts.model import Contract, Rule
from lake_assets.contracts.rules import (
    VIOLATIONS,
    drop_reasons,
    row_violations,
    with_referential_violations,
    with_unique_violations,
)
from lake_assets.ingestion.promotion_plan import PromotionPlan
from lake_assets.tables.frames import PARTITION, read_locations
from lake_assets.tables.types import SPARK_TYPES

_KEY, _HELD = "_orphan_key", "_held_the_day_before"


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
        rows = with_referential_violations(rows, rule, _reference(spark, plan, rule), PARTITION)
    return rows, drop_reasons(VIOLATIONS, contract)


def _reference(spark: SparkSession, plan: PromotionPlan, rule: Rule) -> DataFrame:
    """The referenced dataset's partitions the plan resolved for `rule` (none: no rows)."""
    reference = plan.references.get(rule.name)
    if reference and reference.uris:
        return read_locations(spark, list(reference.uris), reference.columns)
    return spark.createDataFrame([], f"{PARTITION} date, `{rule.check.references.column}` string")


def classify_orphans(
    spark: SparkSession, written: DataFrame, plan: PromotionPlan, violations: dict
) -> dict[str, dict[str, dict[str, int]]]:
    """For referential rules with orphans: were the keys in the reference's previous snapshot
    (deleted since, the seed's failure mode) or never there? Runs only when orphans exist."""
    contract = Contract.model_validate(plan.contract)
    return {
        rule.name: missing_key_counts(
            written, VIOLATIONS, rule, PARTITION, _reference(spark, plan, rule)
        )
        for rule in contract.rules_of("referential_integrity")
        if rule.name in plan.references
        and any(rule.name in counts for counts in violations.values())
    }


def missing_key_counts(
    frame: DataFrame, violations_col: str, rule: Rule, partition_col: str, reference: DataFrame
) -> dict[str, dict[str, int]]:
    """Per partition, the distinct keys a referential rule orphaned in `frame`, split into those
    the reference held the day before (deleted since: a downstream join now yields nulls) and
    those it never held. Counted in Spark: only the counts reach the driver, however many keys a
    range orphans or however large the reference."""
    check = rule.check
    orphans = (
        frame.where(F.array_contains(violations_col, rule.name))
        .select(partition_col, F.col(check.column).cast("string").alias(_KEY))
        .distinct()
    )
    held_before = (
        reference.select(
            F.date_add(F.col(partition_col), 1).alias(partition_col),
            F.col(check.references.column).cast("string").alias(_KEY),
        )
        .distinct()
        .withColumn(_HELD, F.lit(True))
    )
    counted = (
        orphans.join(held_before, [partition_col, _KEY], "left")
        .groupBy(partition_col)
        .agg(F.count(_HELD).alias("deleted"), F.count(F.lit(1)).alias("missing"))
        .collect()
    )
    return {
        str(row[partition_col]): {
            "deleted_since_previous_snapshot": row["deleted"],
            "never_seen": row["missing"] - row["deleted"],
        }
        for row in counted
    }
