"""`lake compact [--dataset D] [--dry-run]` and `lake compaction report`."""

from __future__ import annotations

import argparse
import json
import uuid
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from lake_assets.compaction.cost import Payback, combined, payback, query_cost
from lake_assets.compaction.policy import Prices, load_policy
from lake_assets.settings import Settings

ResourcesFor = Callable[[Settings], dict[str, Any]]
MB = 1_000_000  # sizes are printed in decimal megabytes


def _usd(value: float) -> str:
    return f"${value:.6f}"


def _count(value: float | None, unit: str) -> str:
    """Three significant digits, without exponents: 0.0476 queries, 1,234 queries."""
    if value is None:
        return "never"
    return f"{value:,.0f} {unit}" if value >= 100 else f"{value:.3g} {unit}"


def describe_payback(result: Payback, prices: Prices) -> str:
    return (
        f"per query {_usd(result.before.total)} -> {_usd(result.after.total)}, "
        f"compaction {_usd(result.cost)}, break-even after "
        f"{_count(result.break_even_queries, 'queries')}, payback "
        f"{_count(result.payback_days(prices.queries_per_day), 'days')} "
        f"at {prices.queries_per_day:g} queries/day"
    )


def add_compaction_commands(subparsers: Any, resources_for: ResourcesFor) -> None:
    """Register `compact` and `compaction report`; each takes its resources from
    `resources_for(settings)`."""

    def compact(args: argparse.Namespace, settings: Settings) -> int:
        from lake_assets.compaction.service import compaction_pass  # only when it runs

        resources = resources_for(settings)
        sources = (
            [settings.source(args.dataset)] if args.dataset else list(settings.sources.values())
        )
        run_id = str(uuid.uuid4())
        policy = load_policy(settings.compaction_file)
        work = compaction_pass(settings, policy, run_id, resources)
        prices = policy.prices
        today = datetime.now(UTC).date()
        print(f"compaction run {run_id}{' (dry run: nothing is written)' if args.dry_run else ''}")
        failed = 0
        for source in sources:
            done = work.run(source, today, dry_run=args.dry_run)
            failed |= done.busy is not None
            verb = "would seal" if args.dry_run else "sealed"
            print(f"{done.dataset}: {verb} {len(done.sealed)}, {len(done.candidates)} to compact")
            for candidate in done.candidates if args.dry_run else ():
                layout = candidate.layout
                estimate = Payback(
                    query_cost(len(layout.files), layout.bytes, prices),
                    query_cost(candidate.planned_files, layout.bytes, prices),
                    cost=0.0,
                )
                print(
                    f"  {layout.published.partition}: {len(layout.files)} files, "
                    f"{layout.bytes / MB:,.1f} MB, average {layout.average_file_bytes / MB:,.3f} MB"
                    f" -> about {candidate.planned_files}; per query "
                    f"{_usd(estimate.before.total)} -> {_usd(estimate.after.total)}"
                )
            compacted = [r for r in done.records if r.outcome == "compacted"]
            if compacted:
                result = combined([payback(r, prices) for r in compacted])
                print(f"  {len(compacted)} compacted: {describe_payback(result, prices)}")
        return failed

    def report(args: argparse.Namespace, settings: Settings) -> int:
        records = resources_for(settings)["compaction_history"].records(args.dataset)
        prices = load_policy(settings.compaction_file).prices
        if args.json:
            print(
                json.dumps(
                    [
                        {**r.to_dict(), "payback": asdict(payback(r, prices))}
                        for r in records
                        if r.outcome == "compacted"
                    ]
                    + [r.to_dict() for r in records if r.outcome != "compacted"],
                    indent=2,
                )
            )
            return 0
        if not records:
            print("no compactions yet")
            return 0
        for r in records:
            head = (
                f"{r.started_at[:19]}  {r.dataset}[{r.partition}]  run {r.run_id[:8]}  {r.outcome}"
                + (f" (migrated to schema {r.migrated_to})" if r.migrated_to else "")
            )
            if r.outcome != "compacted":
                print(f"{head}: {r.reason or 'in progress'}")
                continue
            print(
                f"{head}: {r.files_before} -> {r.files_after} files, "
                f"{r.bytes_before / MB:,.1f} -> {r.bytes_after / MB:,.1f} MB, "
                f"{r.duration_seconds:.1f} s; {describe_payback(payback(r, prices), prices)}"
            )
        compacted = [payback(r, prices) for r in records if r.outcome == "compacted"]
        if compacted:
            total = combined(compacted)
            print(
                f"total: {len(compacted)} partitions, saving "
                f"{_usd(total.saving_per_query * prices.queries_per_day)} a day; "
                + describe_payback(total, prices)
            )
        return 0

    p = subparsers.add_parser(
        "compact", help="compact sealed partitions of many small files (what the schedule runs)"
    )
    p.add_argument("--dataset", help="only this dataset")
    p.add_argument("--dry-run", action="store_true", help="print what it would do, write nothing")
    p.set_defaults(run=compact, checks_config=True)
    compaction = subparsers.add_parser(
        "compaction", help="compaction history and its return"
    ).add_subparsers(dest="compaction_command", required=True)
    p = compaction.add_parser(
        "report", help="every compaction with its query cost before and after and its payback"
    )
    p.add_argument("--dataset", help="only this dataset")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=report)
