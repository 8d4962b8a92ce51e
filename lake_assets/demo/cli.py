"""`lake demo`: generate a sample lake and run the pipeline over it."""

from __future__ import annotations

import argparse
import shutil

from lake_assets.settings import Settings


def cmd_demo(args, settings: Settings) -> int:
    from lake_assets.cli.runs import dagster_instance
    from lake_assets.demo.demo import run_demo

    if settings.profile != "local":
        raise SystemExit("the demo runs on the embedded local profile (unset LAKE_PROFILE)")
    if settings.lake_root.exists():
        if not args.reset:
            raise SystemExit(
                f"{settings.lake_root} exists; pass --reset to replace it with the demo lake"
            )
        shutil.rmtree(settings.lake_root)
        # The instance's runs and events described the lake just removed; kept, they also
        # clash with the new demo's verdicts for the same days (a run-less check evaluation
        # is unique per asset, check and partition).
        dagster_instance().wipe()
    return run_demo(settings, days=args.days)


def add_demo_commands(sub: argparse._SubParsersAction) -> None:
    """Register `demo`."""
    p = sub.add_parser("demo", help="generate a sample lake and run the pipeline over it")
    p.add_argument("--days", type=int, default=6, help="how many days, ending yesterday")
    p.add_argument(
        "--reset",
        action="store_true",
        help="replace an existing lake folder and wipe the Dagster runs and events of it",
    )
    p.set_defaults(run=cmd_demo, checks_config=True)
