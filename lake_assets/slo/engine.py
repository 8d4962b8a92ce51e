"""The error-budget engine, pure (no Dagster, no I/O): good and total events in, budget left,
burn rates and the multi-window multi-burn-rate verdicts out.

- burn rate = error ratio / (1 - objective): 1x spends exactly the window's budget by its end.
- The conditions are the SRE Workbook's, plus Sloth's 3x: each spends a share of the budget in
  its long window (2% in 1 h, 5% in 6 h: a page; 10% in 1 d, 10% in 3 d: the digest), so the
  factor is share * window / long window: 14.4x, 6x, 3x, 1x for 30 days and 13.44x, 5.6x,
  2.8x, 0.933x for 28. A condition fires when both its long and its short window burn at
  least the factor: the long one says it matters, the short one that it is still happening.
- Batch pipelines yield an event per run: a window shorter than the SLO's cadence cannot hold
  one, so it is widened to the cadence; and a condition never fires on fewer than `min_events`
  events in its long window, so one failed run of a daily job does not page (Pyrra's
  complaint) — it spends budget, and a failure that persists spends it all: an incident.
- The budget is the window's: bad events against (1 - objective) of the events the window is
  expected to hold. A young SLO (events for less than a window) extrapolates its event rate
  over the whole window, so its first bad day costs what a bad day costs, not the whole budget.
  An SLI that judges a state once, at the evaluation, declares that its record covers the
  window (Events.record_from): its budget is the ratio itself.

Every count is an integer and every window sum a difference of cumulative integer sums, so the
series (burn_rate_series, budget_series: the dashboard and the benchmark) and a single
evaluation agree exactly.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from fractions import Fraction

import numpy as np

from lake_assets.slo.model import (
    EXHAUSTED,
    FAST_BURN,
    SLOW_BURN,
    BadEvent,
    BurnCondition,
    Events,
    Slo,
    SloState,
)

# (kind, share of the budget spent in the long window, long window, short window)
POLICY = (
    (FAST_BURN, Fraction(2, 100), timedelta(hours=1), timedelta(minutes=5)),
    (FAST_BURN, Fraction(5, 100), timedelta(hours=6), timedelta(minutes=30)),
    (SLOW_BURN, Fraction(10, 100), timedelta(days=1), timedelta(hours=2)),
    (SLOW_BURN, Fraction(10, 100), timedelta(days=3), timedelta(hours=6)),
)

# The error budget's share is 1 - objective, in binary floating point: 1 - 0.99 is
# 0.010000000000000009. A budget spent exactly, or a burn at exactly a condition's factor, comes
# out a hair short of the line; what is within this of it counts as on it.
ROUNDING = 1e-9


def label(window: timedelta) -> str:
    """ "5m", "1h", "1d": how windows are named in states, tables and charts."""
    seconds = int(window.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def burn_conditions(window: timedelta) -> tuple[BurnCondition, ...]:
    """The four conditions for an SLO window (28 or 30 days)."""
    return tuple(
        BurnCondition(
            name=f"{float(factor):g}x_{label(long)}_{label(short)}",
            kind=kind,
            factor=float(factor),
            long=long,
            short=short,
        )
        for kind, share, long, short in POLICY
        for factor in [share * Fraction(int(window.total_seconds()), int(long.total_seconds()))]
    )


def _slices(window: timedelta, slo: Slo, events: Events) -> int:
    """How many slices a window spans, widened to the cadence (and at least one slice)."""
    span = max(window, slo.cadence)
    return max(1, -(-int(span.total_seconds()) // int(events.step.total_seconds())))


def _cumulative(counts: np.ndarray) -> np.ndarray:
    return np.concatenate(([0], np.cumsum(counts, dtype=np.int64)))


class _Sums:
    """Window sums ending at any slice boundary, from cumulative sums."""

    def __init__(self, events: Events):
        self.good = _cumulative(events.good)
        self.total = _cumulative(events.total)
        # Where the SLO's record begins: the boundary the SLI declares (before the series
        # when its record is older), else that of the first slice holding an event.
        if events.record_from is not None:
            self.first = (events.record_from - events.start) // events.step
        else:
            nonzero = np.flatnonzero(events.total)
            self.first = int(nonzero[0]) if len(nonzero) else len(events.total)

    def over(self, ends: np.ndarray | int, width: int):
        """(bad, total) over the `width` slices before each boundary in `ends`."""
        starts = np.maximum(np.asarray(ends) - width, 0)
        total = self.total[ends] - self.total[starts]
        return total - (self.good[ends] - self.good[starts]), total


def _burn(bad, total, objective: float):
    """Burn rate: error ratio over the budget's share; 0 where the window holds no event."""
    bad, total = np.asarray(bad, dtype=np.float64), np.asarray(total, dtype=np.float64)
    ratio = np.divide(bad, total, out=np.zeros_like(bad), where=total > 0)
    return ratio / (1.0 - objective)


