"""The SLO tables an evaluation publishes to the lake, queryable like any table (Athena on
`aws`, `lake query` locally): per SLO and day its good and total events (`slo_sli`) and the
budget left at the day's end (`slo_budget`, the burn-down); per SLO its state at the
evaluation (`slo_status`); and every incident, open and closed (`slo_incidents`). Each is one
partition per evaluation day, replaced by the day's later evaluations (tables.publish_table).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa

from lake_assets.slo import engine
from lake_assets.slo.model import (
    BUDGET_DATASET,
    INCIDENT_DATASET,
    SLI_DATASET,
    STATUS_DATASET,
    Incident,
)
from lake_assets.tables.locations import published_location
from lake_assets.tables.publish import publish_table


def _days(start: datetime, step: timedelta, slices: int) -> np.ndarray:
    """The UTC day ("YYYY-MM-DD") each slice starts in."""
    starts = np.datetime64(start.replace(tzinfo=None), "s") + np.arange(slices) * np.timedelta64(
        int(step.total_seconds()), "s"
    )
    return starts.astype("datetime64[D]").astype(str)


def daily_rows(measured: Sequence) -> tuple[dict, dict]:
    """The `slo_sli` and `slo_budget` columns: per SLO and day, events summed and the budget
    left at the day's last slice."""
    sli: dict[str, list] = {k: [] for k in ("slo_id", "dataset", "sli", "day", "good", "total")}
    budget: dict[str, list] = {k: [] for k in ("slo_id", "day", "budget_remaining")}
    for m in measured:
        if m.events is None or not len(m.events.total):
            continue
        events = m.events
        days = _days(events.start, events.step, len(events.total))
        unique, first = np.unique(days, return_index=True)
        good = np.add.reduceat(events.good, first)
        total = np.add.reduceat(events.total, first)
        left = engine.budget_series(m.slo, events)
        last = np.append(first[1:], len(days)) - 1
        for i, day in enumerate(unique):
            sli["slo_id"].append(m.slo.id)
            sli["dataset"].append(m.slo.dataset)
            sli["sli"].append(m.slo.sli)
            sli["day"].append(str(day))
            sli["good"].append(int(good[i]))
            sli["total"].append(int(total[i]))
            budget["slo_id"].append(m.slo.id)
            budget["day"].append(str(day))
            budget["budget_remaining"].append(float(left[last[i]]))
    return sli, budget


def status_rows(measured: Sequence, at: datetime) -> dict:
    rows: dict[str, list] = {
        k: []
        for k in (
            "slo_id", "datasets", "sli", "tier", "objective", "window_days", "evaluated_at",
            "good", "total", "budget_remaining", "burn_rates", "firing", "status", "unavailable",
        )
    }  # fmt: skip
    for m in measured:
        slo, state = m.slo, m.state
        rows["slo_id"].append(slo.id)
        rows["datasets"].append(",".join(slo.datasets))
        rows["sli"].append(slo.sli)
        rows["tier"].append(slo.tier)
        rows["objective"].append(slo.objective)
        rows["window_days"].append(slo.window.days)
        rows["evaluated_at"].append(at.isoformat())
        rows["good"].append(state.good)
        rows["total"].append(state.total)
        rows["budget_remaining"].append(float(state.budget_remaining))
        rows["burn_rates"].append(sorted(state.burn_rates.items()))
        rows["firing"].append(",".join(state.firing))
        rows["status"].append(state.status)
        rows["unavailable"].append(m.unavailable)
    return rows


def incident_rows(incidents: Sequence[Incident]) -> dict:
    return {
        "slo_id": [i.slo_id for i in incidents],
        "kind": [i.kind for i in incidents],
        "opened_at": [i.opened_at.isoformat() for i in incidents],
        "closed_at": [i.closed_at.isoformat() if i.closed_at else None for i in incidents],
        "cause": [i.cause for i in incidents],
        "detail": [json.dumps(i.detail, sort_keys=True, default=str) for i in incidents],
    }


SCHEMAS = {
    SLI_DATASET: pa.schema(
        [("slo_id", pa.string()), ("dataset", pa.string()), ("sli", pa.string()),
         ("day", pa.string()), ("good", pa.int64()), ("total", pa.int64())]
    ),
    BUDGET_DATASET: pa.schema(
        [("slo_id", pa.string()), ("day", pa.string()), ("budget_remaining", pa.float64())]
    ),
    STATUS_DATASET: pa.schema(
        [("slo_id", pa.string()), ("datasets", pa.string()), ("sli", pa.string()),
         ("tier", pa.string()), ("objective", pa.float64()), ("window_days", pa.int64()),
         ("evaluated_at", pa.string()), ("good", pa.int64()), ("total", pa.int64()),
         ("budget_remaining", pa.float64()), ("burn_rates", pa.map_(pa.string(), pa.float64())),
         ("firing", pa.string()), ("status", pa.string()), ("unavailable", pa.string())]
    ),
    INCIDENT_DATASET: pa.schema(
        [("slo_id", pa.string()), ("kind", pa.string()), ("opened_at", pa.string()),
         ("closed_at", pa.string()), ("cause", pa.string()), ("detail", pa.string())]
    ),
}  # fmt: skip


def publish_tables(catalog, storage, measured, incidents, at: datetime, run_id: str) -> tuple:
    """Publish the four tables as the evaluation day's partitions."""
    day = at.date().isoformat()
    sli, budget = daily_rows(measured)
    columns = {
        SLI_DATASET: sli,
        BUDGET_DATASET: budget,
        STATUS_DATASET: status_rows(measured, at),
        INCIDENT_DATASET: incident_rows(incidents),
    }
    return tuple(
        publish_table(
            catalog,
            storage,
            dataset,
            day,
            published_location(dataset, run_id, day),
            pa.table(columns[dataset], schema=SCHEMAS[dataset]),
            run_id,
            {"evaluated_at": at.isoformat()},
        )
        for dataset in SCHEMAS
    )
