"""Pipeline SLIs: do the runs that build a dataset succeed, how soon does a good run follow a
failed one, and how soon after its inputs are published does the run that builds it start.

Success (event-based, one event per run, at its end). From Dagster's records: the runs that
planned to materialize the dataset's asset (the event log's ASSET_MATERIALIZATION_PLANNED
events name them, whichever job, schedule, sensor or command launched them) and their run
records (`instance.get_run_records`): SUCCESS is good, FAILURE and CANCELED are bad, a run
still going is not judged. A failed run the dependency sensor launched with inputs missing
(`lake/missing_inputs`, on_timeout run_partial) names the first missing input as its cause.

Recovery (event-based, one event per failure episode: seed 003's mean time to recovery). From
the same runs: an episode opens at the end of a failed or canceled run and closes at the end of
the next successful one; it is good when it closed within `slo.threshold` seconds. An episode
still open is judged bad once the threshold has passed (at that instant), so an outage that
never recovers burns budget too.

Publish-to-downstream-run latency (event-based, one event per downstream run or open wait).
From the event store's data-ready events and the dependency sensor's runs of the dataset's
asset (tagged `lake/rule` and `lake/inputs`, the input versions each read): the run waited
from the first publish among the versions it read to its start (the run record's start
time); good within `slo.threshold` seconds. A wait the event store still holds open (a
pending rule, no run yet) is bad once the threshold passes. When the threshold was missed
because an input was published after it (or never), that input is named as the cause.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from lake_assets.events.rules import lookback_key
from lake_assets.runtime.run_tags import PARTITION_TAG
from lake_assets.slo.model import Events, Slo
from lake_assets.slo.slices import (
    Judged,
    SliUnavailable,
    count_judged,
    instant,
    late_upstream,
    parse_address,
)

if TYPE_CHECKING:
    from lake_assets.slo.records import LakeRecords

JUDGED_STATUSES = ("SUCCESS", "FAILURE", "CANCELED")
RULE_TAG, INPUTS_TAG, MISSING_TAG = "lake/rule", "lake/inputs", "lake/missing_inputs"
# A run is looked for from this long before the window: it may start in it, or end in it.
RUN_LEAD = timedelta(days=1)


# --- success: pure ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RunOutcome:
    run_id: str
    ended_at: datetime
    status: str  # a DagsterRunStatus value
    missing_inputs: tuple[str, ...] = ()


def success_judged(runs: Sequence[RunOutcome]) -> list[Judged]:
    return [
        Judged(
            r.ended_at,
            r.status == "SUCCESS",
            r.run_id,
            reason="" if r.status == "SUCCESS" else f"run {r.status.lower()}",
            upstream=r.missing_inputs[0] if r.missing_inputs and r.status != "SUCCESS" else None,
        )
        for r in runs
        if r.status in JUDGED_STATUSES
    ]


def recovery_judged(
    runs: Sequence[RunOutcome], threshold: timedelta, now: datetime
) -> list[Judged]:
    """One event per failure episode, in run order: good if a successful run ended within
    `threshold` of the first failure; an episode open at `now` is bad once it is overdue."""
    judged, failed = [], None
    for run in sorted((r for r in runs if r.status in JUDGED_STATUSES), key=lambda r: r.ended_at):
        if run.status != "SUCCESS":
            failed = failed or run
            continue
        if failed is not None:
            took = run.ended_at - failed.ended_at
            good = took <= threshold
            reason = "" if good else f"recovered after {_minutes(took)} (run {run.run_id})"
            judged.append(Judged(run.ended_at, good, failed.run_id, reason=reason))
            failed = None
    if failed is not None and now >= failed.ended_at + threshold:
        reason = f"not recovered within {_minutes(threshold)}"
        judged.append(Judged(failed.ended_at + threshold, False, failed.run_id, reason=reason))
    return judged


def _minutes(span: timedelta) -> str:
    return f"{span.total_seconds() / 60:.0f} min"


# --- publish-to-downstream-run latency: pure -------------------------------------------------


@dataclass(frozen=True)
class DownstreamWait:
    """A downstream run (or a wait for one) and the input versions it waited on."""

    what: str  # the run id, or "<rule>[<partition>]" for an open wait
    waiting_since: datetime  # the first publish among its inputs
    started_at: datetime | None  # None: not started yet
    inputs_published: Mapping[str, datetime | None] = field(default_factory=dict)


def pipeline_latency_judged(
    waits: Sequence[DownstreamWait], threshold: timedelta, now: datetime
) -> list[Judged]:
    """Good at its start when it started within `threshold` of its first input's publish; bad
    at that deadline when it started later or not at all by `now`; younger waits not judged."""
    judged = []
    for w in waits:
        due = w.waiting_since + threshold
        if w.started_at is not None and w.started_at <= due:
            judged.append(Judged(w.started_at, True, w.what))
        elif due <= (w.started_at or now):
            started = f"started {w.started_at:%F %T}Z" if w.started_at else "not started"
            reason = f"{started}; inputs began at {w.waiting_since:%F %T}Z (allowed {threshold})"
            # A lookback input is keyed `<dataset>[<day>]`: the cause is the dataset.
            late = late_upstream(due, w.inputs_published)
            upstream = (parse_address(late) or (late,))[0] if late else None
            judged.append(Judged(due, False, w.what, reason=reason, upstream=upstream))
    return judged


def parse_inputs(tag: str, partition: str) -> list[tuple[str, str, str]]:
    """(dataset, partition, content-hash prefix) of each input version a run's `lake/inputs`
    tag names: `<dataset>@<hash>` for the run's partition, `<dataset>[<day>]@<hash>` for a
    lookback (events/rules.lookback_key)."""
    found = []
    for entry in filter(None, tag.split(",")):
        name, _, digest = entry.rpartition("@")
        dataset, _, day = name.partition("[")
        found.append((dataset, day.rstrip("]") or partition, digest))
    return found


# --- readers ---------------------------------------------------------------------------------


def planned_runs(instance, asset_key, after: datetime, before: datetime) -> list[str]:
    """Run ids of the runs that planned to materialize `asset_key` between the two instants."""
    from dagster import DagsterEventType, EventRecordsFilter

    records = instance.event_log_storage.get_event_records(
        EventRecordsFilter(
            DagsterEventType.ASSET_MATERIALIZATION_PLANNED,
            asset_key=asset_key,
            after_timestamp=after.timestamp(),
            before_timestamp=before.timestamp(),
        )
    )
    return sorted({r.run_id for r in records})


def runs_by_id(instance, run_ids: Sequence[str]) -> list:
    from dagster import RunsFilter

    chunks = [run_ids[i : i + 500] for i in range(0, len(run_ids), 500)]
    return [r for c in chunks for r in instance.get_run_records(RunsFilter(run_ids=list(c)))]


def runs_of_rule(
    instance,
    rule: str,
    created_after: datetime | None,
    partitions: Sequence[str] | None = None,
    created_before: datetime | None = None,
) -> list:
    """The runs the dependency sensor launched for `rule` (its RunRequests' `lake/rule` tag),
    of `partitions` when named."""
    from dagster import RunsFilter

    tags = {RULE_TAG: rule} | ({PARTITION_TAG: list(partitions)} if partitions else {})
    found = RunsFilter(tags=tags, created_after=created_after, created_before=created_before)
    return list(instance.get_run_records(found))


def _tagged(run, tag: str) -> list[str]:
    return [v for v in run.tags.get(tag, "").split(",") if v]


def _at(timestamp: float | None) -> datetime | None:
    return datetime.fromtimestamp(timestamp, UTC) if timestamp is not None else None


def run_outcomes(
    records: LakeRecords, dataset: str, after: datetime, before: datetime
) -> list[RunOutcome]:
    """The runs that planned to build the dataset's asset between the two instants."""
    outcomes = []
    ran = planned_runs(records.instance, records.asset_key(dataset), after, before)
    for record in runs_by_id(records.instance, ran):
        run, ended = record.dagster_run, _at(record.end_time) or record.update_timestamp
        missing = tuple(_tagged(run, MISSING_TAG))
        outcomes.append(RunOutcome(run.run_id, ended.astimezone(UTC), run.status.value, missing))
    return outcomes


def success_of(
    slo: Slo, dataset: str, records: LakeRecords, start: datetime, end: datetime
) -> Events:
    outcomes = run_outcomes(records, dataset, start - RUN_LEAD, end)
    return count_judged(start, end, slo.cadence, success_judged(outcomes))


def recovery_of(
    slo: Slo, dataset: str, records: LakeRecords, start: datetime, end: datetime
) -> Events:
    # An episode judged in the window may have opened before it: look back one window more.
    outcomes = run_outcomes(records, dataset, start - (end - start) - RUN_LEAD, end)
    threshold = timedelta(seconds=slo.threshold)
    return count_judged(start, end, slo.cadence, recovery_judged(outcomes, threshold, end))


def _version_published(
    records: LakeRecords, dataset: str, partition: str, digest: str, before: datetime | None
) -> datetime | None:
    """When the version of (dataset, partition) whose content hash starts with `digest` was
    published: the latest such publish before the run started (content can come back)."""
    times = [
        instant(e.published_at)
        for e in records.data_ready.get((dataset, partition), [])
        if e.content_hash.startswith(digest)
    ]
    earlier = [t for t in times if before is None or t <= before]
    return max(earlier or times, default=None)


def pipeline_latency_of(
    slo: Slo, dataset: str, records: LakeRecords, start: datetime, end: datetime
) -> Events:
    if slo.threshold is None:
        raise SliUnavailable(f"SLO {slo.id}: a pipeline_latency SLO needs a threshold in seconds")
    target = records.target(dataset)
    rules = [r for r in records.rules if "/".join(r.target_path) == target]
    if not rules:
        raise SliUnavailable(
            f"SLO {slo.id}: no dependency rule (config/dependencies.yaml) runs {target}, so "
            "no run of it follows a publish"
        )
    waits = []
    for rule in rules:
        since = start - RUN_LEAD
        runs = runs_of_rule(records.instance, rule.name, since)
        # What the same partitions' runs before the range read, in one query: a re-run weeks
        # later for a republished input must not count its other inputs as new.
        partitions = sorted({r.dagster_run.tags.get(PARTITION_TAG, "") for r in runs})
        earlier = runs_of_rule(records.instance, rule.name, None, partitions, since) if runs else []
        read_before = {key for r in earlier for key in _versions_read(r.dagster_run)}
        for record in sorted(runs, key=lambda r: r.create_timestamp.timestamp()):
            waits += _run_wait(records, record, read_before)
        waits += _open_waits(records, rule)
    judged = pipeline_latency_judged(waits, timedelta(seconds=slo.threshold), end)
    return count_judged(start, end, slo.cadence, judged)


def _run_wait(records: LakeRecords, record, read_before: set) -> list[DownstreamWait]:
    """A sensor's run and the input versions it read (its tags), each with its publish time;
    the inputs it ran without (run_partial) as never published. It waited from the first
    publish among the versions no earlier run of its partition read (`read_before`, which it
    adds its own to), its own partition's before a lookback's: a run for a republished input
    waits from that publish, not from its other inputs' older ones, and a partition's first run
    not from the earlier days its lookback reads. A run that read nothing new (a retry) waited
    from its partition's first input's."""
    run, started = record.dagster_run, _at(record.start_time)
    read, new, own = {}, [], []
    for key in _versions_read(run):
        partition, d, p, digest = key
        name = d if p == partition else lookback_key(d, p)
        read[name] = _version_published(records, d, p, digest, started)
        if p == partition:
            own.append(name)
        if key not in read_before:
            read_before.add(key)
            new.append(name)
    since = [n for n in new if n in own] or new or own
    read |= dict.fromkeys(_tagged(run, MISSING_TAG))
    published = [read[n] for n in since if read[n] is not None] or [
        t for t in read.values() if t is not None
    ]
    return [DownstreamWait(run.run_id, min(published), started, read)] if published else []


def _versions_read(run) -> list[tuple[str, str, str, str]]:
    """(the run's partition, dataset, partition, content-hash prefix) of each version it read."""
    partition = run.tags.get(PARTITION_TAG, "")
    return [(partition, *found) for found in parse_inputs(run.tags.get(INPUTS_TAG, ""), partition)]


def _open_waits(records: LakeRecords, rule) -> list[DownstreamWait]:
    """The rule's partitions the event store still waits on, with what is ready of them."""
    waits = []
    for pending in records.events.pending():
        if pending.rule == rule.name:
            ready = {d: records.data_ready.get((d, pending.partition)) for d in rule.inputs}
            inputs = {d: instant(e[-1].published_at) if e else None for d, e in ready.items()}
            what = f"{rule.name}[{pending.partition}]"
            waits.append(DownstreamWait(what, pending.first_seen_at, None, inputs))
    return waits
