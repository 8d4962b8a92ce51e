"""`lake table versions DATASET PARTITION [--as-of TIME]` and `lake table rollback DATASET
PARTITION --to RUN`: the versions a partition keeps (or the one current at a time), and a bad
publish undone (tables/rollback.py, ADR-0134)."""

from __future__ import annotations

import argparse
import json
import uuid
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from lake_assets.settings import Settings

ResourcesFor = Callable[[Settings], dict[str, Any]]


def add_table_commands(subparsers: Any, resources_for: ResourcesFor) -> None:
    def versions(args: argparse.Namespace, settings: Settings) -> int:
        from lake_assets.instants import parse_instant
        from lake_assets.tables.rollback import current_at, kept_versions

        resources = resources_for(settings)
        storage = resources["storage"]
        found = kept_versions(resources["catalog"], storage, args.dataset, args.partition)
        if not found:
            raise LookupError(f"{args.dataset}[{args.partition}] is not published")
        if args.as_of is not None:
            instant = parse_instant(args.as_of)
            then = current_at(found, instant)
            if then is None:
                raise LookupError(
                    f"{args.dataset}[{args.partition}] keeps no version current at "
                    f"{instant.isoformat()}: the oldest it keeps was published "
                    f"{found[-1].entry.published_at} (superseded versions are kept "
                    f"{settings.retention_days} days, LAKE_RETENTION_DAYS)"
                )
            found = [then]
        if args.json:
            print(json.dumps([{**asdict(v.entry), "files": list(v.files),
                               "superseded_at": v.superseded_at,
                               "uri": storage.uri(v.entry.location)} for v in found], indent=2))  # fmt: skip
            return 0
        for version in found:
            entry = version.entry
            state = (
                "current"
                if version.superseded_at is None
                else f"kept, superseded {version.superseded_at}"
            )
            print(f"{entry.run_id}  published {entry.published_at}  {entry.row_count:,} rows  "
                  f"{len(version.files)} files  {state}\n    {storage.uri(entry.location)}")  # fmt: skip
        return 0

    def rollback(args: argparse.Namespace, settings: Settings) -> int:
        from lake_assets.events.outbox import drain
        from lake_assets.lineage.emitter import recorder_for
        from lake_assets.tables.rollback import roll_back

        resources = resources_for(settings)
        storage, catalog, events = resources["storage"], resources["catalog"], resources["events"]
        recorder = recorder_for(resources["lineage"], settings.state_dir, storage.uri(""))
        run_id = f"rollback-{uuid.uuid4()}"
        entry = roll_back(catalog, storage, events, recorder, args.dataset, args.partition,
                          args.to, run_id)  # fmt: skip
        # Announced now, not at the next sensor tick: what reads the partition rebuilds.
        drain(events, catalog, recorder, datetime.now(UTC), timedelta(days=settings.retention_days))
        print(f"{args.dataset}[{args.partition}]: version {run_id} is current, a copy of run "
              f"{args.to}'s {entry.row_count:,} rows; the version it replaced is kept for "
              f"{settings.retention_days} days (lake table versions {args.dataset} {args.partition})")  # fmt: skip
        return 0

    table = subparsers.add_parser(
        "table", help="a partition's kept versions, and rolling back to one"
    ).add_subparsers(dest="table_command", required=True)
    p = table.add_parser("versions", help="the current version and those kept, newest first")
    p.add_argument("dataset")
    p.add_argument("partition")
    p.add_argument(
        "--as-of",
        metavar="TIME",
        help="only the version readers saw at TIME (ISO 8601; UTC without an offset)",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=versions)
    p = table.add_parser(
        "rollback", help="make a kept version current again, as a new version (ADR-0134)"
    )
    p.add_argument("dataset")
    p.add_argument("partition")
    p.add_argument("--to", required=True, metavar="RUN_ID", help="the run that published it")
    p.set_defaults(run=rollback)
