"""Counting judged events into an SLO's time slices, and naming the upstream to blame. Pure:
every SLI (sli_*.py) reduces its records to one of two shapes and hands them here.

- Event-based (`Judged`): a run, a check of a partition, a payload, a day's cost, judged good
  or bad at one instant with an integer weight, counted in the slice that instant falls in.
- Time-based (`BadSpan`): spans of time during which the dataset was out of its SLA; each slice
  is one event, bad when any span overlaps it (a day at a daily cadence is bad if the dataset
  missed its SLA at any moment of it, a minute at a minute cadence likewise).

A BadEvent is told per judged event or per span, never per slice: a six-hour outage at a minute
cadence is one line in `lake slo explain`, weighing the 360 slices it burned.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from lake_assets.slo.model import BadEvent, Events

_ADDRESS = re.compile(r"^(?P<dataset>[^\[\]/]+)\[(?P<partition>[^\[\]]+)\]$")


class SliUnavailable(ValueError):
    """The lake keeps no record an SLO's SLI can be computed from (e.g. a freshness SLO on a
    dataset whose contract declares no freshness); the message says which and the fix."""


@dataclass(frozen=True)
class Judged:
    """One event an SLI judged: when its verdict became known, how much it weighs."""

    at: datetime
    good: bool
    what: str
    weight: int = 1
    reason: str = ""
    upstream: str | None = None


@dataclass(frozen=True)
class BadSpan:
    """[begins, ends): the dataset was out of its SLA; `what` names the partition or publish."""

    begins: datetime
    ends: datetime
    what: str
    reason: str
    upstream: str | None = None


def instant(text: str) -> datetime:
    """A stored ISO stamp as an aware UTC datetime (a naive stamp is UTC, as every store writes)."""
    at = datetime.fromisoformat(text)
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def slice_count(start: datetime, end: datetime, step: timedelta) -> int:
    """Slices covering [start, end); the last one may reach past `end`."""
    if step <= timedelta(0) or end < start:
        raise ValueError(f"no slices of {step} from {start} to {end}")
    return math.ceil((end - start) / step)


def no_events(start: datetime, end: datetime, step: timedelta) -> Events:
    n = slice_count(start, end, step)
    return Events(start, step, np.zeros(n, np.int64), np.zeros(n, np.int64))


def count_judged(
    start: datetime, end: datetime, step: timedelta, judged: Iterable[Judged]
) -> Events:
    """Each judged event in [start, end) added to its slice; the bad ones listed, in time order."""
    n = slice_count(start, end, step)
    good, total = np.zeros(n, np.int64), np.zeros(n, np.int64)
    bad = []
    for event in judged:
        if not start <= event.at < end:
            continue
        i = (event.at - start) // step
        total[i] += event.weight
        if event.good:
            good[i] += event.weight
        else:
            bad.append(BadEvent(event.at, event.weight, event.what, event.reason, event.upstream))
    return Events(start, step, good, total, tuple(sorted(bad, key=lambda b: (b.at, b.what))))


def judge_spans(
    start: datetime,
    end: datetime,
    step: timedelta,
    spans: Iterable[BadSpan],
    judged_from: datetime | None = None,
) -> Events:
    """One event per slice from the one holding `judged_from` (the first instant the SLA
    applies, e.g. the dataset's first publish) on: good unless a span overlaps the slice."""
    n = slice_count(start, end, step)
    total = np.zeros(n, np.int64)
    first = 0 if judged_from is None else min(n, max(0, (judged_from - start) // step))
    total[first:] = 1
    bad_slice = np.zeros(n, bool)
    bad = []
    for span in spans:
        begins, ends = max(span.begins, start), min(span.ends, end)
        if begins >= ends:
            continue
        i0 = max((begins - start) // step, first)
        i1 = min(math.ceil((ends - start) / step), n)
        if i0 >= i1:
            continue
        bad_slice[i0:i1] = True
        bad.append(BadEvent(begins, i1 - i0, span.what, span.reason, span.upstream))
    good = np.where(bad_slice, 0, total).astype(np.int64)
    return Events(start, step, good, total, tuple(sorted(bad, key=lambda b: (b.at, b.what))))


def summed(parts: list[Events]) -> Events:
    """A group's events: the members' counts added slice by slice, their bad events merged."""
    first = parts[0]
    return Events(
        first.start,
        first.step,
        np.sum([p.good for p in parts], axis=0).astype(np.int64),
        np.sum([p.total for p in parts], axis=0).astype(np.int64),
        tuple(sorted((b for p in parts for b in p.bad), key=lambda b: (b.at, b.what))),
        min((p.record_from for p in parts if p.record_from is not None), default=None),
    )


def late_upstream(
    due: datetime,
    upstream_ready: Mapping[str, datetime | None],
    built_at: datetime | None = None,
) -> str | None:
    """The upstream to blame for missing `due`: the one whose data came last, if it came after
    `due` (None: it never came). Had the dataset been built the instant that upstream was ready,
    it would still have been late, so the cause is the upstream's, not the dataset's own. With
    `built_at` (the dataset was built then, late), an upstream ready only after it, or never,
    did not hold it up and is not blamed."""
    late = {
        u: at
        for u, at in upstream_ready.items()
        if (at is None or at > due) and (built_at is None or (at is not None and at <= built_at))
    }
    if not late:
        return None
    never = sorted(u for u, at in late.items() if at is None)
    return never[0] if never else max(sorted(late), key=lambda u: late[u])


def parse_address(key: str) -> tuple[str, str] | None:
    """(dataset, partition) of a lineage address `<dataset>[<partition>]`; None for a file key."""
    match = _ADDRESS.match(key)
    return (match["dataset"], match["partition"]) if match else None
