"""`lake`: the project's command line. Everything the daemon does can be done from here."""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import warnings

from dagster import BetaWarning

from lake_assets.cli.runs import _resources
from lake_assets.compaction.cli import add_compaction_commands
from lake_assets.events.cli import add_event_commands
from lake_assets.history.cli import add_scd_commands
from lake_assets.ingestion.cli import add_intake_commands, add_status_commands
from lake_assets.ingestion.dead_letter_cli import add_dead_letter_commands
from lake_assets.ingestion.promotion_cli import add_promotion_commands
from lake_assets.ingestion.raw_cli import add_raw_commands
from lake_assets.ingestion.registry_cli import add_registry_commands
from lake_assets.ingestion.retention_cli import add_retention_commands
from lake_assets.lineage.cli import add_lineage_commands
from lake_assets.settings import ConfigError, Settings, load_settings


def cmd_demo(args, settings: Settings) -> int:
    from lake_assets.ingestion.demo import run_demo

    if settings.profile != "local":
        raise SystemExit("the demo runs on the embedded local profile (unset LAKE_PROFILE)")
    if settings.lake_root.exists():
        if not args.reset:
            raise SystemExit(
                f"{settings.lake_root} exists; pass --reset to replace it with the demo lake"
            )
        shutil.rmtree(settings.lake_root)
    return run_demo(settings, days=args.days)


# --- wiring ----------------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="lake", description="Operate the lakehouse from the shell.")
    top.add_argument("-v", "--verbose", action="store_true")
    sub = top.add_subparsers(dest="command", required=True)
    add_intake_commands(sub)
    add_registry_commands(sub)
    add_promotion_commands(sub)
    add_event_commands(sub, _resources)
    add_lineage_commands(sub, _resources)
    add_compaction_commands(sub, _resources)
    add_scd_commands(sub, _resources)
    add_dead_letter_commands(sub, _resources)
    add_retention_commands(sub, _resources)
    add_raw_commands(sub, _resources)
    add_status_commands(sub)

    p = sub.add_parser("demo", help="generate a sample lake and run the pipeline over it")
    p.add_argument("--days", type=int, default=6)
    p.add_argument("--reset", action="store_true", help="replace an existing lake folder")
    p.set_defaults(run=cmd_demo)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    warnings.filterwarnings("ignore", category=BetaWarning)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    from lake_assets.graph import check_config  # builds the asset graph: not for --help

    try:
        settings = load_settings()
        check_config(settings)  # what loading the code location would refuse
        return args.run(args, settings)
    except (ConfigError, KeyError, LookupError, ValueError, FileNotFoundError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"lake: error: {message}", file=sys.stderr)
        return 2
