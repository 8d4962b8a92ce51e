"""`lake`: the project's command line. Everything the daemon does can be done from here."""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import uuid
import warnings
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from dagster import BetaWarning

from lake_assets.settings import ConfigError, Settings, load_settings


def _resources(settings: Settings) -> dict:
    from resources import build_resources

    return build_resources(settings)


# --- ingest and profile ----------------------------------------------------------------------


def _calendar(settings: Settings):
    from lake_assets.ingestion.raw_zone import PartitionCalendar

    return PartitionCalendar.until_today(settings.partitions_start)


def _date_argument(value: str) -> str:
    """argparse type for a date that becomes part of a key: a real YYYY-MM-DD date."""
    from lake_assets.tables.keys import check_date

    try:
        return check_date(value, "date")
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def cmd_ingest(args, settings: Settings) -> int:
    from lake_assets.ingestion.intake import land_payload
    from lake_assets.lineage import LineageRun
    from lake_assets.lineage.emitter import recorder_for

    source = settings.source(args.source)
    if args.ingest_date and (problem := _calendar(settings).problem(args.ingest_date)):
        raise ValueError(f"--ingest-date {args.ingest_date} {problem}; nothing landed")
    res = _resources(settings)
    storage = res["storage"]
    # Landing is a run too: its lineage starts at the files as the producer handed them over.
    started = LineageRun(
        run_id=str(uuid.uuid4()),
        job=f"ingest/{source.source_id}",
        partition=args.ingest_date,
        inputs=tuple(Path(path).resolve().as_uri() for path in args.files),
        outputs=(),
        started_at=datetime.now(UTC).isoformat(),
    )
    with recorder_for(res["lineage"], settings.state_dir, storage.uri("")).track(
        started
    ) as outputs:
        for path in args.files:
            info = land_payload(
                storage,
                source,
                path,
                args.ingest_date,
                registry=res["registry"],
                notifier=res["notifier"],
            )
            outputs.append(info.key)
            print(f"landed {path} -> {storage.uri(info.key)} ({info.size} bytes)")
            if info.duplicate_of:
                print(
                    f"  duplicate of {storage.uri(info.duplicate_of)} (same bytes): kept in raw, "
                    "recorded as DUPLICATE, not promoted"
                )
    return 0


def cmd_profile(args, settings: Settings) -> int:
    from lake_assets.ingestion.intake import pending_objects, profile_objects

    res = _resources(settings)
    sources = [settings.source(args.source)] if args.source else list(settings.sources.values())
    for source in sources:
        pending = pending_objects(res["storage"], res["registry"], source.source_id, args.date)
        summary = profile_objects(
            res["storage"],
            res["registry"],
            res["notifier"],
            source,
            pending,
            calendar=_calendar(settings),
        )
        print(
            f"{source.source_id}: {summary.count('PROFILED')} profiled, "
            f"{summary.count('DEAD_LETTER')} dead-lettered, {len(summary.new_versions)} new versions"
            f", {summary.count('HELD')} held, {summary.count('DUPLICATE')} duplicate (not promoted)"
        )
        for held in (o for o in summary.outcomes if o.status == "HELD"):
            print(f"  held {held.key}: {held.reason}")
        for version in summary.new_versions:
            print(f"  {version.version} {version.status}")
            for reason in version.violations:
                print(f"    {reason}")
    return 0


# --- registry --------------------------------------------------------------------------------


def cmd_registry_show(args, settings: Settings) -> int:
    from lake_assets.ingestion.schema_registry import canonical_schema, describe_diff

    settings.source(args.source)
    versions = _resources(settings)["registry"].versions(args.source)
    if args.json:
        print(json.dumps([v.to_dict() for v in versions], indent=2, default=str))
        return 0
    if not versions:
        print(f"{args.source}: no versions yet")
    for version in versions:
        print(
            f"{version.version}  {version.status:<10} {version.compatibility}  {len(version.fields)} fields"
            + (f"  promoted {version.promoted_at}" if version.promoted_at else "")
        )
        for line in describe_diff(version.field_diff):
            print(f"    {line}")
        for reason in version.violations:
            print(f"    BREAKING: {reason}")
        if version.approved_renames:
            print(f"    renames: {version.approved_renames}")
    if versions:
        print(
            "curated schema: "
            + ", ".join(f"{k}:{v}" for k, v in canonical_schema(versions).items())
        )
    return 0


