"""`lake dr export|check|restore`: the catalog exported into the bucket, and a lake opened from a
replica of the bucket (docs/runbooks/disaster-recovery.md)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from lake_assets.recovery.model import ALREADY, KEPT, RESTORE, RecoveryPlan
from lake_assets.settings import Settings

ResourcesFor = Callable[[Settings], dict[str, Any]]
# The schedule exports every 15 minutes (the replication's RPO, terraform/dr.tf): an export
# older than an hour means the schedule stopped, and the restore would lose that hour.
DEFAULT_MAX_AGE_MINUTES = 60


def describe(plan: RecoveryPlan, storage_uri: str, now: datetime) -> list[str]:
    export = plan.export
    age = (now - export.exported_at).total_seconds() / 60
    datasets = {p.dataset for p in plan.partitions}
    lines = [
        f"catalog export {storage_uri}{export.key} (exported {export.exported_at.isoformat()}, "
        f"{age:.0f} minutes ago): {len(plan.partitions)} partitions of {len(datasets)} datasets",
        "  " + ", ".join(f"{n} {outcome}" for outcome, n in sorted(plan.counts().items())),
    ]
    for item in plan.older:
        lines.append(
            f"  {item.dataset}[{item.partition}]: at run {item.version.run_id} from the older "
            f"export {item.from_export}; the newest export's version is not all here: "
            f"{item.missing[0]}"
        )
    for item in plan.lost:
        lines.append(
            f"  LOST {item.dataset}[{item.partition}]: no exported version is complete here: "
            f"{item.missing[0]}; rebuild it from raw (lake promote, lake layer build)"
        )
    if plan.published_after:
        lines.append(
            f"  published after the export, not restored ({len(plan.published_after)} "
            "partitions): rebuild these days from raw (lake promote, lake build)"
        )
        lines.extend(
            f"    {p.dataset}[{p.partition}] run {p.run_id} published {p.published_at}"
            for p in plan.published_after[:20]
        )
    kept = [p for p in plan.partitions if p.outcome == KEPT]
    for item in kept[:10]:
        lines.append(
            f"  kept {item.dataset}[{item.partition}]: this catalog holds run {item.replaces}, "
            f"the export {item.version.run_id} (--replace puts the export's back)"
        )
    return lines


def as_json(plan: RecoveryPlan) -> dict:
    return {
        "export": plan.export.key,
        "exported_at": plan.export.exported_at.isoformat(),
        "counts": plan.counts(),
        "published_after": [asdict(p) for p in plan.published_after],
        "partitions": [
            {"dataset": p.dataset, "partition": p.partition, "outcome": p.outcome,
             "run_id": p.version.run_id if p.version else None, "from_export": p.from_export,
             "older": p.older, "missing": list(p.missing)}
            for p in plan.partitions
        ],
    }  # fmt: skip


def add_recovery_commands(subparsers: Any, resources_for: ResourcesFor) -> None:
    def export(args: argparse.Namespace, settings: Settings) -> int:
        from lake_assets.recovery.service import export_catalog

        resources = resources_for(settings)
        storage = resources["storage"]
        key, count, removed = export_catalog(
            resources["catalog"], storage, datetime.now(UTC),
            timedelta(days=settings.retention_days),
        )  # fmt: skip
        print(f"exported {count} partitions to {storage.uri(key)}; {removed} exports older than "
              f"{settings.retention_days} days removed")  # fmt: skip
        return 0

    def check_or_restore(args: argparse.Namespace, settings: Settings) -> int:
        from lake_assets.recovery.service import recovery_plan, restore

        resources = resources_for(settings)
        storage, catalog = resources["storage"], resources["catalog"]
        now = datetime.now(UTC)
        plan = recovery_plan(catalog, storage, replace=args.replace)
        restored = restore(catalog, plan) if args.dr_command == "restore" else 0
        if args.json:
            print(json.dumps(as_json(plan) | {"restored": restored}, indent=2))
        else:
            print("\n".join(describe(plan, storage.uri(""), now)))
            if args.dr_command == "restore":
                print(f"restored {restored} partitions into the catalog; "
                      f"{plan.counts().get(ALREADY, 0)} were already there; "
                      f"{len(plan.superseded)} superseded versions kept for rollback")  # fmt: skip
            elif plan.counts().get(RESTORE):
                print("lake dr restore puts them into this lake's catalog")
            elif not plan.lost:
                print("nothing to restore: this catalog holds every exported partition")
        stale = now - plan.export.exported_at > timedelta(minutes=args.max_age_minutes)
        if stale:
            print(f"the newest export is older than {args.max_age_minutes} minutes: is the "
                  "recovery/catalog_export schedule running?")  # fmt: skip
        return 1 if plan.lost or stale else 0

    dr = subparsers.add_parser(
        "dr", help="disaster recovery: the catalog exported into the bucket, restored from it"
    ).add_subparsers(dest="dr_command", required=True)
    p = dr.add_parser("export", help="write every current catalog pointer to _recovery/catalog/")
    p.set_defaults(run=export)
    for name, help_text in (
        ("check", "what a restore from this bucket's newest export would do (changes nothing)"),
        ("restore", "put each exported partition back in this lake's catalog"),
    ):
        p = dr.add_parser(name, help=help_text)
        p.add_argument("--max-age-minutes", type=int, default=DEFAULT_MAX_AGE_MINUTES,
                       help="fail (exit 1) when the newest export is older (60)")  # fmt: skip
        p.add_argument("--json", action="store_true")
        if name == "restore":
            p.add_argument("--replace", action="store_true",
                           help="also put back partitions this catalog holds at another version")  # fmt: skip
        else:
            p.set_defaults(replace=False)
        p.set_defaults(run=check_or_restore)
