"""Audit and publish: the last two steps of write-audit-publish, run by the orchestrator.

The job wrote each partition to a folder unique to its run. Here the result is audited (row
counts reconcile, the written schema is the registry's) and then each partition is published by
switching its catalog pointer. A run that dies before the switch leaves the old version in place.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime

from lake_assets.ingestion.promotion import PromotionResult, expected_schema
from lake_assets.ingestion.promotion_plan import PromotionPlan
from lake_assets.ingestion.raw_zone import RawFile
from lake_assets.tables.locations import (
    published_location,
    quarantine_location,
    written_quarantine_location,
)
from lake_assets.tables.publish import publish
from resources.catalog import PartitionCatalog, PublishedPartition
from resources.storage import LakeStorage


class AuditFailed(RuntimeError):
    """The written output does not reconcile; nothing of this run was published."""


class PartialPublish(RuntimeError):
    """Publishing stopped part-way through a range; names what was and was not published, and
    why (the cause's own message). Raised without chaining the cause: a failed step reports its
    innermost error (lake_assets/cli/runs.py), which would hide what was published. The cause
    is kept as `cause`: a transient one has the step tried again, which publishes the rest
    (runtime/retries.py)."""

    def __init__(
        self, dataset: str, published: list[str], failed: str, pending: list[str], error: Exception
    ):
        self.published, self.failed, self.pending = published, failed, pending
        self.cause = error
        super().__init__(
            f"{dataset}: published {published or 'no partitions'}; publishing {failed} failed "
            f"({error}); not published: {pending}. Re-run the range: publishing is idempotent."
        )


def expected_rows_read(plan: PromotionPlan, raw_files: Sequence[RawFile]) -> int:
    """What profiling counted in the plan's input files: parsed rows plus malformed lines."""
    inputs = set(plan.input_keys)
    return sum(r.row_count + r.malformed_rows for r in raw_files if r.key in inputs)


def audit(plan: PromotionPlan, result: PromotionResult, expected_read: int) -> list[str]:
    """Every reason the result must not be published; empty when it reconciles."""
    problems = []
    if result.rows_read != expected_read:
        problems.append(
            f"read {result.rows_read} rows from the input files, profiling counted {expected_read}"
        )
        problems += disagreeing_files(plan, result)
    profiled_malformed = sum(plan.malformed_profiled.values())
    # Files are compared where the job found the two sides apart (ADR-0185). Spark finding
    # more is safe: a record profiled as good, quarantined with its text.
    short = malformed_elsewhere(plan, result) if result.malformed_by_file else []
    if result.malformed_read < profiled_malformed or short:
        problems.append(
            f"Spark found {result.malformed_read} malformed records, profiling "
            f"{profiled_malformed}: a record profiling found malformed would be published"
        )
        problems += short
    written = result.partitions.values()
    for zone, observed, footers in (
        ("published", result.observed_published, sum(r.rows_published for r in written)),
        ("quarantined", result.observed_quarantined, sum(r.rows_quarantined for r in written)),
    ):
        if observed != footers:
            problems.append(
                f"Spark counted {observed} {zone} rows, the written files hold {footers}"
            )
    if result.written_schema and result.written_schema != expected_schema(plan):
        problems.append(
            f"written schema {result.written_schema} differs from the registry's {expected_schema(plan)}"
        )
    return problems


def disagreeing_files(plan: PromotionPlan, result: PromotionResult) -> list[str]:
    """One problem per raw file whose records Spark and profiling counted differently, with the
    command that lets the rest of its partitions publish."""
    return [
        f"{key}: Spark read {result.rows_read_by_file.get(key, 0)} records, profiling counted "
        f"{profiled} {_set_aside(plan, key)}"
        for group in plan.inputs
        for key, profiled in group.records.items()
        if result.rows_read_by_file and result.rows_read_by_file.get(key, 0) != profiled
    ]


def malformed_elsewhere(plan: PromotionPlan, result: PromotionResult) -> list[str]:
    """One problem per raw file in which Spark found fewer malformed records than profiling."""
    return [
        f"{key}: Spark found {result.malformed_by_file.get(key, 0)} malformed records, "
        f"profiling {profiled} {_set_aside(plan, key)}"
        for key, profiled in plan.malformed_profiled.items()
        if result.malformed_by_file.get(key, 0) < profiled
    ]


def _set_aside(plan: PromotionPlan, key: str) -> str:
    return f'(to publish without it: lake raw set-aside {plan.dataset} {key} --reason "...")'


def move_quarantine(storage: LakeStorage, plan: PromotionPlan, run_id: str) -> dict[str, str]:
    """Move rejected rows out of the run folder into the quarantine zone, which has its own
    access policy; returns partition -> quarantine location for partitions that have any."""
    moved = {}
    for partition in plan.partitions:
        written = written_quarantine_location(plan.dataset, run_id, partition)
        target = quarantine_location(plan.dataset, run_id, partition)
        for info in storage.list(written):
            storage.copy(info.key, target + info.key[len(written) :])
            moved[partition] = target
        storage.delete_prefix(written)
    return moved


def publish_partitions(
    catalog: PartitionCatalog,
    storage: LakeStorage,
    plan: PromotionPlan,
    result: PromotionResult,
    run_id: str,
    expected: Mapping[str, str],
    partitions: Sequence[str] | None = None,
    inputs: Mapping[str, Sequence[str]] | None = None,
    now: datetime | None = None,
    before_switch: Callable[[PublishedPartition], None] | None = None,
) -> list[PublishedPartition]:
    """Publish each partition (all of the plan's, or `partitions`) from this run's folder, in
    partition order, each refused if it moved from `expected` (partition -> the version read
    when the run was planned, tables.publish.version_of).

    The manifest records what the folder holds, so the folder exists (and says so) even for a
    partition whose every row was quarantined.
    """
    now = now or datetime.now(UTC)
    quarantined = move_quarantine(storage, plan, run_id)
    published: list[PublishedPartition] = []
    chosen = list(plan.partitions if partitions is None else partitions)
    for index, partition in enumerate(chosen):
        written = result.partitions[partition]
        entry = PublishedPartition(
            dataset=plan.dataset,
            partition=partition,
            location=published_location(plan.dataset, run_id, partition),
            run_id=run_id,
            published_at=now.isoformat(),
            row_count=written.rows_published,
            schema_version=plan.schema_version,
            columns=dict(plan.columns),
        )
        details = {
            "rows_quarantined": written.rows_quarantined,
            "quarantine_location": quarantined.get(partition),
            # The raw files this partition was built from (all the plan's, if not given).
            "inputs": list(inputs[partition]) if inputs else plan.input_keys,
        }
        try:
            publish(
                catalog, storage, entry, written.files, expected[partition], details, before_switch
            )
        except Exception as error:
            raise PartialPublish(
                plan.dataset,
                [p.partition for p in published],
                partition,
                chosen[index + 1 :],
                error,
            ) from None  # its message names the cause, and is what `lake` and Dagster show
        published.append(entry)
    return published
