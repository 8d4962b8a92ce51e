"""`lake contract try DATASET [--contract FILE]`: a contract's rules tried on what the lake has
published, before a promotion enforces them (trial.py, ADR-0146)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lake_assets.settings import ConfigError, Settings

ResourcesFor = Callable[[Settings], dict[str, Any]]


def add_contract_commands(subparsers: Any, resources_for: ResourcesFor) -> None:
    def try_contract(args: argparse.Namespace, settings: Settings) -> int:
        from lake_assets.config import load_config
        from lake_assets.contracts.model import Contract, lake_contracts
        from lake_assets.contracts.trial import TrialReport, trial_plan
        from lake_assets.tables.reader import resolve_published

        if args.days < 1:
            raise ValueError(f"--days must be at least 1, got {args.days}")
        if args.contract:
            contract = load_config(args.contract, Contract)
            if contract.dataset != args.dataset:
                raise ConfigError(
                    args.contract, "dataset", f"must be {args.dataset!r} to try it on it"
                )
        else:
            contract = lake_contracts(settings).get(args.dataset)
            if contract is None:
                raise LookupError(f"{args.dataset} has no contract; name one with --contract")
        resources = resources_for(settings)
        catalog, storage = resources["catalog"], resources["storage"]
        # Partitions published empty (a day with no rows) have nothing to try.
        published = sorted(p.partition for p in catalog.partitions(args.dataset) if p.row_count)
        if not published:
            raise LookupError(f"{args.dataset}: no published rows to try the contract on")
        resolved = resolve_published(catalog, storage, args.dataset, published[-args.days :])
        result = resources["spark_runner"].run_standalone(
            "contract_trial", trial_plan(resolved, contract)
        )
        report = TrialReport(args.dataset, contract, result["partitions"])
        if args.json:
            print(json.dumps({**result, "rejecting": report.rejecting}, indent=2))
        else:
            print("\n".join(report.lines()))
        return 1 if report.rejecting else 0

    contract = subparsers.add_parser(
        "contract", help="data contracts: try an edited contract on published rows"
    ).add_subparsers(dest="contract_command", required=True)
    p = contract.add_parser(
        "try",
        help="which published rows each rule would reject (exit 1 when a blocking rule would)",
    )
    p.add_argument("dataset")
    p.add_argument(
        "--contract",
        type=Path,
        metavar="FILE",
        help="the contract to try (default: the dataset's contract as the repository holds it)",
    )
    p.add_argument("--days", type=int, default=30, help="the newest published partitions tried")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=try_contract, checks_config=True)
