"""`lake pull SOURCE`: pull a source declared with a `pull:` block now, as its schedule would."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping
from typing import Any

from lake_assets.settings import Settings

ResourcesFor = Callable[[Settings], Mapping[str, Any]]


def add_pull_commands(sub: argparse._SubParsersAction, resources_for: ResourcesFor) -> None:
    """Register `pull`."""
    p = sub.add_parser(
        "pull", help="pull a source from its database into the raw zone (config: pull:)"
    )
    p.add_argument("source", help="a source declared with a pull: block")
    p.add_argument(
        "--force", action="store_true", help="pull even while the source's circuit is open"
    )
    p.set_defaults(run=lambda args, settings: cmd_pull(args, settings, resources_for))


def cmd_pull(args, settings: Settings, resources_for: ResourcesFor) -> int:
    from lake_assets.pull.service import PullFailed, pull_declared_source

    try:
        result = pull_declared_source(
            settings, resources_for(settings), args.source, force=args.force
        )
    except PullFailed as error:
        print(f"lake: error: {error}", file=sys.stderr)
        return 1
    watermark = settings.source(args.source).pull.watermark
    for line in result.summary((watermark.column, watermark.tie_breaker)):
        print(line)
    return 0
