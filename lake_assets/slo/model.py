"""Shared shapes of the SLOs (issue 17): what an SLO declares, the events an SLI yields, the
state an evaluation reaches and the incidents it opens. Plain data, no Dagster, no I/O: the
engine (engine.py), the SLIs (sli_*.py), the alerting (alerting.py), the dashboard and the
assets all speak these.

An SLI is a series of time slices, each with good and total events. A time-based SLI
(freshness: is the newest partition within its SLA?) yields one event per slice; an
event-based SLI (a run, a partition's checks) adds its events to the slice they fall in. Counts
are integers (a severity weight is an integer too), so every sum is exact and two computations
of the same burn rate agree to the bit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

# --- what an SLI measures --------------------------------------------------------------------
FRESHNESS = "freshness"  # share of time the newest partition is within its contract's SLA
LATENCY = "latency"  # share of arrivals curated within the threshold (event to curated)
QUALITY = "quality"  # share of partitions passing their blocking checks, weighted by severity
SUCCESS = "success"  # share of runs that succeeded
RECOVERY = "recovery"  # share of failures a successful run followed within the threshold (MTTR)
PIPELINE_LATENCY = "pipeline_latency"  # share of publishes whose downstream run started in time
COST = "cost"  # share of days the dataset's daily cost stays within its trend
COMPLETENESS = "completeness"  # share of columns classified above the threshold and owned
SLI_KINDS = (FRESHNESS, LATENCY, QUALITY, SUCCESS, RECOVERY, PIPELINE_LATENCY, COST, COMPLETENESS)

# --- what a burn is, and how loudly it is told -----------------------------------------------
FAST_BURN = "fast_burn"  # an immediate alert (a page)
SLOW_BURN = "slow_burn"  # a line in the weekly digest
EXHAUSTED = "exhausted"  # the budget is spent: an incident
KINDS = (FAST_BURN, SLOW_BURN, EXHAUSTED)
# How each kind reaches people; an SLO's tier may mute pages (best effort: digest only).
TIER_OF_KIND = {FAST_BURN: "alert", SLOW_BURN: "digest", EXHAUSTED: "incident"}

# Status of an SLO at an evaluation, worst first.
STATUSES = (EXHAUSTED, FAST_BURN, SLOW_BURN, "healthy", "no_data")

# --- the lake's tables of it (published through tables.publish like every table) -------------
SLI_DATASET = "slo_sli"  # per SLO and day: good, total
STATUS_DATASET = "slo_status"  # per SLO at each evaluation: budget, burn rates, status
BUDGET_DATASET = "slo_budget"  # per SLO and day: budget remaining (the burn-down)
INCIDENT_DATASET = "slo_incidents"  # every alert, digest entry and incident, open and closed
SLO_DATASETS = (SLI_DATASET, STATUS_DATASET, BUDGET_DATASET, INCIDENT_DATASET)
# The non-blocking check each dataset with an SLO carries (slo/assets.py).
SLO_CHECK = "slo"


@dataclass(frozen=True)
class Slo:
    """One objective, as config/slo/*.yaml declares it (validated by config.py)."""

    id: str  # unique across files, e.g. "card_transactions.freshness"
    datasets: tuple[str, ...]  # one dataset, or a group whose events are summed
    sli: str  # one of SLI_KINDS
    objective: float  # e.g. 0.99: the share of good events promised
    window: timedelta  # 28 or 30 days
    tier: str  # contracts.model.TIERS: the dataset's contract's, else its zone's
    cadence: timedelta  # one slice: a minute for time-based SLIs, a day for a daily batch
    min_events: int  # the low-event guard: fewer events in a long window never fire it
    owner: str
    threshold: float | None = None  # the SLI's own bound (seconds, growth ratio, confidence)
    description: str = ""
    source: str = ""  # the file that declared it, for errors and the dashboard

    @property
    def dataset(self) -> str:
        """The dataset the SLO is reported on (a group's first member names it)."""
        return self.datasets[0]


@dataclass(frozen=True)
class BadEvent:
    """One event that burned budget, for `lake slo explain` and an alert's cause: which run,
    partition or slice, and when an upstream dataset was late, that upstream."""

    at: datetime
    weight: int
    what: str  # run id, "dataset/partition", or the slice
    reason: str
    upstream: str | None = None  # the upstream dataset whose lateness caused it


@dataclass(frozen=True)
class Events:
    """Good and total events per slice of one SLI: slice i covers
    [start + i * step, start + (i + 1) * step), UTC."""

    start: datetime
    step: timedelta
    good: np.ndarray  # int64, one per slice
    total: np.ndarray  # int64, one per slice, >= good
    bad: tuple[BadEvent, ...] = ()
    # Where the SLI's record begins, when that is not the first slice holding an event: a state
    # judged once, at the evaluation (the catalog's completeness), stands for its whole window
    # and is not a young SLO's first day (engine._budget_left). None: the first such slice.
    record_from: datetime | None = None

    def __post_init__(self) -> None:
        if self.good.shape != self.total.shape:
            raise ValueError("good and total must have one count per slice")

    @property
    def end(self) -> datetime:
        return self.start + self.step * len(self.total)


@dataclass(frozen=True)
class BurnCondition:
    """A multi-window burn-rate condition: fires when the burn rate over both the long and
    the short window is at least `factor`."""

    name: str  # e.g. "14.4x_1h_5m"
    kind: str  # FAST_BURN or SLOW_BURN
    factor: float
    long: timedelta
    short: timedelta


@dataclass(frozen=True)
class SloState:
    """An SLO at one instant."""

    slo_id: str
    at: datetime
    good: int  # over the SLO's window
    total: int
    budget_remaining: float  # share of the window's error budget left; < 0 when overspent
    burn_rates: dict[str, float] = field(default_factory=dict)  # by window, e.g. {"1h": 2.0}
    firing: tuple[str, ...] = ()  # names of the BurnConditions that fire
    status: str = "healthy"  # one of STATUSES


@dataclass(frozen=True)
class Incident:
    """An alert, digest entry or incident: opened once when its condition starts, closed once
    when it clears; never re-notified while open."""

    slo_id: str
    kind: str  # one of KINDS
    opened_at: datetime
    closed_at: datetime | None = None
    cause: str | None = None  # the upstream dataset lineage blames, if any
    detail: dict = field(default_factory=dict)

    @property
    def open(self) -> bool:
        return self.closed_at is None
