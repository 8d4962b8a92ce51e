"""The metrics the alarms watch (their names are terraform/alarms.tf's), and how failed ticks
are counted between two looks."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

FAILED_RUNS = "FailedRuns"
FAILED_TICKS = "FailedSensorTicks"
SLO_BUDGET_ALERTS = "SloBudgetAlerts"
METRICS = (FAILED_RUNS, FAILED_TICKS, SLO_BUDGET_ALERTS)


@dataclass(frozen=True)
class TickSeen:
    instigator: str  # the sensor's or schedule's name
    timestamp: float
    failed: bool


def failures_since(ticks: Iterable[TickSeen], since: float) -> tuple[int, float, list[str]]:
    """Failed ticks after `since`, the newest timestamp seen (the next `since`), and the
    instigators that failed. A tick is counted once: the next look starts after it."""
    ticks = [t for t in ticks if t.timestamp > since]
    failed = [t for t in ticks if t.failed]
    newest = max((t.timestamp for t in ticks), default=since)
    return len(failed), newest, sorted({t.instigator for t in failed})
