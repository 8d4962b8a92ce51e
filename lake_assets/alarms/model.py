"""The metrics the alarms watch (their names are terraform/alarms.tf's), and how failed ticks
are counted between two looks."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lake_assets.ingestion.intake import ProfilingSummary

FAILED_RUNS = "FailedRuns"
FAILED_TICKS = "FailedSensorTicks"
SLO_BUDGET_ALERTS = "SloBudgetAlerts"
# Counted by profiling (the registry asset and `lake profile`), each with the alert it sends.
DEAD_LETTERED_PAYLOADS = "DeadLetteredPayloads"
SCHEMA_BREAKS = "SchemaBreaks"
METRICS = (FAILED_RUNS, FAILED_TICKS, SLO_BUDGET_ALERTS, DEAD_LETTERED_PAYLOADS, SCHEMA_BREAKS)


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


def profiling_counts(summary: ProfilingSummary) -> dict[str, int]:
    """What one profiling pass adds to the metrics: payloads dead-lettered, BREAKING versions
    registered. Only non-zero counts: no data is no failure to the alarms."""
    counts = {
        DEAD_LETTERED_PAYLOADS: summary.count("DEAD_LETTER"),
        SCHEMA_BREAKS: sum(1 for v in summary.new_versions if v.is_blocking),
    }
    return {name: n for name, n in counts.items() if n}
