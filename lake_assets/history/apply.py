"""Applying published snapshots to a source's history, and reading it: the orchestrator's side.

Dagster-free: the asset and `lake` call `apply_snapshots` and `history_as_of` with `run`, a
runner bound to where they run (`run(job, plan) -> result`). The orchestrator plans (the ledger,
the snapshots' fingerprints, which snapshot and history files to read, resolved through the
catalog as URIs, the merge spec and the run folder); the Spark job (jobs.py) merges and writes
the version into the run folder; the orchestrator audits its result and publishes. The history
is one table, published like a curated partition (a folder per version, a catalog pointer
switched in one step), so a reader sees the old or the new history, never a half-merged one;
the switch is then committed with the instant that is the apply's transaction time
(transactions.py). Its manifest carries the ledger of applied snapshots, so the ledger and the
history can never disagree. Two applies racing each other are caught by the catalog's
optimistic check; the loser re-plans against the winner's history and runs the job again.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from lake_assets.history.ledger import (
    ApplyPlan,
    OutOfOrderSnapshot,
    plan_apply,
    snapshot_fingerprint,
)
from lake_assets.history.transactions import (
    Clock,
    commit,
    commit_instants,
    committed_version,
    uncommitted,
)
from lake_assets.instants import format_instant, utc_now
from lake_assets.runtime.jobs import RunJob
from lake_assets.runtime.rows import take_rows
from lake_assets.settings import SourceConfig
from lake_assets.tables.locations import query_output_prefix, run_output_prefix
from lake_assets.tables.manifest import read_manifest
from lake_assets.tables.publish import publish, version_of
from lake_assets.tables.reader import published_uris, resolve_published
from resources.catalog import PartitionCatalog, PublishedPartition, StalePublish
from resources.storage import LakeStorage

if TYPE_CHECKING:  # a point query plans here without importing PySpark
    from pyspark.sql import DataFrame, SparkSession

# The history is one table: a single catalog entry whose pointer names its current version.
WHOLE_TABLE = "all"


class AmbiguousSnapshot(ValueError):
    """A snapshot holds several different rows for one key and no sequence orders them."""


def history_dataset(source_id: str) -> str:
    return f"{source_id}_history"


@dataclass
class HistoryApplied:
    """What one apply did; `published` is None when there was nothing to change."""

    dataset: str
    plan: ApplyPlan
    published: PublishedPartition | None = None
    rows: int = 0
    recorded: int = 0  # rows recorded at this transaction time
    superseded: int = 0  # rows this apply superseded
    attempts: int = 1
    # The interval check of the version written (merge.overlapping_versions); None if none was.
    overlapping_versions: int | None = None

    def summary(self) -> str:
        plan = self.plan
        if self.published is None:
            return (
                f"{self.dataset}: nothing to apply (unchanged: {', '.join(plan.unchanged) or '-'})"
            )
        return (
            f"{self.dataset}: applied {', '.join(plan.dates)} from {plan.recompute_from}; "
            f"{self.recorded} rows recorded, {self.superseded} superseded, {self.rows} in total"
        )


def resolve_history(
    catalog: PartitionCatalog, storage: LakeStorage, source_id: str, clock: Clock = utc_now
) -> dict:
    """The committed current version of a source's history as a job reads it (jobs.read_history):
    its files as URIs and the commit instants of the applies its rows name. JSON-able. A reader
    asking "as known now" takes its now before calling this (ADR-0039)."""
    published = committed_version(catalog, history_dataset(source_id), WHOLE_TABLE, clock)
    if published is None:
        raise LookupError(
            f"{history_dataset(source_id)}: no history yet; materialize history/{source_id} "
            "for at least one snapshot date"
        )
    return {
        "uris": published_uris(storage, published),
        "instants": commit_instants(storage, published),
    }


def current_history(
    spark: SparkSession,
    catalog: PartitionCatalog,
    storage: LakeStorage,
    source_id: str,
    clock: Clock = utc_now,
) -> DataFrame:
    """The current version of a source's history table, with transaction times, on a local
    session."""
    from lake_assets.history.jobs import read_history

    return read_history(spark, resolve_history(catalog, storage, source_id, clock))


def as_of_plan(
    catalog: PartitionCatalog,
    storage: LakeStorage,
    source: SourceConfig,
    valid_at: date | str,
    known_at: datetime | str,
    keys: Mapping[str, str] | None = None,
) -> dict:
    """What a point query reads (the `history_as_of` job, or point_query.as_of_rows in this
    process): the committed current version, the date, the instant (instants.parse_instant:
    naive is UTC) and the keys; and the folder of its own where the job writes its rows. Take
    `known_at` before calling: the history is resolved after."""
    dataset = history_dataset(source.source_id)
    return {
        "history": resolve_history(catalog, storage, source.source_id),
        "valid_at": str(valid_at),
        "known_at": format_instant(known_at),
        "keys": dict(keys or {}),
        "order_by": list(source.history.keys),
        "output_uri": storage.uri(query_output_prefix(dataset, uuid.uuid4().hex)),
    }


def history_as_of(
    run: RunJob,
    catalog: PartitionCatalog,
    storage: LakeStorage,
    source: SourceConfig,
    valid_at: date | str,
    known_at: datetime | str,
    keys: Mapping[str, str] | None = None,
) -> list[dict]:
    """What was true on `valid_at`, as the platform believed it at `known_at` (merge.as_of), as
    rows ordered by the history's keys, run by the `history_as_of` job. Take `known_at` before
    calling: the history is resolved after it."""
    return as_of_by_job(
        run, storage, as_of_plan(catalog, storage, source, valid_at, known_at, keys)
    )


def as_of_by_job(run: RunJob, storage: LakeStorage, plan: dict) -> list[dict]:
    """The rows of an as-of `plan` (as_of_plan), answered by the `history_as_of` job: it writes
    them to the plan's folder, read back here through `storage` (rows.take_rows)."""
    return take_rows(storage, run("history_as_of", plan))


