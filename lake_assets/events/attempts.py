"""What the Dagster instance recorded of a partition's last runs: when the steps that last
materialized it started (the dependency sensor's "already settled" test), which of the runs the
sensor requested it has (ADR-0155) and what its last materialization said of its contract (the
layers' gate, the referential recheck: ADR-0132)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import NamedTuple

from dagster import (
    AssetKey,
    AssetRecordsFilter,
    DagsterEventType,
    DagsterInstance,
    DagsterRunStatus,
    RunsFilter,
)
from dagster._core.storage.tags import RUN_KEY_TAG

from lake_assets.contracts.gate import AWAITING, CHECKED_AGAINST
from resources.catalog import PartitionCatalog

# A layer's materialization metadata: when the build of its partition began (ADR-0202).
BUILD_STARTED_AT = "build_started_at"


def last_build_start(
    instance: DagsterInstance, keys: Sequence[AssetKey], partition: str
) -> datetime | None:
    """When the earliest of the builds that last materialized each of `keys` for `partition`
    started: the partition's own build where its materialization says (a layer's), else its
    step's, else its run's; None if one of them never was.

    The step, not the run: a layer's run builds its tables in order (facts, then the KPIs read
    from them), so the KPIs' step starts after the facts it reads were published, while the run
    started before (ADR-0168). The partition, not the step: a range builds its days in order,
    and a state's day reads the base its step published earlier (ADR-0202). A build reads what
    it reads after it starts."""
    starts = []
    for key in keys:
        records = instance.fetch_materializations(
            AssetRecordsFilter(asset_key=key, asset_partitions=[partition]), limit=1
        ).records
        if not records:
            return None
        recorded = records[0].asset_materialization.metadata.get(BUILD_STARTED_AT)
        if recorded is not None and recorded.value:
            starts.append(datetime.fromisoformat(recorded.value).timestamp())
            continue
        started = _step_start(instance, records[0].run_id, records[0].event_log_entry.step_key)
        if started is None:
            run = instance.get_run_record_by_id(records[0].run_id)
            if run is None or run.start_time is None:
                return None
            started = run.start_time
        starts.append(started)
    return datetime.fromtimestamp(min(starts), UTC)


def _step_start(instance: DagsterInstance, run_id: str, step_key: str | None) -> float | None:
    """When step `step_key` of run `run_id` started (its last start, if it was retried)."""
    if step_key is None:
        return None
    started = instance.get_records_for_run(
        run_id, of_type=DagsterEventType.STEP_START, ascending=False
    ).records
    return next(
        (r.event_log_entry.timestamp for r in started if r.event_log_entry.step_key == step_key),
        None,
    )


def launched_run_keys(instance: DagsterInstance, run_keys: Iterable[str]) -> frozenset[str]:
    """The run keys among `run_keys` that Dagster has launched a run for: one tagged with the
    key that has left NOT_STARTED. A run the daemon created and never submitted does not count:
    requesting its key again is what makes the daemon submit it."""
    keys = sorted(set(run_keys))
    if not keys:
        return frozenset()
    # One query for all of them: a tag filter with several values matches any.
    runs = instance.get_runs(RunsFilter(tags={RUN_KEY_TAG: keys}))
    return frozenset(
        run.tags[RUN_KEY_TAG] for run in runs if run.status != DagsterRunStatus.NOT_STARTED
    ) & frozenset(keys)


# How a run ends that planned a partition and never materialized it.
ENDED_UNMATERIALIZED = (DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED)


class Attempt(NamedTuple):
    """The last attempt at one partition of an asset: the rules its newest materialization
    named as holding it back (`blocked_by`) and as awaiting their reference (AWAITING), and
    whether a failure to materialize came after it."""

    blocked: tuple[str, ...]
    awaiting: tuple[str, ...]
    failed: bool
    checked_against: dict[str, str]  # referenced dataset -> the run of the version checked


def last_attempt(instance: DagsterInstance, key: AssetKey, partition: str) -> Attempt:
    where = AssetRecordsFilter(asset_key=key, asset_partitions=[partition])
    done = instance.fetch_materializations(where, limit=1).records
    metadata = done[0].asset_materialization.metadata if done else {}

    def named(entry: str) -> tuple[str, ...]:
        return tuple(metadata[entry].value) if entry in metadata else ()

    # A run plans the partition's materialization when it starts; a run that failed (or was
    # canceled) after planning one, and planned it after the last materialization, is a failed
    # attempt. Dagster's "failed to materialize" events are not written by the open-source
    # executor of 1.13 (nothing emits them), so they cannot say it.
    planned = instance.get_latest_planned_materialization_info(key, partition)
    failed = False
    if planned is not None and (not done or planned.storage_id > done[0].storage_id):
        run = instance.get_run_record_by_id(planned.run_id)
        failed = run is not None and run.dagster_run.status in ENDED_UNMATERIALIZED
    checked = metadata[CHECKED_AGAINST].value if CHECKED_AGAINST in metadata else {}
    return Attempt(named("blocked_by"), named(AWAITING), failed, dict(checked))


def recheck_due(
    instance: DagsterInstance,
    catalog: PartitionCatalog,
    keys: Sequence[AssetKey],
    references: Sequence[str],
    partition: str,
) -> bool:
    """Whether the last materialization of `partition` of any of `keys` left its referential
    rules waiting for a reference, or checked them against a version of one of `references`
    that is no longer the published one (a snapshot re-delivered without a customer)."""
    for key in keys:
        attempt = last_attempt(instance, key, partition)
        if attempt.awaiting:
            return True
        for dataset in set(references) & attempt.checked_against.keys():
            current = catalog.current(dataset, partition)
            if current is not None and current.run_id != attempt.checked_against[dataset]:
                return True
    return False
