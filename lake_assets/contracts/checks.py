"""Contracts in the asset graph: one asset check per rule on the curated asset.

Rules whose action is `fail` are blocking checks, so nothing downstream runs after a failing
partition; every check reports the violating rows of each partition, not only pass or fail.
"""

from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    MetadataValue,
    ResourceParam,
    asset_check,
)

from lake_assets.contracts.gate import PartitionVerdict, check_name, describe_outcomes
from lake_assets.contracts.model import Contract
from lake_assets.contracts.verdicts import deadline_verdict, partition_deadline
from lake_assets.ingestion.promotion_plan import Reference
from lake_assets.tables.reader import published_uris
from resources.catalog import PartitionCatalog
from resources.storage import LakeStorage


def contract_check_specs(asset_key: AssetKey, contract: Contract | None) -> list[AssetCheckSpec]:
    if contract is None:
        return []
    return [
        AssetCheckSpec(
            check_name(rule),
            asset=asset_key,
            blocking=rule.action == "fail",
            description=f"{rule.kind} ({rule.severity}, {rule.action}): contract v{contract.version}",
        )
        for rule in contract.all_rules
    ]


def contract_check_results(
    asset_key: AssetKey,
    contract: Contract,
    verdicts: dict[str, PartitionVerdict],
    missing_keys: dict[str, dict[str, dict[str, int]]],
) -> Iterator[AssetCheckResult]:
    """One result per rule; `missing_keys` classifies referential orphans per partition."""
    for rule in contract.all_rules:
        outcomes = {p: v.rules[rule.name] for p, v in verdicts.items()}
        violated = {p: o.violations for p, o in outcomes.items() if o.violations}
        blocked = sorted(p for p, o in outcomes.items() if o.blocks)
        yield AssetCheckResult(
            asset_key=asset_key,
            check_name=check_name(rule),
            passed=not (blocked if rule.action == "fail" else violated),
            severity=AssetCheckSeverity.ERROR if rule.action == "fail" else AssetCheckSeverity.WARN,
            description=describe_outcomes(rule, outcomes),
            metadata={
                "violating_rows": sum(violated.values()),
                "violating_rows_by_partition": MetadataValue.json(violated),
                "partitions_blocked": MetadataValue.json(blocked),
                "phase_by_partition": MetadataValue.json({p: o.phase for p, o in outcomes.items()}),
                "detail": MetadataValue.json(
                    {p: o.detail for p, o in outcomes.items() if o.detail}
                ),
                "missing_keys_by_partition": MetadataValue.json(missing_keys.get(rule.name, {})),
                "action": rule.action,
            },
        )


def referenced_partitions(
    contract: Contract, partitions: Sequence[str], catalog: PartitionCatalog, storage: LakeStorage
) -> dict[str, Reference]:
    """For each referential rule, the files of the referenced dataset's published versions of
    `partitions` and of the day before the first (as their manifests list them): the previous
    snapshot tells a deleted key from one that never existed."""
    before = (date.fromisoformat(min(partitions)) - timedelta(days=1)).isoformat()
    references = {}
    for rule in contract.rules_of("referential_integrity"):
        dataset = rule.check.references.dataset
        published = [catalog.current(dataset, p) for p in (before, *partitions)]
        published = [p for p in published if p is not None]
        references[rule.name] = Reference(
            dataset=dataset,
            uris=tuple(uri for p in published for uri in published_uris(storage, p)),
            columns={rule.check.references.column: "string"},
        )
    return references


def reference_publish_times(
    contract: Contract, partitions: Sequence[str], catalog: PartitionCatalog
) -> dict[tuple[str, str], datetime | None]:
    times = {}
    for rule in contract.rules_of("referential_integrity"):
        for partition in partitions:
            published = catalog.current(rule.check.references.dataset, partition)
            times[(rule.name, partition)] = (
                datetime.fromisoformat(published.published_at) if published else None
            )
    return times


def latest_due_partition(now: datetime, deadline_hours: float) -> date:
    """The newest daily partition whose deadline has passed at `now`."""
    day = now.date()
    while partition_deadline(day, deadline_hours) > now:
        day -= timedelta(days=1)
    return day


DEADLINE_CHECK = "partition_deadline"


def build_deadline_check(dataset: str, asset_key: AssetKey, contract: Contract | None):
    """A check that the newest partition past its deadline was published by then (the
    contract's freshness SLA per daily partition); None without a deadline."""
    hours = contract.freshness.deadline_hours if contract and contract.freshness else None
    if hours is None:
        return None

    @asset_check(
        asset=asset_key,
        name=DEADLINE_CHECK,
        description=f"Each daily partition is published by the end of its day plus {hours} h.",
    )
    def partition_deadline_check(catalog: ResourceParam[PartitionCatalog]) -> AssetCheckResult:
        now = datetime.now(UTC)
        day = latest_due_partition(now, hours)
        published = catalog.current(dataset, day.isoformat())
        verdict = deadline_verdict(
            day, datetime.fromisoformat(published.published_at) if published else None, now, hours
        )
        return AssetCheckResult(
            passed=verdict.passed,
            severity=AssetCheckSeverity.WARN,
            description=f"{day}: {verdict.status}, {verdict.detail}",
            metadata={
                "partition": day.isoformat(),
                "status": verdict.status,
                "due": verdict.due.isoformat(),
            },
        )

    return partition_deadline_check
