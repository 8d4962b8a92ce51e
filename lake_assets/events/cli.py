"""`lake events dead-letters`, `lake events replay ID` and `lake events drain`."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from lake_assets.events.model import load_rules
from lake_assets.settings import Settings

ResourcesFor = Callable[[Settings], dict[str, Any]]


def add_event_commands(subparsers: Any, resources_for: ResourcesFor) -> None:
    """Register the `events` command group; `resources_for(settings)["events"]` is the store."""

    def dead_letters(args: argparse.Namespace, settings: Settings) -> int:
        records = resources_for(settings)["events"].dead_letters(include_resolved=args.all)
        if args.json:
            print(json.dumps([asdict(r) for r in records], indent=2))
            return 0
        if not records:
            print("no dead letters")
        for r in records:
            state = f"resolved {r.resolved_at}" if r.resolved_at else "open"
            print(
                f"{r.id}  {r.rule}[{r.partition}]  missing {', '.join(r.missing)}  "
                f"deadline {r.deadline}  on_timeout {r.on_timeout}  {state}"
            )
        return 0

    def replay_one(args: argparse.Namespace, settings: Settings) -> int:
        from lake_assets.events.sensors import replay  # the sensor's own rule: Dagster
        from lake_assets.graph import lake_rules  # the derived rules too: the code location's

        store = resources_for(settings)["events"]
        rules = load_rules(args.rules) if args.rules else lake_rules(settings)
        decision = replay(rules, store, args.id, datetime.now(UTC))
        if decision.action != "run":
            print(f"{args.id}: still missing {', '.join(decision.missing)}; nothing queued")
            return 1
        print(f"{args.id}: all inputs ready; the sensor launches {decision.run_key} next tick")
        return 0

    def drain_outbox(args: argparse.Namespace, settings: Settings) -> int:
        from lake_assets.events.outbox import drain  # with OpenLineage's client: only here
        from lake_assets.lineage.emitter import recorder_for

        resources = resources_for(settings)
        recorder = recorder_for(
            resources["lineage"], settings.state_dir, resources["storage"].uri("")
        )
        drained = drain(
            resources["events"],
            resources["catalog"],
            recorder,
            datetime.now(UTC),
            timedelta(days=settings.retention_days),
        )
        for event in drained.recorded:
            print(f"announced {event.dataset}[{event.partition}] of run {event.run_id}")
        print(
            f"{len(drained.delivered)} delivered ({len(drained.recorded)} new events), "
            f"{len(drained.abandoned)} abandoned"
        )
        return 0

    events = subparsers.add_parser(
        "events", help="data-ready events and dependency rules"
    ).add_subparsers(dest="events_command", required=True)
    p = events.add_parser("dead-letters", help="rules whose inputs missed their deadline")
    p.add_argument("--all", action="store_true", help="include resolved ones")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=dead_letters)
    p = events.add_parser("replay", help="re-evaluate a dead letter now")
    p.add_argument("id")
    p.add_argument("--rules", help="the dependency rules file (default: the sensor's)")
    p.set_defaults(run=replay_one)
    p = events.add_parser(
        "drain", help="announce publishes a killed run switched but never announced"
    )
    p.set_defaults(run=drain_outbox)
