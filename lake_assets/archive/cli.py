"""`lake restore`: bring a source's archived raw days back from Glacier before a backfill."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from lake_assets.archive.model import TIERS, Thawing
from lake_assets.archive.service import restore_days
from lake_assets.cli.runs import date_argument
from lake_assets.settings import Settings

ResourcesFor = Callable[[Settings], dict[str, Any]]


def describe(thawing: Thawing) -> str:
    counts = thawing.counts
    span = f"{thawing.source} {thawing.first}..{thawing.last}"
    lines = [
        f"{span}: {len(thawing.states)} raw files: "
        + ", ".join(f"{n} {state}" for state, n in counts.items())
    ]
    if thawing.requested:
        lines.append(
            f"asked S3 to restore {len(thawing.requested)} files ({thawing.tier} tier: ready "
            f"within about {thawing.ready_within_hours:g} hours); run this command again to "
            "follow them"
        )
    if thawing.waiting:
        lines.append("the backfill must wait: it refuses days whose raw files are archived")
    else:
        lines.append(
            f"ready: lake promote --source {thawing.source} --date {thawing.first} "
            f"--to {thawing.last}"
        )
    return "\n".join(lines)


def add_restore_commands(subparsers: Any, resources_for: ResourcesFor) -> None:
    def restore(args: argparse.Namespace, settings: Settings) -> int:
        resources = resources_for(settings)
        source = settings.source(args.source)
        thawing = restore_days(
            resources["storage"],
            resources["registry"],
            args.source,
            source.event_time_field,
            args.date,
            args.to or args.date,
            args.days,
            args.tier,
        )
        if args.json:
            print(json.dumps({"counts": thawing.counts, "requested": list(thawing.requested),
                              "waiting": thawing.waiting}, indent=2))  # fmt: skip
        else:
            print(describe(thawing))
        return 0

    p = subparsers.add_parser(
        "restore", help="restore a source's archived raw files for a backfill of event dates"
    )
    p.add_argument("--source", required=True)
    p.add_argument("--date", required=True, type=date_argument, help="first event date YYYY-MM-DD")
    p.add_argument("--to", type=date_argument, help="last event date of a range")
    p.add_argument(
        "--days", type=int, default=7, help="how long the restored copies stay readable (7)"
    )
    p.add_argument("--tier", choices=TIERS, default="Bulk", help="S3's restore tier (Bulk)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=restore)