def cmd_registry_diff(args, settings: Settings) -> int:
    from lake_assets.ingestion.schema_registry import canonical_fields, describe_diff, diff_fields

    registry = _resources(settings)["registry"]
    old, new = registry.version(args.source, args.old), registry.version(args.source, args.new)
    lines = describe_diff(diff_fields(canonical_fields(old), canonical_fields(new)))
    print("\n".join(lines) if lines else "no field changes")
    return 0


def _pairs(values: list[str], flag: str) -> dict[str, str]:
    pairs = {}
    for value in values:
        new, sep, old = value.partition("=")
        if not sep or not new or not old:
            raise SystemExit(f"{flag} expects NEW=OLD, got {value!r}")
        pairs[new] = old
    return pairs


def cmd_registry_approve(args, settings: Settings) -> int:
    from lake_assets.ingestion.schema_registry import approve

    registry = _resources(settings)["registry"]
    changed = approve(
        registry.versions(args.source),
        args.version,
        datetime.now(UTC),
        renames=_pairs(args.rename, "--rename"),
        removals=args.accept_removal,
        type_changes=args.accept_type_change,
    )
    for version in changed:
        registry.update_version(version)
        print(f"{version.source_id} {version.version} is now {version.status}")
    return 0


# --- promotion through Dagster ---------------------------------------------------------------


def dagster_instance():
    """The instance under DAGSTER_HOME (created if missing), so runs started here show in the
    webserver; an ephemeral one without it."""
    from dagster import DagsterInstance

    home = os.environ.get("DAGSTER_HOME")
    if not home:
        return DagsterInstance.ephemeral()
    Path(home).mkdir(parents=True, exist_ok=True)
    return DagsterInstance.get()


def materialize_partitions(
    settings, keys, first: str, last: str | None = None, resources=None, instance=None
):
    """Materialize asset `keys` for one partition or a range, as one run (single-run backfill)."""
    from dagster import materialize

    from lake_assets.definitions import build_definitions

    defs = build_definitions(settings, resources)
    assets = list(defs.assets)
    tags = {}
    partition_key = first
    if last and last != first:
        partition_key = None
        tags = {
            "dagster/asset_partition_range_start": first,
            "dagster/asset_partition_range_end": last,
        }
    return materialize(
        assets,
        selection=keys,
        partition_key=partition_key,
        tags=tags,
        # The command line prints its own summary; Dagster's step log stays in the run record.
        run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}},
        resources=defs.resources,
        instance=instance or dagster_instance(),
        raise_on_error=False,
    )


def step_failures(result) -> list[str]:
    """The user-facing reason of each failed step: Dagster wraps it, the cause says it."""
    reasons = []
    for event in result.all_events:
        if event.is_step_failure:
            error = event.event_specific_data.error
            while error.cause is not None:
                error = error.cause
            reasons.append(f"{event.step_key}: {error.message.strip()}")
    return reasons


def report_run(result) -> int:
    for reason in step_failures(result):
        print(f"FAILED {reason}")
    for event in result.all_events:
        if event.event_type_value == "ASSET_CHECK_EVALUATION":
            data = event.event_specific_data
            if not data.passed:
                print(
                    f"CHECK FAILED {data.asset_key.to_user_string()}:{data.check_name}: {data.description}"
                )
    return 0 if result.success else 1


