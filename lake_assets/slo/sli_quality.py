"""Quality SLI: the share of partitions passing their checks, weighted by severity.

From Dagster's event log: the asset check evaluations on the dataset's asset
(`event_log_storage.get_asset_check_execution_history`), one per contract rule (the checks
contracts/checks.py declares, `check_name(rule)`) and partition a run promoted. Each evaluation
is an event in the slice it was recorded in, weighing its severity: a blocking check (action
fail, severity ERROR) weighs SEVERITY_WEIGHT["ERROR"], a warning WEIGHT["WARN"]. A failed
blocking check withholds the partition from every consumer; a failed warning publishes it with
its violations reported, an order of magnitude less harm, so it burns an order of magnitude
less budget. A rerun is a new evaluation: the failure it repairs stays burned.

A referential-integrity check that failed while its referenced dataset's partition was not yet
published (first publish after the evaluation, or never) names that dataset as the upstream
cause: the reference was late, not the data wrong.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from lake_assets.contracts.gate import check_name
from lake_assets.contracts.model import Contract, ReferentialIntegrity
from lake_assets.slo.model import Events, Slo
from lake_assets.slo.slices import Judged, SliUnavailable, count_judged

if TYPE_CHECKING:
    from lake_assets.slo.records import LakeRecords

SEVERITY_WEIGHT = {"ERROR": 10, "WARN": 1}
_PAGE = 500


@dataclass(frozen=True)
class CheckOutcome:
    """One evaluation of one check on one partition (None: an unpartitioned asset)."""

    at: datetime
    check: str
    partition: str | None
    passed: bool
    severity: str  # "ERROR" or "WARN", as Dagster's AssetCheckSeverity
    run_id: str = ""


def reference_blamed(
    contract: Contract, outcome: CheckOutcome, published: Mapping[str, Mapping[str, datetime]]
) -> str | None:
    """The referenced dataset of a failed referential-integrity check whose partition was not
    published when the check ran; `published` is dataset -> partition -> first publish."""
    if outcome.passed or outcome.partition is None:
        return None
    for rule in contract.rules_of("referential_integrity"):
        if check_name(rule) == outcome.check and isinstance(rule.check, ReferentialIntegrity):
            reference = rule.check.references.dataset
            at = published.get(reference, {}).get(outcome.partition)
            return reference if at is None or at > outcome.at else None
    return None


def quality_judged(
    dataset: str,
    outcomes: Sequence[CheckOutcome],
    blamed: Mapping[CheckOutcome, str] | None = None,
) -> list[Judged]:
    """Each outcome an event of its severity's weight; `blamed` names upstream causes."""
    blamed = blamed or {}
    return [
        Judged(
            o.at,
            o.passed,
            f"{dataset}/{o.partition}" if o.partition else dataset,
            SEVERITY_WEIGHT.get(o.severity, SEVERITY_WEIGHT["ERROR"]),
            "" if o.passed else f"check {o.check} failed ({o.severity}) in run {o.run_id}",
            blamed.get(o),
        )
        for o in outcomes
    ]


# --- reader ----------------------------------------------------------------------------------


def check_outcomes(
    instance, asset_key, checks: Sequence[str], start: datetime, end: datetime
) -> list[CheckOutcome]:
    """The evaluations of `checks` on `asset_key` recorded in [start, end), from the event log."""
    from dagster import AssetCheckKey

    outcomes = []
    for name in checks:
        key, cursor = AssetCheckKey(asset_key, name), None
        while True:
            page = instance.event_log_storage.get_asset_check_execution_history(
                key, limit=_PAGE, cursor=cursor
            )  # newest first
            for record in page:
                evaluation = record.event.asset_check_evaluation if record.event else None
                if evaluation is None:
                    continue  # planned, skipped or errored: no verdict on the data
                # The row is created when the check is planned; the verdict is the event's.
                at = datetime.fromtimestamp(record.event.timestamp, UTC)
                if start <= at < end:
                    outcomes.append(
                        CheckOutcome(
                            at,
                            name,
                            record.partition,
                            evaluation.passed,
                            evaluation.severity.value,
                            record.run_id,
                        )
                    )
            if len(page) < _PAGE or datetime.fromtimestamp(page[-1].create_timestamp, UTC) < start:
                break
            cursor = page[-1].id
    return sorted(outcomes, key=lambda o: (o.at, o.check, o.partition or ""))


def quality_of(
    slo: Slo, dataset: str, records: LakeRecords, start: datetime, end: datetime
) -> Events:
    contract = records.contracts.get(dataset)
    if contract is None or not contract.all_rules:
        raise SliUnavailable(f"SLO {slo.id}: {dataset} has no contract rules, so no checks")
    checks = [check_name(rule) for rule in contract.all_rules]
    outcomes = check_outcomes(records.instance, records.asset_key(dataset), checks, start, end)
    references = {r.check.references.dataset for r in contract.rules_of("referential_integrity")}
    published = {d: records.first_published(d) for d in references}
    blamed = {o: u for o in outcomes if (u := reference_blamed(contract, o, published))}
    return count_judged(start, end, slo.cadence, quality_judged(dataset, outcomes, blamed))
