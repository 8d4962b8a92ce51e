"""`lake cost report --month M [--by team|pipeline|dataset] [--json]`: the published ledger of a
month, read with pyarrow (no Spark, no Dagster), in cents that add up to the printed total."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from lake_assets.cost.report import GROUPS, ledger_lines, read_ledger
from lake_assets.cost.tagging_cli import add_tagging_command
from lake_assets.settings import Settings

ResourcesFor = Callable[[Settings], Any]
ROW_FIELDS = ("category", "method", "resource", "hour", "reason", "cost_nanos", "drivers")


def _dollars(cents: int) -> str:
    return f"${Decimal(cents) / 100:,.2f}"


def print_report(resources: Any, month: str, by: str = "team") -> None:
    """The month's published ledger by `by`, as `lake cost report` prints it."""
    rows = read_ledger(resources["catalog"], resources["storage"], month)
    print_lines(month, by, *ledger_lines(rows, by))


def print_lines(month: str, by: str, lines: list[dict], total: int) -> None:
    keys = GROUPS[by]
    width = max([len(" / ".join(line[k] or "-" for k in keys)) for line in lines] + [5])
    print(f"cost ledger {month}, by {by}")
    for line in lines:
        name = " / ".join(line[k] or "-" for k in keys)
        methods = ", ".join(sorted({r["method"] for r in line["rows"]}))
        print(f"  {name:<{width}}  {_dollars(line['cents']):>14}  {methods}")
    print(f"  {'total':<{width}}  {_dollars(total):>14}")


def add_cost_commands(subparsers: Any, resources_for: ResourcesFor) -> None:
    """Register `cost report` and `cost tags`; they take their resources from
    `resources_for(settings)`."""

    def report(args: argparse.Namespace, settings: Settings) -> int:
        resources = resources_for(settings)
        rows = read_ledger(resources["catalog"], resources["storage"], args.month)
        lines, total = ledger_lines(rows, args.by)
        keys = GROUPS[args.by]
        if args.json:
            print(
                json.dumps(
                    {
                        "month": args.month,
                        "by": args.by,
                        "total_cents": total,
                        "lines": [
                            {
                                **{k: line[k] for k in keys},
                                "cents": line["cents"],
                                "nanos": line["nanos"],
                                # How each share was reached: a team can recompute it.
                                "rows": [{f: r[f] for f in ROW_FIELDS} for r in line["rows"]],
                            }
                            for line in lines
                        ],
                    },
                    indent=2,
                )
            )
            return 0
        print_lines(args.month, args.by, lines, total)
        return 0

    cost = subparsers.add_parser(
        "cost", help="cost attribution: the monthly ledger and the tags it needs"
    ).add_subparsers(dest="cost_command", required=True)
    p = cost.add_parser("report", help="a month's ledger by team, pipeline or dataset, in cents")
    p.add_argument("--month", required=True, help="the billing month, YYYY-MM")
    p.add_argument("--by", choices=sorted(GROUPS), default="team")
    p.add_argument("--json", action="store_true", help="with each row's method and drivers")
    p.set_defaults(run=report)
    add_tagging_command(cost, resources_for)
