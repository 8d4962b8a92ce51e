"""`lake slo status [--json]` and `lake slo explain SLO`: every SLO measured now from the
lake's records (nothing sent, nothing published: the `slo` job does that), with the incidents
the last evaluation left open; and which events burned one SLO's budget."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from lake_assets.settings import Settings

ResourcesFor = Callable[[Settings], Any]
EXPLAINED = 20  # the costliest events `explain` lists


def _measure_all(settings: Settings, resources, at: datetime, only: str | None = None):
    from lake_assets.cli.runs import dagster_instance
    from lake_assets.slo.service import lake_records, lake_slos, measure

    slos = lake_slos(settings)
    if only is not None:
        slos = tuple(s for s in slos if s.id == only)
        if not slos:
            known = ", ".join(s.id for s in lake_slos(settings))
            raise LookupError(f"no SLO {only!r} in config/slo/ (known: {known})")
    records = lake_records(settings, resources, dagster_instance())
    return [measure(slo, records, at) for slo in slos]


def status_document(measured, incidents, at: datetime) -> dict:
    return {
        "evaluated_at": at.isoformat(),
        "slos": [
            {
                "id": m.slo.id,
                "datasets": list(m.slo.datasets),
                "sli": m.slo.sli,
                "tier": m.slo.tier,
                "objective": m.slo.objective,
                "window_days": m.slo.window.days,
                "good": m.state.good,
                "total": m.state.total,
                "budget_remaining": m.state.budget_remaining,
                "burn_rates": m.state.burn_rates,
                "firing": list(m.state.firing),
                "status": m.state.status,
                **({"unavailable": m.unavailable} if m.unavailable else {}),
            }
            for m in measured
        ],
        "open_incidents": [
            {
                "slo": i.slo_id,
                "kind": i.kind,
                "opened_at": i.opened_at.isoformat(),
                "cause": i.cause,
            }
            for i in incidents
            if i.open
        ],
    }


def add_slo_commands(subparsers: Any, resources_for: ResourcesFor) -> None:
    def status(args: argparse.Namespace, settings: Settings) -> int:
        from lake_assets.slo import alerting
        from lake_assets.slo.service import read_state

        resources, at = resources_for(settings), datetime.now(UTC)
        measured = _measure_all(settings, resources, at)
        incidents = alerting.incidents_of(read_state(resources["storage"]))
        document = status_document(measured, incidents, at)
        if args.json:
            print(json.dumps(document, indent=2, default=str))
            return 0
        width = max([len(m.slo.id) for m in measured] + [3])
        print(f"SLOs at {at:%Y-%m-%d %H:%M}Z")
        for m in measured:
            rates = " ".join(f"{k}={v:.1f}x" for k, v in sorted(m.state.burn_rates.items()))
            print(
                f"  {m.slo.id:<{width}}  {m.slo.tier:<11} {m.slo.objective:>8.3%}  "
                f"budget {m.state.budget_remaining:>7.1%}  {m.state.status:<9} {rates}"
                + (f"  ({m.unavailable})" if m.unavailable else "")
            )
        for item in document["open_incidents"]:
            cause = f", caused by {item['cause']}" if item["cause"] else ""
            print(f"  open: {item['kind']} on {item['slo']} since {item['opened_at']}{cause}")
        return 0

    def explain(args: argparse.Namespace, settings: Settings) -> int:
        from lake_assets.slo import engine

        at = datetime.now(UTC)
        (measured,) = _measure_all(settings, resources_for(settings), at, only=args.slo)
        slo, state = measured.slo, measured.state
        print(
            f"{slo.id}: {slo.sli} of {', '.join(slo.datasets)}, objective {slo.objective:.3%} "
            f"over {slo.window.days} days ({slo.tier})"
        )
        if measured.events is None:
            print(f"  not measured: {measured.unavailable}")
            return 0
        print(
            f"  {state.good} good of {state.total}; budget left {state.budget_remaining:.1%}; "
            f"status {state.status}"
        )
        burned = engine.explain(slo, measured.events, at)
        if not burned:
            print("  nothing burned the budget in the window")
        for event in burned[:EXPLAINED]:
            upstream = f" (upstream {event.upstream} late)" if event.upstream else ""
            print(f"  {event.at:%Y-%m-%d %H:%M}Z  x{event.weight:<5} {event.what}: "
                  f"{event.reason}{upstream}")  # fmt: skip
        if len(burned) > EXPLAINED:
            print(f"  ... and {len(burned) - EXPLAINED} more")
        return 0

    slo = subparsers.add_parser(
        "slo", help="service level objectives: error budgets, burn rates, what burned them"
    ).add_subparsers(dest="slo_command", required=True)
    p = slo.add_parser("status", help="every SLO now: budget left, burn rates, open incidents")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=status)
    p = slo.add_parser("explain", help="which events burned an SLO's error budget")
    p.add_argument("slo", help="the SLO's id (lake slo status lists them)")
    p.set_defaults(run=explain)