def _window_labels(slo: Slo) -> dict[str, timedelta]:
    windows = {}
    for condition in burn_conditions(slo.window):
        for window in (condition.short, condition.long):
            windows[label(window)] = window
    return dict(sorted(windows.items(), key=lambda item: item[1]))


def _budget_left(sums: _Sums, ends, slo: Slo, events: Events):
    """Share of the window's budget left at each boundary in `ends` (negative: overspent)."""
    width = _slices(slo.window, slo, events)
    bad, total = sums.over(ends, width)
    ends = np.asarray(ends)
    # Slices since the record began, within the window: at least one cadence's worth.
    covered = np.clip(ends - sums.first, _slices(slo.cadence, slo, events), width)
    expected = np.asarray(total, dtype=np.float64) * width / covered
    allowed = (1.0 - slo.objective) * expected
    spent = np.divide(
        np.asarray(bad, dtype=np.float64), allowed, out=np.zeros_like(expected), where=allowed > 0
    )
    return 1.0 - spent


def burn_rate_series(slo: Slo, events: Events) -> dict[str, np.ndarray]:
    """Label -> the burn rate over that window at the end of every slice."""
    sums, ends = _Sums(events), np.arange(1, len(events.total) + 1)
    return {
        name: _burn(*sums.over(ends, _slices(window, slo, events)), slo.objective)
        for name, window in _window_labels(slo).items()
    }


def budget_series(slo: Slo, events: Events) -> np.ndarray:
    """The share of the error budget left at the end of every slice."""
    return _budget_left(_Sums(events), np.arange(1, len(events.total) + 1), slo, events)


def _boundary(events: Events, at: datetime) -> int:
    """The slice boundary at or before `at`, within the series."""
    index = int((at - events.start) // events.step)
    return min(max(index, 0), len(events.total))


def evaluate(slo: Slo, events: Events, at: datetime) -> SloState:
    """The SLO at `at`: events over its window, budget left, burn rates, what fires."""
    sums, end = _Sums(events), _boundary(events, at)
    bad, total = sums.over(end, _slices(slo.window, slo, events))
    if total == 0:
        return no_data(slo, at)
    rates = {
        name: float(_burn(*sums.over(end, _slices(window, slo, events)), slo.objective))
        for name, window in _window_labels(slo).items()
    }
    firing = []
    for condition in burn_conditions(slo.window):
        long_bad, long_total = sums.over(end, _slices(condition.long, slo, events))
        if long_total < slo.min_events:
            continue  # too few events to tell a trend from one unlucky run
        if min(rates[label(condition.long)], rates[label(condition.short)]) >= (
            condition.factor - ROUNDING
        ):
            firing.append(condition)
    left = float(_budget_left(sums, end, slo, events))
    kinds = {c.kind for c in firing}
    status = (
        EXHAUSTED
        if left <= ROUNDING
        else FAST_BURN
        if FAST_BURN in kinds
        else SLOW_BURN
        if SLOW_BURN in kinds
        else "healthy"
    )
    return SloState(
        slo_id=slo.id,
        at=at,
        good=int(total - bad),
        total=int(total),
        budget_remaining=left,
        burn_rates=rates,
        firing=tuple(c.name for c in firing),
        status=status,
    )


def no_data(slo: Slo, at: datetime) -> SloState:
    """An SLO nothing measured in its window: no budget spent, nothing fires."""
    return SloState(slo_id=slo.id, at=at, good=0, total=0, budget_remaining=1.0, status="no_data")


def explain(slo: Slo, events: Events, at: datetime) -> list[BadEvent]:
    """The events that burned budget in the window before `at`, costliest first."""
    since = at - max(slo.window, slo.cadence)
    burned = [event for event in events.bad if since <= event.at < at]
    return sorted(burned, key=lambda e: (-e.weight, -e.at.timestamp(), e.what))
