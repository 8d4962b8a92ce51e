"""Freshness SLIs: is the newest partition within its contract's SLA, and how long a payload
takes from landing to curated.

Freshness (time-based, one event per slice). From the catalog's publish times per partition
(PartitionCatalog.partitions) and the event store's data-ready events (the first publish of
each partition: the catalog keeps only the latest version, and a republish of a late-arrival
window must not make an on-time partition look late), against the contract's Freshness:
- deadline_hours: at each instant the newest due partition D (its deadline, end of day D plus
  the hours, has passed) must be published. D is judged by contracts/verdicts.deadline_verdict,
  as the contract's `partition_deadline` check judges it; a late or overdue D makes the span
  from its deadline to its publish (or to the next partition's deadline, when D stops being
  the newest) bad.
- max_staleness_hours: the newest publish may be at most this old (verdicts.staleness_verdict);
  the span from a publish's expiry to the next publish is bad.
A slice is bad if any bad span overlaps it. A late partition whose upstream's same partition
was itself published after the deadline (and before this one; or never, if this one is
overdue) names that upstream (slices.late_upstream).

Latency (event-based, one event per payload). From the raw-file index (RawFile.landed_at, when
each payload reached the raw zone: what the arrival feed reported and the sensor indexed) and
the lineage store (the first completed run that read the payload) with the event store (when
that run published the source's partitions): good when curated within `slo.threshold` seconds
of landing, judged when it is curated; bad once the threshold passes uncurated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from lake_assets.contracts.verdicts import (
    deadline_verdict,
    partition_deadline,
    staleness_verdict,
)
from lake_assets.slo.model import Events, Slo
from lake_assets.slo.slices import (
    BadSpan,
    Judged,
    SliUnavailable,
    count_judged,
    instant,
    judge_spans,
    late_upstream,
)

if TYPE_CHECKING:
    from lake_assets.slo.records import LakeRecords

PROFILED = "PROFILED"  # the raw-file index's status of a payload promotion will curate


def _day(partition: str) -> date | None:
    try:
        return date.fromisoformat(partition)
    except ValueError:
        return None


# --- freshness: pure -------------------------------------------------------------------------


def deadline_spans(
    dataset: str,
    first_published: Mapping[str, datetime],
    deadline_hours: float,
    start: datetime,
    end: datetime,
    upstream_published: Mapping[str, Mapping[str, datetime]] | None = None,
) -> list[BadSpan]:
    """Spans in [start, end) when the newest due daily partition was not yet published."""
    days = sorted(d for d in map(_day, first_published) if d is not None)
    if not days:
        return []
    upstream_published = upstream_published or {}
    day = max(days[0], (start - timedelta(hours=deadline_hours, days=2)).date())
    spans = []
    while (due := partition_deadline(day, deadline_hours)) < end:
        published = first_published.get(day.isoformat())
        if published is not None and published > end:
            published = None  # not yet, as of the evaluation
        verdict = deadline_verdict(day, published, end, deadline_hours)
        if not verdict.passed:
            newest_until = partition_deadline(day + timedelta(days=1), deadline_hours)
            ready = {
                u: parts.get(day.isoformat())
                for u, parts in upstream_published.items()
                if any(_day(p) for p in parts)  # a daily upstream: its same day fed this one
            }
            spans.append(
                BadSpan(
                    due,
                    min(published or end, newest_until, end),
                    f"{dataset}/{day}",
                    f"{verdict.status}: {verdict.detail}",
                    late_upstream(due, ready, published),
                )
            )
        day += timedelta(days=1)
    return spans


def staleness_spans(
    dataset: str, publishes: Sequence[datetime], max_staleness_hours: float, end: datetime
) -> list[BadSpan]:
    """Spans when the newest publish (any partition) was older than the allowed staleness."""
    allowed = timedelta(hours=max_staleness_hours)
    spans = []
    times = sorted(t for t in publishes if t <= end)  # later ones are not known at `end`
    for this, after in zip(times, [*times[1:], end][: len(times)], strict=True):
        if this + allowed < after:
            verdict = staleness_verdict(this, after, max_staleness_hours)
            spans.append(
                BadSpan(
                    this + allowed,
                    after,
                    f"{dataset} after {this:%F %T}Z",
                    f"{verdict.status}: {verdict.detail}",
                )
            )
    return spans


def freshness_events(
    dataset: str,
    start: datetime,
    end: datetime,
    step: timedelta,
    first_published: Mapping[str, datetime],
    publishes: Sequence[datetime],
    deadline_hours: float | None,
    max_staleness_hours: float | None,
    upstream_published: Mapping[str, Mapping[str, datetime]] | None = None,
) -> Events:
    """One event per slice from the dataset's first publish on, bad when the newest partition
    was overdue or the newest publish stale at any moment of the slice."""
    spans: list[BadSpan] = []
    if deadline_hours is not None:
        spans += deadline_spans(
            dataset, first_published, deadline_hours, start, end, upstream_published
        )
    if max_staleness_hours is not None:
        spans += staleness_spans(dataset, publishes, max_staleness_hours, end)
    return judge_spans(start, end, step, spans, min(publishes, default=end))


# --- latency: pure ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Payload:
    key: str
    landed_at: datetime
    curated_at: datetime | None  # the first publish of a run that read it; None: not yet


def latency_judged(
    payloads: Sequence[Payload], threshold: timedelta, now: datetime
) -> list[Judged]:
    """Good at its curation when within `threshold` of landing; bad at landing + threshold when
    curated later or not at all by `now`; a payload still inside its threshold is not judged."""
    judged = []
    for p in payloads:
        due = p.landed_at + threshold
        if p.curated_at is not None and p.curated_at <= due:
            judged.append(Judged(p.curated_at, True, p.key))
        elif due <= (p.curated_at or now):
            took = (
                f"curated {(p.curated_at - p.landed_at) / timedelta(minutes=1):.0f} min after"
                if p.curated_at
                else "not curated"
            )
            reason = f"{took} landing at {p.landed_at:%F %T}Z (allowed {threshold})"
            judged.append(Judged(due, False, p.key, reason=reason))
    return judged


# --- readers ---------------------------------------------------------------------------------


def freshness_of(
    slo: Slo, dataset: str, records: LakeRecords, start: datetime, end: datetime
) -> Events:
    contract = records.contracts.get(dataset)
    sla = contract.freshness if contract else None
    if sla is None or (sla.deadline_hours is None and sla.max_staleness_hours is None):
        raise SliUnavailable(
            f"SLO {slo.id}: {dataset} has no freshness SLA to measure; declare "
            "freshness.deadline_hours or max_staleness_hours in its contract"
        )
    return freshness_events(
        dataset,
        start,
        end,
        slo.cadence,
        records.first_published(dataset),
        records.publish_times(dataset),
        sla.deadline_hours,
        sla.max_staleness_hours,
        {u: records.first_published(u) for u in records.upstreams(dataset)},
    )


def latency_of(
    slo: Slo, dataset: str, records: LakeRecords, start: datetime, end: datetime
) -> Events:
    if slo.threshold is None:
        raise SliUnavailable(f"SLO {slo.id}: a latency SLO needs a threshold in seconds")
    if dataset not in records.sources:
        raise SliUnavailable(
            f"SLO {slo.id}: latency is measured from a source's payloads; {dataset} is no source"
        )
    published_by_run: dict[str, datetime] = {}
    for (name, _), events in records.data_ready.items():
        for event in events if name == dataset else ():
            at = instant(event.published_at)
            published_by_run[event.run_id] = min(published_by_run.get(event.run_id, at), at)
    payloads = []
    for raw in records.registry.raw_files(dataset):
        if raw.status != PROFILED or raw.landed_at is None or instant(raw.landed_at) >= end:
            continue
        runs = records.readers_of(raw.key)
        published = [published_by_run[r.run_id] for r in runs if r.run_id in published_by_run]
        ended = [instant(r.ended_at) for r in runs if r.ended_at]
        curated = published[0] if published else (ended[0] if ended else None)
        payloads.append(Payload(raw.key, instant(raw.landed_at), curated))
    judged = latency_judged(payloads, timedelta(seconds=slo.threshold), end)
    return count_judged(start, end, slo.cadence, judged)
