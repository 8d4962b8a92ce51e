"""A sliced table's references watched on the clock (ADR-0171).

A sliced table (`DerivedTable.slices`: `silver_orders`, whose order-date slices are rewritten by
change days) checks its referential rules on the slices a build rewrites (ADR-0167). An order on
an order date no later change touches is never checked again: if its customer leaves
`silver_customer`, nothing says so until a late change to that order holds a whole change day
(and gold with it). Every morning the check `references_still_hold` tries the table's
referential rules on all its published slices against the reference's newest partition (the
trial of `lake contract try`, ADR-0170) and fails with WARN naming the orphans, so the operator
hears of a lost customer before a build is held by it. The alert topic hears of it when the
orphans change (`layers.references_lost`), not every morning they stay.

The other derived tables need no watch: a new version of a reference is an input of their day,
which rebuilds and checks it (ADR-0167, ADR-0168); a source is promoted again (ADR-0132)."""

from __future__ import annotations

from collections.abc import Sequence

from dagster import (
    AssetCheckKey,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    DagsterInstance,
    Definitions,
    MetadataValue,
)

from lake_assets.clock_checks import DAILY, checked_on_the_clock
from lake_assets.contracts.trial import TrialReport
from lake_assets.contracts.trial_watch import trial_check
from lake_assets.ingestion.asset_keys import contract_key_of
from lake_assets.layers.model import DerivedTable
from resources.notifier import Alert, Notifier

REFERENCES_STILL_HOLD = "references_still_hold"
ALERT_KIND = "layers.references_lost"


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

    # On the contract's asset, not the table's: a run that builds the table would run it too.
    key = AssetCheckKey(contract_key_of(table.dataset), REFERENCES_STILL_HOLD)

    def judge(
        instance: DagsterInstance, notifier: Notifier, result: dict, report: TrialReport
    ) -> AssetCheckResult:
        broken = report.broken
        orphans = {name: sum(broken.get(name, {}).values()) for name in rules}
        untried = {name: result["references"][name]["untried"] for name in rules}
        lines = [
            f"{name}: not tried, {result['references'][name]['dataset']} has published nothing"
            if untried[name]
            else report.tried_line(name).strip()
            for name in rules
        ]
        by_rule = {
            name: {
                "orphans": orphans[name],
                "against": result["references"][name]["against"],
                "orphan_keys": result["references"][name]["orphan_keys"],
                "days": broken.get(name, {}),
            }
            for name in rules
        }
        if any(orphans.values()) and _lost(by_rule) != _lost(_last(instance, key)):
            lost = sum(orphans.values())
            notifier.send(
                Alert(
                    ALERT_KIND,
                    f"{lost} published rows of {table.dataset} name keys their references "
                    "no longer hold",
                    {"dataset": table.dataset, "rules": lines, "check": key.to_user_string()},
                )
            )
        return AssetCheckResult(
            passed=not any(orphans.values()) and not any(untried.values()),
            severity=AssetCheckSeverity.WARN,
            metadata={
                "slices": len(report.partitions),
                "orphans": sum(orphans.values()),
                "by_rule": MetadataValue.json(by_rule),
            },
            description="\n".join(lines),
        )

    return trial_check(
        key,
        f"Every published slice of {table.dataset} still names keys its references hold "
        f"({', '.join(rules)}), against each reference's newest partition.",
        table.dataset,
        referential,
        None,
        True,
        judge,
    )


def _last(instance: DagsterInstance, key: AssetCheckKey) -> dict:
    """`by_rule` of the check's last evaluation ({} if none): the records come newest first,
    the run under way's own (planned, not yet evaluated) among them."""
    for record in instance.event_log_storage.get_asset_check_execution_history(key, limit=5):
        evaluation = record.event.asset_check_evaluation if record.event else None
        if evaluation is not None:
            found = evaluation.metadata.get("by_rule")
            return found.value if found is not None else {}
    return {}


def _lost(by_rule: dict) -> dict:
    """What an alert is about: per rule its orphans and their first keys."""
    return {name: (r["orphans"], r["orphan_keys"]) for name, r in by_rule.items() if r["orphans"]}


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
