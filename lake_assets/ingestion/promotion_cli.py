"""`lake promote|late|lateness|quarantine`: promote curated partitions, and promote them again
for late records or after an upstream fix."""

from __future__ import annotations

import argparse
from datetime import date, timedelta

from lake_assets.cli.runs import (
    _resources,
    command_charge,
    date_argument,
    materialize_partitions,
    partition_progress,
    report_run,
)
from lake_assets.settings import Settings


def cmd_promote(args, settings: Settings) -> int:
    settings.source(args.source)
    return promote_and_report(settings, args.source, args.date, args.to)


def promote_and_report(settings: Settings, source: str, first: str, last: str | None) -> int:
    """Promote a partition or a range as one run, saying what it covers before it starts
    (a long range takes a while) and each partition's outcome as the run records it, before
    the run ends; the exit status."""
    from lake_assets.ingestion.asset_keys import curated_key_of

    last = last or first
    days = (date.fromisoformat(last) - date.fromisoformat(first)).days + 1
    span = first if days == 1 else f"{first}..{last} ({days} partitions, one run)"
    print(f"{source}: promoting {span}", flush=True)
    decided = []

    def say(partition: str, metadata: dict) -> None:
        decided.append(partition)
        outcome = partition_outcome(partition, metadata)
        print(f"[{len(decided)}/{days}] {source} {partition}: {outcome}", flush=True)

    key = curated_key_of(source)
    result = materialize_partitions(
        settings, [key], first, last, on_event=partition_progress(key, say)
    )
    if not decided:
        print(f"{source} {first if days == 1 else f'{first}..{last}'}: nothing published")
    return report_run(result)


def partition_outcome(partition: str, metadata: dict) -> str:
    """A partition's outcome from what the curated asset recorded on its materialization, which
    carries that partition's own figures: blocked (by which rules), or published with its rows,
    quarantined rows and schema version."""
    blocked = metadata.get("partitions_blocked", {})
    if partition in blocked:
        return f"refused, not published: contract rules {', '.join(blocked[partition])} failed"
    return (
        f"published {metadata['rows_published']} rows, {metadata['rows_quarantined']} "
        f"quarantined, schema {metadata['schema_version']}"
    )


# --- late arrivals, lateness, quarantine ---------------------------------------------------


def date_ranges(dates: list[str]) -> list[tuple[str, str]]:
    """Consecutive days grouped into (first, last) ranges, each promoted as one run."""
    ranges: list[list[str]] = []
    for day in sorted(set(dates)):
        if ranges and date.fromisoformat(day) - date.fromisoformat(ranges[-1][1]) == timedelta(
            days=1
        ):
            ranges[-1][1] = day
        else:
            ranges.append([day, day])
    return [(first, last) for first, last in ranges]


def cmd_late_list(args, settings: Settings) -> int:
    from lake_assets.ingestion.late_arrivals import late_arrivals

    settings.source(args.source)
    held = late_arrivals(_resources(settings)["storage"], args.source)
    if not held:
        print(f"{args.source}: no late arrivals")
    for arrival in held:
        state = f"folded in by run {arrival.folded_by_run}" if arrival.folded_by_run else "pending"
        print(
            f"{arrival.raw_key}: event dates {', '.join(arrival.event_dates)} (arrived {arrival.ingest_date}), {state}"
        )
    return 0


def cmd_late_fold_in(args, settings: Settings) -> int:
    from lake_assets.ingestion.late_arrivals import late_arrivals

    settings.source(args.source)
    pending = [a for a in late_arrivals(_resources(settings)["storage"], args.source) if a.pending]
    dates = [d for a in pending for d in a.event_dates]
    if not dates:
        print(f"{args.source}: nothing to fold in")
        return 0
    failed = 0
    for first, last in date_ranges(dates):
        failed |= promote_and_report(settings, args.source, first, last)
    return failed


def cmd_lateness(args, settings: Settings) -> int:
    from lake_assets.ingestion.lateness import LatenessReport, lateness_plan
    from lake_assets.tables.reader import resolve_published

    source = settings.source(args.source)
    res = _resources(settings)
    resolved = resolve_published(res["catalog"], res["storage"], source.source_id)
    plan = lateness_plan(resolved, source.event_time_field)
    charge = command_charge(settings, source.source_id)
    result = res["spark_runner"].run_standalone("lateness", plan, charge)
    print(LatenessReport.from_result(source.source_id, result).describe(source.lookback_days))
    return 0


def cmd_quarantine_replay(args, settings: Settings) -> int:
    """Re-validate a partition's rows after an upstream fix: the partition is promoted again
    from its raw files, so rows that now pass are published (once: the partition is replaced)
    and the rest stay quarantined."""
    from lake_assets.ingestion.asset_keys import curated_key_of
    from lake_assets.tables.manifest import read_manifest

    settings.source(args.dataset)
    res = _resources(settings)
    before = res["catalog"].current(args.dataset, args.partition)
    if report_run(materialize_partitions(settings, [curated_key_of(args.dataset)], args.partition)):
        return 1
    after = res["catalog"].current(args.dataset, args.partition)
    quarantined = read_manifest(res["storage"], after)["rows_quarantined"]
    print(
        f"{args.dataset}[{args.partition}]: {before.row_count if before else 0} -> {after.row_count} rows "
        f"published, {quarantined} still quarantined"
    )
    return 0


def add_promotion_commands(sub: argparse._SubParsersAction) -> None:
    """Register `promote`, `late list|fold-in`, `lateness` and `quarantine replay`."""
    p = sub.add_parser("promote", help="materialize curated partitions (one run for a range)")
    p.add_argument("--source", required=True)
    p.add_argument("--date", required=True, type=date_argument, help="first event date YYYY-MM-DD")
    p.add_argument("--to", type=date_argument, help="last event date of a range")
    p.set_defaults(run=cmd_promote, checks_config=True)

    late = sub.add_parser("late", help="records later than the lookback window").add_subparsers(
        dest="late_command", required=True
    )
    p = late.add_parser("list", help="late arrivals held for a source")
    p.add_argument("source")
    p.set_defaults(run=cmd_late_list)
    p = late.add_parser("fold-in", help="re-promote the event dates of pending late arrivals")
    p.add_argument("source")
    p.set_defaults(run=cmd_late_fold_in, checks_config=True)

    p = sub.add_parser("lateness", help="lateness percentiles and the lookback that catches 99%%")
    p.add_argument("source")
    p.set_defaults(run=cmd_lateness, checks_config=True)

    quarantine = sub.add_parser("quarantine", help="quarantined rows").add_subparsers(
        dest="quarantine_command", required=True
    )
    p = quarantine.add_parser("replay", help="re-validate and publish what now passes")
    p.add_argument("dataset")
    p.add_argument("--partition", required=True, type=date_argument)
    p.set_defaults(run=cmd_quarantine_replay, checks_config=True)