def snapshot_fingerprints(
    catalog: PartitionCatalog, storage: LakeStorage, source_id: str, dates: Sequence[str]
) -> dict[str, str]:
    fingerprints = {}
    for day in dates:
        published = catalog.current(source_id, day)
        if published is None:
            raise LookupError(
                f"{source_id}[{day}]: no published snapshot (not promoted yet, or blocked by its "
                "contract); the history can only apply published snapshots"
            )
        fingerprints[day] = snapshot_fingerprint(read_manifest(storage, published))
    return fingerprints


@dataclass(frozen=True)
class PlannedApply:
    """A plan with what it was made against: the history version, its ledger and the incoming
    snapshots' fingerprints."""

    plan: ApplyPlan
    current: PublishedPartition | None
    ledger: dict
    incoming: dict[str, str]


def plan_snapshots(
    catalog: PartitionCatalog,
    storage: LakeStorage,
    source: SourceConfig,
    dates: Sequence[str],
    clock: Clock = utc_now,
) -> PlannedApply:
    """What applying `dates` would do to the current history (which snapshots it reads)."""
    if source.history is None:
        raise ValueError(
            f"{source.source_id}: no history declared in pipelines/{source.source_id}.yaml"
        )
    current = committed_version(catalog, history_dataset(source.source_id), WHOLE_TABLE, clock)
    ledger = read_manifest(storage, current)["applied"] if current else {}
    applied = {day: entry["fingerprint"] for day, entry in ledger.items()}
    incoming = snapshot_fingerprints(catalog, storage, source.source_id, dates)
    plan = plan_apply(applied, incoming, source.history.out_of_order)
    return PlannedApply(plan, current, ledger, incoming)


def apply_snapshots(
    run: RunJob,
    catalog: PartitionCatalog,
    storage: LakeStorage,
    source: SourceConfig,
    dates: Sequence[str],
    run_id: str,
    clock: Clock = utc_now,
    attempts: int = 3,
    log: Callable[[str], None] = print,
    planned: PlannedApply | None = None,
) -> HistoryApplied:
    """Apply the published snapshots of `dates` to the source's history, merging them with the
    `history_apply` job through `run`; `planned`, if the caller already planned them, is the
    first attempt's plan (a retry plans again and runs the job again). `clock` gives the commit
    instant, read after the new version is switched in.

    Raises OutOfOrderSnapshot, after applying whatever else was accepted, when a late snapshot
    meets the `reject` policy; the caller alerts.
    """
    dataset = history_dataset(source.source_id)
    for attempt in range(1, attempts + 1):
        if planned is None or attempt > 1:
            planned = plan_snapshots(catalog, storage, source, dates, clock)
        plan, ledger = planned.plan, planned.ledger
        for note in plan.notes:
            log(f"{dataset}: {note}")
        if plan.is_noop:
            result = HistoryApplied(dataset, plan, attempts=attempt)
            break
        try:
            result = _merge_and_publish(
                run, catalog, storage, source, planned, run_id, attempt, clock
            )
            break
        except StalePublish as race:
            log(f"{dataset}: another apply published first ({race}); re-planning")
    else:
        raise StalePublish(f"{dataset}: {attempts} attempts lost the race to other applies")
    if plan.rejected:
        raise OutOfOrderSnapshot(source.source_id, list(plan.rejected), max(ledger))
    return result


