"""`lake lineage trace|impact|resend`: file-level lineage on the command line, and the runs a
lineage server missed sent to it again."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from lake_assets.lineage.graph import impact, render, to_json, trace


def lake_key(path: str, storage: Any) -> str:
    """A lake key from what a person pastes: a key, a partition address or a URI of the lake
    (file:// or s3://, as `storage.uri` writes them)."""
    if storage is not None:
        root = storage.uri("").rstrip("/") + "/"
        if path.startswith(root):
            return path[len(root) :]
    return path


def _print(tree, as_json: bool) -> None:
    print(json.dumps(to_json(tree), indent=2) if as_json else render(tree))


def cmd_lineage_trace(args, settings, resources_for: Callable[[Any], dict]) -> int:
    res = resources_for(settings)
    runs = res["lineage"].runs()
    tree = trace(runs, lake_key(args.path, res.get("storage")), as_of_run=args.as_of_run)
    _print(tree, args.json)
    return 0


def cmd_lineage_impact(args, settings, resources_for: Callable[[Any], dict]) -> int:
    res = resources_for(settings)
    tree = impact(res["lineage"].runs(), lake_key(args.raw_path, res.get("storage")))
    _print(tree, args.json)
    return 0


def cmd_lineage_resend(args, settings, resources_for: Callable[[Any], dict]) -> int:
    import os

    from lake_assets.instants import format_instant
    from lake_assets.lineage.emitter import recorder_for

    url = os.environ.get("LAKE_OPENLINEAGE_URL")
    if not url:
        raise ValueError(
            "LAKE_OPENLINEAGE_URL is not set: without a lineage server the events go to "
            f"{settings.state_dir / 'lineage'}, written as each run happens"
        )
    res = resources_for(settings)
    since = format_instant(args.since)
    recorder = recorder_for(res["lineage"], settings.state_dir, res["storage"].uri(""))
    sent = recorder.resend(since)
    runs = len({event.run.runId for event in sent})
    print(f"sent {len(sent)} events of {runs} runs started since {since} to {url}")
    return 0


def add_lineage_commands(
    subparsers: argparse._SubParsersAction, resources_for: Callable[[Any], dict]
) -> None:
    """Register `lineage trace PATH [--json] [--as-of-run RUN]` and `lineage impact RAW_PATH`;
    each command's `run(args, settings)` takes its store from `resources_for(settings)`."""
    lineage = subparsers.add_parser("lineage", help="file-level lineage").add_subparsers(
        dest="lineage_command", required=True
    )
    p = lineage.add_parser("trace", help="every raw file behind a curated file or partition")
    p.add_argument("path", help="a file key or URI, a partition folder, or DATASET[PARTITION]")
    p.add_argument("--as-of-run", help="trace the version this run produced, not the current one")
    p.add_argument("--json", action="store_true", help="print JSON instead of a tree")
    p.set_defaults(run=lambda args, settings: cmd_lineage_trace(args, settings, resources_for))
    p = lineage.add_parser("impact", help="everything a raw file feeds")
    p.add_argument("raw_path", help="a raw file key or URI")
    p.add_argument("--json", action="store_true", help="print JSON instead of a tree")
    p.set_defaults(run=lambda args, settings: cmd_lineage_impact(args, settings, resources_for))
    p = lineage.add_parser(
        "resend",
        help="send the lineage server again every run recorded since a time (after an outage)",
    )
    p.add_argument("--since", required=True, help="ISO 8601 time; without an offset, UTC")
    p.set_defaults(run=lambda args, settings: cmd_lineage_resend(args, settings, resources_for))