def cmd_promote(args, settings: Settings) -> int:
    from lake_assets.ingestion.assets import curated_key_of

    settings.source(args.source)
    result = materialize_partitions(settings, [curated_key_of(args.source)], args.date, args.to)
    return report_run(result)


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
    from lake_assets.ingestion.assets import curated_key_of
    from lake_assets.ingestion.late_arrivals import late_arrivals

    settings.source(args.source)
    pending = [a for a in late_arrivals(_resources(settings)["storage"], args.source) if a.pending]
    dates = [d for a in pending for d in a.event_dates]
    if not dates:
        print(f"{args.source}: nothing to fold in")
        return 0
    failed = 0
    for first, last in date_ranges(dates):
        print(f"{args.source}: re-promoting {first}..{last}")
        failed |= report_run(
            materialize_partitions(settings, [curated_key_of(args.source)], first, last)
        )
    return failed


def cmd_lateness(args, settings: Settings) -> int:
    from lake_assets.ingestion.lateness import LatenessReport, lateness_plan
    from lake_assets.tables.reader import resolve_published
    from resources.spark_runner import run_standalone

    source = settings.source(args.source)
    res = _resources(settings)
    resolved = resolve_published(res["catalog"], res["storage"], source.source_id)
    plan = lateness_plan(resolved, source.event_time_field)
    result = run_standalone(res["spark_runner"], "lateness", plan)
    print(LatenessReport.from_result(source.source_id, result).describe(source.lookback_days))
    return 0


def cmd_quarantine_replay(args, settings: Settings) -> int:
    """Re-validate a partition's rows after an upstream fix: the partition is promoted again
    from its raw files, so rows that now pass are published (once: the partition is replaced)
    and the rest stay quarantined."""
    from lake_assets.ingestion.assets import curated_key_of
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


# --- status and demo -------------------------------------------------------------------------


def reconcile_sources(settings: Settings, resources: dict) -> dict:
    """Every source's row reconciliation, by source id."""
    from lake_assets.ingestion.reconciliation import reconcile_source

    return {
        sid: reconcile_source(
            source, resources["storage"], resources["registry"], resources["catalog"]
        )
        for sid, source in sorted(settings.sources.items())
    }


def lake_summary(settings: Settings, resources: dict, accounts: dict | None = None) -> str:
    """Rows per zone and day, registry versions, dead-lettered files and each source's row
    reconciliation (`accounts`, computed if not given), as text."""
    from lake_assets.tables.manifest import read_manifest

    accounts = accounts if accounts is not None else reconcile_sources(settings, resources)

    storage, registry, catalog = resources["storage"], resources["registry"], resources["catalog"]
    lines = [f"lake at {storage.uri('')}"]
    for sid in sorted(settings.sources):
        lines.append(f"\n== {sid}")
        raw_rows: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
        for record in registry.raw_files(sid):
            counts = raw_rows[record.ingest_date]
            counts[0] += 1
            counts[1] += record.row_count
            counts[2] += record.status == "DEAD_LETTER"
        lines.append("raw (ingest date: files, rows, dead-lettered files)")
        lines += [
            f"  {d}: {f} files, {r} rows, {dl} dead-lettered"
            for d, (f, r, dl) in sorted(raw_rows.items())
        ]
        lines.append("curated (event date: published rows, quarantined rows, run)")
        for part in catalog.partitions(sid):
            manifest = read_manifest(storage, part)
            lines.append(
                f"  {part.partition}: {part.row_count} rows, {manifest['rows_quarantined']} quarantined,"
                f" run {part.run_id[:8]}, schema {part.schema_version}"
            )
        lines.append("registry versions")
        for version in registry.versions(sid):
            renames = f" renames {version.approved_renames}" if version.approved_renames else ""
            lines.append(f"  {version.version} {version.status}{renames}")
        dead = [r for r in registry.raw_files(sid) if r.status == "DEAD_LETTER"]
        if dead:
            lines.append("dead-lettered files")
            lines += [f"  {r.key}: {r.reason}" for r in dead]
        lines.append("reconciliation (rows)")
        lines += accounts[sid].lines()
    return "\n".join(lines)


