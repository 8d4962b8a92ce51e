"""One evaluation of every SLO, shared by the `slo` job, its checks and `lake slo`: the
declared SLOs (config/slo/), their events read from the lake's own records (records.py), each
SLO's state (engine.py), the alerting tiers advanced from the state the last evaluation left
(alerting.py; kept as one JSON object in the lake, `_state/slo/alerting.json`, so every
orchestrator process sees what is open), the alerts sent through the notifier, the SLI, status,
budget and incident tables published to the lake, and the dashboard (dashboard.py) published
at site/slo/index.html. Dagster-free but for the instance it is handed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from lake_assets.alarms.model import SLO_BUDGET_ALERTS
from lake_assets.contracts.model import lake_contracts
from lake_assets.history.apply import history_dataset
from lake_assets.marts.columns import MART_DATASET
from lake_assets.settings import Settings
from lake_assets.slo import alerting, engine
from lake_assets.slo.config import load_slos, load_tiers, tiers_file
from lake_assets.slo.dashboard import Panel, render_dashboard
from lake_assets.slo.model import EXHAUSTED, FAST_BURN, Events, Incident, Slo, SloState
from lake_assets.slo.records import LakeRecords
from lake_assets.slo.site import publish_dashboard
from lake_assets.slo.sli import events_for
from lake_assets.slo.slices import SliUnavailable
from lake_assets.slo.tables import publish_tables
from resources.notifier import Alert

STATE_KEY = "_state/slo/alerting.json"
# Closed incidents the dashboard still shows, newest first.
RECENTLY_CLOSED = timedelta(days=7)


@dataclass(frozen=True)
class Measured:
    """One SLO at the evaluation: its events over its window (None: nothing measures it, and
    `unavailable` says why) and its state."""

    slo: Slo
    events: Events | None
    state: SloState
    unavailable: str = ""


@dataclass(frozen=True)
class Evaluation:
    at: datetime
    measured: tuple[Measured, ...]
    incidents: tuple[Incident, ...]  # every incident the state keeps, open and closed
    sent: tuple[Alert, ...]
    published: tuple[Any, ...]  # the PublishedPartitions of the SLO tables
    dashboard: str  # the lake key of the page

    def by_dataset(self) -> dict[str, list[Measured]]:
        """Dataset -> the SLOs reported on it (a group's SLO on each of its datasets)."""
        found: dict[str, list[Measured]] = {}
        for measured in self.measured:
            for dataset in measured.slo.datasets:
                found.setdefault(dataset, []).append(measured)
        return found


def lake_datasets(settings: Settings) -> list[str]:
    """Every table the lake publishes that consumers read: the sources, their histories, the
    mart and the derived layers."""
    from lake_assets.layers.definitions import DERIVED_TABLES

    sources = list(settings.sources)
    return [
        *sources,
        *(history_dataset(s) for s in sources),
        MART_DATASET,
        *(table.dataset for table in DERIVED_TABLES),
    ]


def lake_slos(settings: Settings) -> tuple[Slo, ...]:
    """The lake's declared SLOs, validated against its contracts and tables."""
    return load_slos(lake_contracts(settings), lake_datasets(settings), settings.slo_dir)


def lake_records(settings: Settings, resources: Mapping[str, Any], instance) -> LakeRecords:
    from lake_assets.graph import lake_rules  # the asset graph's modules: not on import

    contracts = lake_contracts(settings)
    return LakeRecords.from_resources(
        resources, instance, contracts, lake_rules(settings, contracts)
    )


def measure(slo: Slo, records: LakeRecords, at: datetime) -> Measured:
    """The SLO's events over its window before `at`, and its state at `at`."""
    try:
        events = events_for(slo, records, at - slo.window, at)
    except SliUnavailable as error:
        return Measured(slo, None, engine.no_data(slo, at), str(error))
    return Measured(slo, events, engine.evaluate(slo, events, at))


def read_state(storage) -> dict:
    try:
        return json.loads(storage.get_bytes(STATE_KEY))
    except FileNotFoundError:
        return {}


def evaluate_lake(
    settings: Settings,
    resources: Mapping[str, Any],
    instance,
    at: datetime,
    run_id: str,
    slos: Sequence[Slo] | None = None,
    live: bool = True,
) -> Evaluation:
    """Evaluate every SLO at `at`: states, tables and, `live`, alerts sent and the dashboard
    published. Alerts are sent before the state is kept: a crash in between sends one again
    rather than never. An evaluation of a past day (a backfill of its partition, not `live`)
    publishes that day's tables as of its end and alerts nothing: the alerting state follows
    the present, and replaying history must not re-open what was closed."""
    storage, notifier = resources["storage"], resources["notifier"]
    slos = tuple(slos if slos is not None else lake_slos(settings))
    records = lake_records(settings, resources, instance)
    measured = tuple(measure(slo, records, at) for slo in slos)
    if not live:
        incidents = alerting.incidents_of(read_state(storage))
        published = publish_tables(resources["catalog"], storage, measured, incidents, at, run_id)
        return Evaluation(at, measured, incidents, (), published, "")
    tiers = load_tiers(tiers_file(settings.slo_dir)).tiers
    advanced = alerting.advance(
        read_state(storage),
        [(m.slo, m.state, m.events) for m in measured],
        at,
        {name: frozenset(tier.immediate) for name, tier in tiers.items()},
    )
    for alert in advanced.alerts:
        notifier.send(alert)
    # The budget-burn alarm's metric: counted while an SLO burns fast or has spent its budget
    # (no data point otherwise, which the alarm reads as not breaching).
    if burning := sum(m.state.status in (FAST_BURN, EXHAUSTED) for m in measured):
        resources["metrics"].count(SLO_BUDGET_ALERTS, burning)
    storage.put_bytes(STATE_KEY, json.dumps(advanced.state, indent=1, sort_keys=True).encode())
    incidents = tuple(advanced.incidents)
    published = publish_tables(resources["catalog"], storage, measured, incidents, at, run_id)
    html = render_dashboard(
        [panel_of(m) for m in measured if m.events is not None],
        [i for i in incidents if i.open or i.closed_at >= at - RECENTLY_CLOSED],
        at,
    )
    page = publish_dashboard(html, storage)
    return Evaluation(at, measured, incidents, tuple(advanced.alerts), published, page.key)


def panel_of(measured: Measured) -> Panel:
    slo, events = measured.slo, measured.events
    return Panel(
        slo=slo,
        state=measured.state,
        start=events.start,
        step=events.step,
        budget=engine.budget_series(slo, events),
        burn_rates=engine.burn_rate_series(slo, events),
    )
