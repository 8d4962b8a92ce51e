"""`lake dead-letters list [--source S]` and `lake dead-letters replay SOURCE RAW_KEY|--all`.

Payloads that could not be profiled; not `lake events dead-letters`, which lists dependency
rules whose inputs missed their deadline.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from lake_assets.settings import Settings

if TYPE_CHECKING:  # the profiler (pyarrow) is imported by the commands that use it
    from lake_assets.ingestion.dead_letters import Replay

ResourcesFor = Callable[[Settings], dict[str, Any]]


def describe_replay(replay: Replay, source_id: str) -> str:
    record = replay.record
    if replay.status == "NOT_DEAD_LETTERED":
        when = f", replayed {record.replayed_at}" if record.replayed_at else ""
        return f"{replay.key}: nothing to replay: it is {record.status}{when}"
    if replay.status != "PROFILED":
        return f"{replay.key}: still dead-lettered ({record.status}): {record.reason}"
    first, last = replay.event_dates[0], replay.event_dates[-1]
    span = f"--date {first}" + (f" --to {last}" if last != first else "")
    return (
        f"{replay.key}: profiled, {record.row_count} rows, version {record.version}; "
        f"event dates {', '.join(replay.event_dates)}: the next promotion picks it up "
        f"(lake promote --source {source_id} {span})"
    )


def add_dead_letter_commands(subparsers: Any, resources_for: ResourcesFor) -> None:
    """Register the `dead-letters` command group over the raw-file index."""

    def list_letters(args: argparse.Namespace, settings: Settings) -> int:
        from lake_assets.ingestion.dead_letters import dead_letters

        registry = resources_for(settings)["registry"]
        sources = [args.source] if args.source else sorted(settings.sources)
        letters = [
            r for sid in sources for r in dead_letters(registry, settings.source(sid).source_id)
        ]
        if args.json:
            print(json.dumps([asdict(r) for r in letters], indent=2))
            return 0
        if not letters:
            print("no dead-lettered payloads")
        for r in letters:
            print(f"{r.source_id}  {r.key}  ({r.size} bytes, profiled {r.profiled_at}): {r.reason}")
        return 0

    def replay(args: argparse.Namespace, settings: Settings) -> int:
        from lake_assets.ingestion.dead_letters import dead_letters, replay_dead_letter

        if bool(args.raw_key) == args.all:
            raise SystemExit("lake dead-letters replay: give one RAW_KEY or --all")
        source = settings.source(args.source)
        res = resources_for(settings)
        keys = (
            [r.key for r in dead_letters(res["registry"], source.source_id)]
            if args.all
            else [args.raw_key]
        )
        if not keys:
            print(f"{source.source_id}: no dead-lettered payloads; nothing to replay")
        failed = 0
        for key in keys:
            outcome = replay_dead_letter(
                res["storage"], res["registry"], res["notifier"], source, key
            )
            print(describe_replay(outcome, source.source_id))
            failed |= outcome.status not in ("PROFILED", "NOT_DEAD_LETTERED")
        return int(failed)

    group = subparsers.add_parser(
        "dead-letters",
        help="payloads that could not be profiled (not `lake events dead-letters`)",
        description="Raw payloads dead-lettered at profiling (unreadable, too large, ...), from "
        "the raw-file index. Not to be confused with `lake events dead-letters`, which lists "
        "dependency rules whose inputs missed their deadline.",
    ).add_subparsers(dest="dead_letters_command", required=True)
    p = group.add_parser("list", help="dead-lettered payloads with their reasons")
    p.add_argument("--source")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=list_letters)
    p = group.add_parser(
        "replay",
        help="profile dead letters again after their cause was fixed (once each)",
        description="Profile a dead-lettered raw payload again under the source's current "
        "declaration; once it profiles it joins the index and promotion picks it up. "
        "A payload already replayed is left alone.",
    )
    p.add_argument("source")
    p.add_argument("raw_key", nargs="?", metavar="RAW_KEY")
    p.add_argument("--all", action="store_true", help="every dead letter of the source")
    p.set_defaults(run=replay)
