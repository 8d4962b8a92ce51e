"""`lake`: the project's command line. Everything the daemon does can be done from here.

The entry point: each capability registers its command group (its cli.py), in the order the
help lists them. A command that runs assets or Spark jobs (`set_defaults(checks_config=True)`)
first checks the configuration as the code location would, which imports Dagster and builds the
asset graph (seconds); the others import neither Dagster nor Spark unless they use them, so a
point query or a lineage trace answers in about a second. Every command but `lake generate` and
`lake platform instance` (`set_defaults(needs_settings=False)`) reads the settings, so a bad
config file fails each command that reads it with the same ConfigError."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from lake_assets.access.cli import add_access_commands
from lake_assets.access.query import add_query_commands
from lake_assets.alarms.cli import add_alarm_commands
from lake_assets.archive.cli import add_restore_commands
from lake_assets.classification.cli import add_classification_commands
from lake_assets.cli.runs import _resources, quiet_dagster, set_up_dagster_home
from lake_assets.compaction.cli import add_compaction_commands
from lake_assets.contracts.cli import add_contract_commands
from lake_assets.cost.cli import add_cost_commands
from lake_assets.demo.cli import add_demo_commands
from lake_assets.events.cli import add_event_commands
from lake_assets.history.cli import add_scd_commands
from lake_assets.ingestion.cli import add_intake_commands, add_status_commands
from lake_assets.ingestion.dead_letter_cli import add_dead_letter_commands
from lake_assets.ingestion.promotion_cli import add_promotion_commands
from lake_assets.ingestion.raw_cli import add_raw_commands
from lake_assets.ingestion.registry_cli import add_registry_commands
from lake_assets.ingestion.retention_cli import add_retention_commands
from lake_assets.layers.cli import add_layer_commands
from lake_assets.lineage.cli import add_lineage_commands
from lake_assets.pipelines.cli import add_generate_commands
from lake_assets.platform.cli import add_platform_commands
from lake_assets.pull.cli import add_pull_commands
from lake_assets.recovery.cli import add_recovery_commands
from lake_assets.runtime.cli import add_deploy_commands
from lake_assets.settings import ConfigError, load_settings
from lake_assets.slo.cli import add_slo_commands
from lake_assets.tables.cli import add_table_commands


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="lake", description="Operate the lakehouse from the shell.")
    top.add_argument("-v", "--verbose", action="store_true")
    sub = top.add_subparsers(dest="command", required=True)
    add_intake_commands(sub)
    add_pull_commands(sub, _resources)
    add_registry_commands(sub)
    add_promotion_commands(sub)
    add_contract_commands(sub, _resources)
    add_layer_commands(sub)
    add_event_commands(sub, _resources)
    add_lineage_commands(sub, _resources)
    add_compaction_commands(sub, _resources)
    add_cost_commands(sub, _resources)
    add_slo_commands(sub, _resources)
    add_classification_commands(sub, _resources)
    add_access_commands(sub, _resources)
    add_table_commands(sub, _resources)
    add_scd_commands(sub, _resources)
    add_dead_letter_commands(sub, _resources)
    add_retention_commands(sub, _resources)
    add_restore_commands(sub, _resources)
    add_recovery_commands(sub, _resources)
    add_raw_commands(sub, _resources)
    add_generate_commands(sub)
    add_deploy_commands(sub, _resources)
    add_platform_commands(sub)
    add_alarm_commands(sub)
    add_status_commands(sub)
    add_query_commands(sub, _resources)
    add_demo_commands(sub)
    setup = sub.add_parser(
        "setup-home", help="write what the lake needs into $DAGSTER_HOME/dagster.yaml (make dev)"
    )
    setup.set_defaults(run=cmd_setup_home)
    return top


def cmd_setup_home(args, settings) -> int:
    home = os.environ.get("DAGSTER_HOME")
    if not home:
        raise ValueError("DAGSTER_HOME is not set: name the folder of the Dagster instance")
    added = set_up_dagster_home(Path(home))
    print(f"{home}/dagster.yaml: " + (f"added {', '.join(added)}" if added else "set up already"))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        # `lake generate` repairs generated files the settings load, so it must not need them.
        settings = load_settings() if getattr(args, "needs_settings", True) else None
        if getattr(args, "checks_config", False):
            quiet_dagster()
            from lake_assets.graph import check_config  # builds the asset graph

            check_config(settings)  # what loading the code location would refuse
        return args.run(args, settings)
    except (ConfigError, KeyError, LookupError, ValueError, FileNotFoundError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"lake: error: {message}", file=sys.stderr)
        return 2
