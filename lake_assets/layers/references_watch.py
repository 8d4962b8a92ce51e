"""A sliced table's references watched on the clock (ADR-0171).

A sliced table (`DerivedTable.slices`: `silver_orders`, whose order-date slices are rewritten by
change days) checks its referential rules on the slices a build rewrites (ADR-0167). An order on
an order date no later change touches is never checked again: if its customer leaves
`silver_customer`, nothing says so until a late change to that order holds a whole change day
(and gold with it). Every morning the check `references_still_hold` tries the table's
referential rules on all its published slices against the reference's newest partition (the
trial of `lake contract try`, ADR-0170) and fails with WARN naming the orphans, so the operator
hears of a lost customer before a build is held by it.

The other derived tables need no watch: a new version of a reference is an input of their day,
which rebuilds and checks it (ADR-0167, ADR-0168); a source is promoted again (ADR-0132)."""

# No `from __future__ import annotations`: Dagster reads the context's annotation as a type.
from collections.abc import Sequence

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetKey,
    Definitions,
    MetadataValue,
    ResourceParam,
    asset_check,
)

from lake_assets.clock_checks import DAILY, checked_on_the_clock
from lake_assets.contracts.trial import try_published
from lake_assets.layers.model import DerivedTable
from lake_assets.runtime.retries import retried_when_transient
from resources.catalog import PartitionCatalog
from resources.spark_runner import SparkRunner
from resources.storage import LakeStorage

REFERENCES_STILL_HOLD = "references_still_hold"


def watched(tables: Sequence[DerivedTable]) -> list[DerivedTable]:
    """The sliced tables whose contract has a referential rule."""
    return [
        t
        for t in tables
        if t.slices is not None
        and t.contract is not None
        and t.contract.rules_of("referential_integrity")
    ]


def build_references_check(table: DerivedTable) -> AssetChecksDefinition:
    contract = table.contract
    assert contract is not None  # watched() keeps only contracted tables
    rules = [r.name for r in contract.rules_of("referential_integrity")]
    referential = contract.model_copy(
        update={"rules": tuple(contract.rule(name) for name in rules)}
    )

    @asset_check(
        asset=AssetKey(list(table.asset)),
        name=REFERENCES_STILL_HOLD,
        description=(
            f"Every published slice of {table.dataset} still names keys its references hold "
            f"({', '.join(rules)}), against each reference's newest partition."
        ),
    )
    @retried_when_transient
    def references_still_hold(
        context: AssetCheckExecutionContext,
        catalog: ResourceParam[PartitionCatalog],
        storage: ResourceParam[LakeStorage],
        spark_runner: ResourceParam[SparkRunner],
    ) -> AssetCheckResult:
        try:
            result, report = try_published(
                table.dataset,
                referential,
                None,
                True,
                catalog,
                storage,
                spark_runner.bound(context.op_execution_context),
            )
        except LookupError as nothing:
            return AssetCheckResult(passed=True, description=str(nothing))
        broken = report.broken
        orphans = {name: sum(broken.get(name, {}).values()) for name in rules}
        untried = {name: result["references"][name]["untried"] for name in rules}
        lines = [
            f"{name}: not tried, {result['references'][name]['dataset']} has published nothing"
            if untried[name]
            else report.tried_line(name).strip()
            for name in rules
        ]
        return AssetCheckResult(
            passed=not any(orphans.values()) and not any(untried.values()),
            severity=AssetCheckSeverity.WARN,
            metadata={
                "slices": len(report.partitions),
                "orphans": sum(orphans.values()),
                "by_rule": MetadataValue.json(
                    {
                        name: {
                            "orphans": orphans[name],
                            "against": result["references"][name]["against"],
                            "orphan_keys": result["references"][name]["orphan_keys"],
                            "days": broken.get(name, {}),
                        }
                        for name in rules
                    }
                ),
            },
            description="\n".join(lines),
        )

    return references_still_hold


def references_watch(tables: Sequence[DerivedTable]) -> Definitions:
    """The check of each watched table and the daily job that runs them, at 06:50 UTC: after
    the night's source deliveries (02:00) have had time to publish silver."""
    return checked_on_the_clock(
        "references_watch",
        [build_references_check(t) for t in watched(tables)],
        minute=50,
        hour=6,
        every=DAILY,
        what="checks that every published slice of a sliced table still names keys its "
        "references hold.",
    )
