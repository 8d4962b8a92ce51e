"""Contracts in the asset graph: one asset check per rule on the curated asset, partitioned
like it, with one result per partition a run promoted.

Rules whose action is `fail` are blocking checks, so nothing downstream runs after a failing
partition; every result reports the partition's violating rows, not only pass or fail.
"""

from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    MetadataValue,
    PartitionsDefinition,
    ResourceParam,
    TableColumn,
    TableRecord,
    TableSchema,
    asset_check,
)

from lake_assets.contracts.gate import PartitionVerdict, check_name, describe_outcomes
from lake_assets.contracts.model import Contract
from lake_assets.contracts.verdicts import (
    deadline_verdict,
    describe_rule,
    partition_deadline,
    rule_test,
)
from lake_assets.ingestion.checks import partitioned_check_spec
from lake_assets.ingestion.promotion_plan import Reference
from lake_assets.tables.reader import published_uris
from resources.catalog import PartitionCatalog
from resources.storage import LakeStorage


def contract_check_specs(
    asset_key: AssetKey, contract: Contract | None, partitions_def: PartitionsDefinition
) -> list[AssetCheckSpec]:
    """One check per rule, partitioned like the asset; `fail` rules block."""
    if contract is None:
        return []
    return [
        partitioned_check_spec(
            check_name(rule),
            asset_key,
            partitions_def,
            blocking=rule.action == "fail",
            description=describe_rule(rule, contract),
        )
        for rule in contract.all_rules
    ]


VIOLATIONS_TABLE = TableSchema(
    columns=[
        TableColumn("partition", "string"),
        TableColumn("rule", "string"),
        TableColumn("columns", "string"),
        TableColumn("test", "string", description="the column and threshold checked"),
        TableColumn("violating_rows", "int"),
        TableColumn("phase", "string", description="enforced, grace or observing"),
        TableColumn("action", "string", description="fail, drop or warn"),
        TableColumn("blocks_publish", "bool"),
    ]
)
MISSING_KEYS_TABLE = TableSchema(
    columns=[
        TableColumn("partition", "string"),
        TableColumn("deleted_since_previous_snapshot", "int"),
        TableColumn("never_seen", "int"),
    ]
)


def contract_check_results(
    contract: Contract,
    verdicts: dict[str, PartitionVerdict],
    missing_keys: dict[str, dict[str, dict[str, int]]],
    samples: dict[str, dict[str, list[dict]]],
) -> Iterator[tuple[str, AssetCheckResult]]:
    """One result per rule and partition, `(partition, result)`; `missing_keys` classifies
    referential orphans per partition, `samples` holds a few violating rows of each. A `fail`
    rule fails where it blocks the publish (not in a grace window or while a volume rule
    observes); other rules fail where rows violate them."""
    for rule in contract.all_rules:
        for partition, verdict in verdicts.items():
            outcome = verdict.rules[rule.name]
            row = {
                "partition": partition,
                "rule": rule.name,
                "columns": ", ".join(rule.columns),
                "test": rule_test(rule),
                "violating_rows": outcome.violations,
                "phase": outcome.phase,
                "action": rule.action,
                "blocks_publish": outcome.blocks,
            }
            metadata = {
                "violating_rows": outcome.violations,
                "phase": outcome.phase,
                "action": rule.action,
                "violations": MetadataValue.table([TableRecord(row)], schema=VIOLATIONS_TABLE),
            }
            if outcome.detail:
                metadata["detail"] = outcome.detail
            rows = samples.get(partition, {}).get(rule.name)
            if rows:
                metadata["violation_samples"] = MetadataValue.table(
                    [TableRecord(r) for r in rows],
                    schema=TableSchema(columns=[TableColumn(c, "string") for c in rows[0]]),
                )
            keys = missing_keys.get(rule.name, {}).get(partition)
            if keys:
                metadata["missing_keys"] = MetadataValue.table(
                    [TableRecord({"partition": partition, **keys})], schema=MISSING_KEYS_TABLE
                )
            passed = not (outcome.blocks if rule.action == "fail" else outcome.violations)
            yield (
                partition,
                AssetCheckResult(
                    check_name=check_name(rule),
                    passed=passed,
                    severity=(
                        AssetCheckSeverity.ERROR
                        if rule.action == "fail"
                        else AssetCheckSeverity.WARN
                    ),
                    description=describe_outcomes(rule, {partition: outcome}),
                    metadata=metadata,
                ),
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
            versions={p.partition: p.run_id for p in published if p.partition in partitions},
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
