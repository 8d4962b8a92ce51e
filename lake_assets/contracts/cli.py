"""`lake contract try DATASET [--contract FILE]`: a contract's rules tried on what the lake has
published, before a promotion or a build enforces them (trial.py, ADR-0146): its row, unique and
referential rules, the last against the reference's partitions as the lake checks them (the same
day; a sliced derived table's, the reference's newest)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from lake_assets.contracts.model import TRIED_DAYS
from lake_assets.settings import ConfigError, Settings

ResourcesFor = Callable[[Settings], dict[str, Any]]


def add_contract_commands(subparsers: Any, resources_for: ResourcesFor) -> None:
    def try_contract(args: argparse.Namespace, settings: Settings) -> int:
        from lake_assets.cli.runs import command_charge
        from lake_assets.config import load_config
        from lake_assets.contracts.model import Contract, lake_contracts
        from lake_assets.contracts.trial import try_published
        from lake_assets.layers.definitions import contracted_tables

        if args.days < 1:
            raise ValueError(f"--days must be at least 1, got {args.days}")
        contracts = lake_contracts(settings)
        if args.contract:
            contract = load_config(args.contract, Contract)
            if contract.dataset != args.dataset:
                raise ConfigError(
                    args.contract, "dataset", f"must be {args.dataset!r} to try it on it"
                )
        else:
            contract = contracts.get(args.dataset)
            if contract is None:
                raise LookupError(f"{args.dataset} has no contract; name one with --contract")
        # A sliced table's partitions are not the days it is built for: the next build checks
        # the slices it rewrites against the reference's newest day (layers.model.DerivedTable).
        sliced = any(
            t.dataset == args.dataset and t.slices is not None
            for t in contracted_tables(contracts, settings.sources)
        )
        resources = resources_for(settings)
        result, report = try_published(
            args.dataset,
            contract,
            args.days,
            sliced,
            resources["catalog"],
            resources["storage"],
            partial(
                resources["spark_runner"].run_standalone,
                charge=command_charge(settings, args.dataset),
            ),
        )
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
    p.add_argument(
        "--days", type=int, default=TRIED_DAYS, help="the newest published partitions tried"
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=try_contract, checks_config=True)
