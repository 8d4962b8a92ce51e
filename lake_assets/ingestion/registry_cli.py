"""`lake registry show|diff|approve`: a source's schema versions, and an operator's approval."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime

from lake_assets.cli.runs import _resources, dagster_instance
from lake_assets.settings import Settings

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
    from lake_assets.ingestion.checks import SCHEMA_CHECK, record_schema_verdict
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
    # The webserver shows the registry's check as of its last run: record the verdict now.
    recorded = record_schema_verdict(
        dagster_instance(), args.source, registry.versions(args.source)
    )
    if recorded:
        print(
            f"{SCHEMA_CHECK}: new result for {len(recorded)} ingest dates "
            f"({recorded[0]}..{recorded[-1]})"
        )
    return 0


def add_registry_commands(sub: argparse._SubParsersAction) -> None:
    """Register `registry show|diff|approve`."""
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
    p.set_defaults(run=cmd_registry_approve, checks_config=True)