def merge_plan(
    catalog: PartitionCatalog,
    storage: LakeStorage,
    source: SourceConfig,
    planned: PlannedApply,
    transaction: str,
    location: str,
) -> dict:
    """The `history_apply` job's plan: every snapshot from the first changed date on as
    published now (one republished meanwhile, a correction not yet applied, is absorbed here
    too), the current version's files, how the snapshot's columns take part, and the folder to
    write."""
    from lake_assets.history.merge import history_spec

    snapshots = resolve_published(catalog, storage, source.source_id, list(planned.plan.dates))
    spec = history_spec(source.history, list(snapshots["columns"]), source.event_time_field)
    current = planned.current
    return {
        "snapshots": snapshots,
        "dates": list(planned.plan.dates),
        "history": published_uris(storage, current) if current else None,
        "spec": asdict(spec),
        "transaction": transaction,
        "output_uri": storage.uri(location),
    }


def _merge_and_publish(
    run: RunJob,
    catalog: PartitionCatalog,
    storage: LakeStorage,
    source: SourceConfig,
    planned: PlannedApply,
    run_id: str,
    attempt: int,
    clock: Clock,
) -> HistoryApplied:
    dataset = history_dataset(source.source_id)
    plan, current, ledger = planned.plan, planned.current, planned.ledger
    # A try of its own: a step retried in the same run (ADR-0156) after this try wrote its
    # folder must not meet that folder again.
    try_id = f"{attempt}-{uuid.uuid4().hex[:8]}"
    transaction, started = f"{run_id}/{try_id}", clock().isoformat()
    earlier = [day for day in plan.dates if day not in planned.incoming]
    fingerprints = {
        **planned.incoming,
        **snapshot_fingerprints(catalog, storage, source.source_id, earlier),
    }
    location = f"{run_output_prefix(dataset, run_id)}version={try_id}/"
    try:
        job_plan = merge_plan(catalog, storage, source, planned, transaction, location)
        merged = run("history_apply", job_plan)
        counts, ambiguous = merged["counts"], merged["ambiguous"]
        if ambiguous["rows"]:
            raise AmbiguousSnapshot(_ambiguity_report(ambiguous, source))
        entry = PublishedPartition(
            dataset=dataset,
            partition=WHOLE_TABLE,
            location=location,
            run_id=transaction,
            published_at=started,  # until committed: then the instant it became visible
            row_count=counts["rows"],
            schema_version=current.schema_version if current else "history-v1",
            columns=merged["columns"],
        )
        applied_now = {
            day: {"fingerprint": fingerprints[day], "applied_at": started, "run_id": run_id}
            for day in plan.dates
        }
        switched = uncommitted(entry)
        details = {
            # The manifest names the transaction; the catalog's copy carries the uncommitted mark
            # until `commit` stamps it.
            "run_id": entry.run_id,
            "applied": {**ledger, **applied_now},
            "recompute_from": plan.recompute_from,
            "recorded": counts["recorded"],
            "superseded": counts["superseded"],
            "notes": plan.notes,
            # Commit instants of the applies whose ids the rows carry; this one's is in the catalog.
            "transactions": commit_instants(storage, current) if current else {},
        }
        # The manifest lists the job's files, so readers read this version's files and nothing else.
        publish(catalog, storage, switched, merged["files"], version_of(current), details)
    except Exception:
        # A folder the catalog does not point at is one no reader resolves: a try that failed
        # before its switch (the job, an ambiguity, a lost race, a busy catalog) leaves nothing.
        now_current = catalog.current(dataset, WHOLE_TABLE)
        if now_current is None or now_current.location != location:
            storage.delete_prefix(location)
        raise
    committed = commit(catalog, switched, clock) or _as_committed(catalog, entry)
    return HistoryApplied(
        dataset,
        plan,
        published=committed,
        rows=counts["rows"],
        recorded=counts["recorded"],
        superseded=counts["superseded"],
        attempts=attempt,
        overlapping_versions=merged["overlapping_versions"],
    )


def _as_committed(catalog: PartitionCatalog, entry: PublishedPartition) -> PublishedPartition:
    """Our version as a reader committed it before we could; if a newer version already
    replaced it, ours as switched in."""
    current = catalog.current(entry.dataset, entry.partition)
    return current if current is not None and current.run_id == entry.run_id else entry


def _ambiguity_report(ambiguous: dict, source: SourceConfig) -> str:
    """What the job found ambiguous (jobs._duplicated_keys), as the fix the user must make."""
    examples = "; ".join(
        f"{e['date']} "
        + ", ".join(f"{k}={v}" for k, v in e["key"].items())
        + f" ({e['rows']} rows)"
        for e in ambiguous["examples"]
    )
    sequence = source.history.sequence_field
    if sequence is None:
        unordered = "no history.sequence_field orders them"
        fix = "Declare the column that orders same-day changes as history.sequence_field."
    else:
        unordered = f"the same {sequence}, so nothing orders them"
        fix = f"Correct the snapshot so that {sequence} orders each key's changes."
    return (
        f"{source.source_id}: {ambiguous['rows']} rows share a key within one snapshot with "
        f"different values and {unordered}, e.g. {examples}. Nothing was applied. {fix}"
    )