def cmd_status(args, settings: Settings) -> int:
    """Exits 1 when a source's rows do not balance, so a scheduled check can alert on it."""
    resources = _resources(settings)
    accounts = reconcile_sources(settings, resources)
    print(lake_summary(settings, resources, accounts))
    return 0 if all(account.balanced for account in accounts.values()) else 1


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

    p = sub.add_parser("ingest", help="land payloads in the raw zone (never rejects one)")
    p.add_argument("--source", required=True)
    p.add_argument("--ingest-date", type=_date_argument, help="YYYY-MM-DD; default today (UTC)")
    p.add_argument("files", nargs="+", type=Path)
    p.set_defaults(run=cmd_ingest)

    p = sub.add_parser(
        "profile", help="profile raw payloads not yet profiled (what the sensor triggers)"
    )
    p.add_argument("--source")
    p.add_argument("--date", type=_date_argument, help="only this ingest date")
    p.set_defaults(run=cmd_profile)

    registry = sub.add_parser(
        "registry", help="inspect and approve schema versions"
    ).add_subparsers(dest="registry_command", required=True)
    p = registry.add_parser("show", help="versions of a source with their diffs")
    p.add_argument("source")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_registry_show)
    p = registry.add_parser("diff", help="field changes between two versions")
    p.add_argument("source")
    p.add_argument("old")
    p.add_argument("new")
    p.set_defaults(run=cmd_registry_diff)
    p = registry.add_parser("approve", help="accept a BREAKING version")
    p.add_argument("source")
    p.add_argument("version")
    p.add_argument("--rename", action="append", default=[], metavar="NEW=OLD")
    p.add_argument("--accept-removal", action="append", default=[], metavar="FIELD")
    p.add_argument("--accept-type-change", action="append", default=[], metavar="FIELD")
    p.set_defaults(run=cmd_registry_approve)

    p = sub.add_parser("promote", help="materialize curated partitions (one run for a range)")
    p.add_argument("--source", required=True)
    p.add_argument("--date", required=True, type=_date_argument, help="first event date YYYY-MM-DD")
    p.add_argument("--to", type=_date_argument, help="last event date of a range")
    p.set_defaults(run=cmd_promote)

    late = sub.add_parser("late", help="records later than the lookback window").add_subparsers(
        dest="late_command", required=True
    )
    p = late.add_parser("list", help="late arrivals held for a source")
    p.add_argument("source")
    p.set_defaults(run=cmd_late_list)
    p = late.add_parser("fold-in", help="re-promote the event dates of pending late arrivals")
    p.add_argument("source")
    p.set_defaults(run=cmd_late_fold_in)

    p = sub.add_parser("lateness", help="lateness percentiles and the lookback that catches 99%%")
    p.add_argument("source")
    p.set_defaults(run=cmd_lateness)

    quarantine = sub.add_parser("quarantine", help="quarantined rows").add_subparsers(
        dest="quarantine_command", required=True
    )
    p = quarantine.add_parser("replay", help="re-validate and publish what now passes")
    p.add_argument("dataset")
    p.add_argument("--partition", required=True, type=_date_argument)
    p.set_defaults(run=cmd_quarantine_replay)

    from lake_assets.compaction.cli import add_compaction_commands
    from lake_assets.events.cli import add_event_commands
    from lake_assets.history.cli import add_scd_commands
    from lake_assets.ingestion.dead_letter_cli import add_dead_letter_commands
    from lake_assets.ingestion.raw_cli import add_raw_commands
    from lake_assets.ingestion.retention_cli import add_retention_commands
    from lake_assets.lineage.cli import add_lineage_commands
    from lake_assets.runtime.cli import add_deploy_commands

    add_event_commands(sub, _resources)
    add_lineage_commands(sub, _resources)
    add_compaction_commands(sub, _resources)
    add_scd_commands(sub, _resources)
    add_dead_letter_commands(sub, _resources)
    add_retention_commands(sub, _resources)
    add_raw_commands(sub, _resources)
    add_deploy_commands(sub, _resources)

    p = sub.add_parser(
        "status", help="rows per zone and day, versions, dead letters, row reconciliation"
    )
    p.set_defaults(run=cmd_status)

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


if __name__ == "__main__":
    sys.exit(main())
