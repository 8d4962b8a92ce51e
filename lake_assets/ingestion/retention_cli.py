"""`lake retention sweep`: what the promotion's expire step does, for every dataset at once."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from lake_assets.ingestion.retention import sweep_orphans
from lake_assets.settings import Settings
from lake_assets.tables.publish import expire_superseded

ResourcesFor = Callable[[Settings], dict[str, Any]]


def add_retention_commands(subparsers: Any, resources_for: ResourcesFor) -> None:
    def sweep(args: argparse.Namespace, settings: Settings) -> int:
        resources = resources_for(settings)
        catalog, storage = resources["catalog"], resources["storage"]
        expired = (
            [] if args.dry_run else expire_superseded(catalog, storage, settings.retention_days)
        )
        datasets = [args.dataset] if args.dataset else None
        retention = timedelta(days=settings.retention_days)
        done = sweep_orphans(catalog, storage, retention, datasets, dry_run=args.dry_run)
        verb = "would delete" if args.dry_run else "deleted"
        for folder in done.deleted:
            print(f"{verb} {folder}")
        print(
            f"{len(expired)} superseded versions expired, {len(done.deleted)} orphan folders "
            f"{verb}, {len(done.recent)} kept (younger than {settings.retention_days} days)"
        )
        return 0

    retention = subparsers.add_parser(
        "retention", help="superseded versions and orphan run folders past the retention"
    ).add_subparsers(dest="retention_command", required=True)
    p = retention.add_parser(
        "sweep", help="expire superseded versions, delete run folders nothing references"
    )
    p.add_argument("--dataset", help="one dataset (default: all)")
    p.add_argument("--dry-run", action="store_true", help="list, delete nothing")
    p.set_defaults(run=sweep)
