"""`lake cost tags --month M [--json]`: the month's untagged resources, their cost and share,
and where each stands in the escalation. Read-only: the asset check escalates and notifies."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Mapping
from typing import Any

from lake_assets.cost.model import cents
from lake_assets.settings import Settings

ResourcesFor = Callable[[Settings], Mapping[str, Any]]


def add_tagging_command(cost_subparsers: Any, resources_for: ResourcesFor) -> None:
    """Register `tags` under `lake cost`; it takes its resources from `resources_for(settings)`."""

    def tags(args: argparse.Namespace, settings: Settings) -> int:
        from lake_assets.cost.tagging import load_tagging_policy
        from lake_assets.cost.tagging_service import month_report, read_state

        resources = resources_for(settings)
        storage = resources["storage"]
        report = month_report(
            settings, load_tagging_policy(), resources["catalog"], storage, args.month
        )
        open_ = read_state(storage).get("resources", {})
        if args.json:
            document = report.to_dict()
            for entry in document["untagged"]:
                entry["escalation"] = open_.get(entry["resource"])
            print(json.dumps(document, indent=2))
            return 0
        print(report.summary())
        for u in report.untagged:
            level = open_.get(u.resource, {})
            stage = (
                f"{level['level']} since {level['first_seen']}"
                if level
                else "tagged since"
                if not u.current_problems
                else "not escalated yet"
            )
            print(
                f"  ${cents(u.cost_nanos):>12}  {u.share:7.2%}  {u.resource}  [{stage}]\n"
                f"      {'; '.join(p.describe() for p in u.problems)}"
                f" ({u.line_items} line items: {', '.join(u.usage_types)})"
            )
        return 1 if report.untagged else 0

    p = cost_subparsers.add_parser(
        "tags", help="a month's resources missing required tags, with their cost and share"
    )
    p.add_argument("--month", required=True, help="the billing month, YYYY-MM")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=tags)
