"""`lake ingest|profile|status`: land payloads, profile them, and where every row is."""

from __future__ import annotations

import argparse
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

from lake_assets.cli.runs import _resources, date_argument
from lake_assets.settings import Settings

# --- ingest and profile ----------------------------------------------------------------------


def _calendar(settings: Settings):
    from lake_assets.ingestion.raw_zone import PartitionCalendar

    return PartitionCalendar.until_today(settings.partitions_start)


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
    from lake_assets.alarms.model import profiling_counts
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
        for name, count in profiling_counts(summary).items():
            res["metrics"].count(name, count)  # as the registry asset counts them
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


# --- status ----------------------------------------------------------------------------------


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
        if settings.sources[sid].history:
            from lake_assets.history.status import history_status

            status = history_status(catalog, storage, settings.sources[sid])
            lines += ["history", f"  {status.headline()}"]
        lines.append("reconciliation (rows)")
        lines += accounts[sid].lines()
    return "\n".join(lines)


def cmd_status(args, settings: Settings) -> int:
    """Exits 1 when a source's rows do not balance, or raw/ holds objects no declared source
    owns (received, never profiled), so a scheduled check can alert on either."""
    from lake_assets.ingestion.intake import undeclared_raw_folders
    from lake_assets.layers.cli import layers_summary

    resources = _resources(settings)
    accounts = reconcile_sources(settings, resources)
    print(lake_summary(settings, resources, accounts))
    undeclared = undeclared_raw_folders(resources["storage"], settings.sources)
    if undeclared:
        print("\n== raw folders no declared source owns (never profiled: declare the source)")
        print("\n".join(f"  {folder}: {n} objects" for folder, n in undeclared.items()))
    print("\n".join(layers_summary(resources)))
    balanced = all(account.balanced for account in accounts.values())
    return 0 if balanced and not undeclared else 1


def add_intake_commands(sub: argparse._SubParsersAction) -> None:
    """Register `ingest` and `profile`."""
    p = sub.add_parser("ingest", help="land payloads in the raw zone (never rejects one)")
    p.add_argument("--source", required=True)
    p.add_argument("--ingest-date", type=date_argument, help="YYYY-MM-DD; default today (UTC)")
    p.add_argument("files", nargs="+", type=Path)
    p.set_defaults(run=cmd_ingest)

    p = sub.add_parser(
        "profile", help="profile raw payloads not yet profiled (what the sensor triggers)"
    )
    p.add_argument("--source")
    p.add_argument("--date", type=date_argument, help="only this ingest date")
    p.set_defaults(run=cmd_profile)


def add_status_commands(sub: argparse._SubParsersAction) -> None:
    """Register `status`."""
    p = sub.add_parser(
        "status", help="rows per zone and day, versions, dead letters, row reconciliation"
    )
    # The lake's health check (exit 1 when rows do not balance) covers its config too.
    p.set_defaults(run=cmd_status, checks_config=True)
