"""`lake raw set-aside|restore|confirm-empty|list`: operator decisions on one raw object."""

from __future__ import annotations

import argparse
import getpass
import os
from collections.abc import Callable
from typing import Any

from lake_assets.ingestion import raw_decisions
from lake_assets.ingestion.raw_zone import RawFile
from lake_assets.settings import Settings, SourceConfig

ResourcesFor = Callable[[Settings], dict[str, Any]]


def _operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name in a bare container
        return os.environ.get("USER", "unknown")


def _dates(record: RawFile, source: SourceConfig) -> str:
    """The event dates the object feeds, as the file index knows them: where to re-promote."""
    from lake_assets.ingestion.promotion_plan import file_partitions  # pyarrow: only here

    dates = sorted(file_partitions(record, source.partition_field))
    return ", ".join(dates[:5]) + (f" and {len(dates) - 5} more" if len(dates) > 5 else "")


def add_raw_commands(subparsers: Any, resources_for: ResourcesFor) -> None:
    """Register `raw set-aside`, `raw restore`, `raw confirm-empty` and `raw list`."""

    def set_aside(args: argparse.Namespace, settings: Settings) -> int:
        source = settings.source(args.source)
        res = resources_for(settings)
        record = raw_decisions.set_aside(
            res["registry"], res["notifier"], args.source, args.raw_key, args.reason, args.by
        )
        print(
            f"{record.key}: SET_ASIDE by {args.by} ({record.row_count} rows, "
            f"{record.malformed_rows} malformed, kept in raw); re-promote its event dates "
            f"({_dates(record, source)}) to publish without it"
        )
        return 0

    def restore(args: argparse.Namespace, settings: Settings) -> int:
        source = settings.source(args.source)
        record = raw_decisions.restore(
            resources_for(settings)["registry"], args.source, args.raw_key, args.by
        )
        print(
            f"{record.key}: {record.status} again; re-promote {_dates(record, source)} to include it"
        )
        return 0

    def confirm_empty(args: argparse.Namespace, settings: Settings) -> int:
        settings.source(args.source)
        record = raw_decisions.confirm_empty(
            resources_for(settings)["registry"], args.source, args.raw_key, args.by
        )
        print(
            f"{record.key}: empty snapshot confirmed by {args.by}; promoting {record.ingest_date} "
            "publishes it with no rows"
        )
        return 0

    def listing(args: argparse.Namespace, settings: Settings) -> int:
        settings.source(args.source)
        decided = [
            r
            for r in resources_for(settings)["registry"].raw_files(args.source)
            if r.status in (args.status or (raw_decisions.SET_ASIDE, raw_decisions.HELD_EMPTY))
        ]
        for r in decided:
            last = r.decisions[-1] if r.decisions else {}
            who = f" by {last['by']} at {last['at']}" if last.get("to") == r.status else ""
            print(f"{r.status:<11} {r.key}  {r.row_count} rows{who}: {r.reason}")
        if not decided:
            print(f"{args.source}: no raw objects set aside or held")
        return 0

    raw = subparsers.add_parser(
        "raw", help="decisions on single raw objects (set aside, restore, confirm empty)"
    ).add_subparsers(dest="raw_command", required=True)
    p = raw.add_parser("set-aside", help="exclude one raw object from promotion (kept in raw)")
    p.add_argument("source")
    p.add_argument("raw_key")
    p.add_argument("--reason", required=True)
    p.set_defaults(run=set_aside)
    p = raw.add_parser("restore", help="undo a set-aside")
    p.add_argument("source")
    p.add_argument("raw_key")
    p.set_defaults(run=restore)
    p = raw.add_parser("confirm-empty", help="accept a held snapshot delivery with no rows")
    p.add_argument("source")
    p.add_argument("raw_key")
    p.set_defaults(run=confirm_empty)
    for command in (raw.choices["set-aside"], raw.choices["restore"], p):
        command.add_argument("--by", default=_operator(), help="who decides (default: you)")
    p = raw.add_parser("list", help="raw objects set aside or held, with who, when and why")
    p.add_argument("source")
    p.add_argument("--status", action="append", choices=["SET_ASIDE", "HELD_EMPTY"])
    p.set_defaults(run=listing)
