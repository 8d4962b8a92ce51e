"""`lake generate`: render the pipelines from their specs, check them, upgrade them.

It reads no settings and imports neither Dagster nor Spark: a broken generated file (the very
thing it repairs) would otherwise stop it before it starts. The specs are `$LAKE_SPECS_DIR` or
the repository's pipelines/; generated files go beside that folder (lake_pipelines/,
terraform/pipelines.tf, terraform/pipelines/).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from lake_assets.settings import REPO_ROOT


def add_generate_commands(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "generate",
        help="render pipelines/<name>.yaml into lake_pipelines/ and terraform/ (stamped files)",
    )
    p.add_argument(
        "--config", type=Path, help="one spec, pipelines/<name>.yaml (default: every spec)"
    )
    p.add_argument(
        "--check",
        action="store_true",
        help="write nothing; list outdated, hand-edited, missing and orphaned files and changed "
        "specs, and exit 1 if there is any",
    )
    p.add_argument(
        "--upgrade",
        action="store_true",
        help="also rewrite files generated from an older template version",
    )
    over_edits = p.add_mutually_exclusive_group()
    over_edits.add_argument(
        "--force", action="store_true", help="with --upgrade: overwrite hand edits (printed)"
    )
    over_edits.add_argument(
        "--merge",
        action="store_true",
        help="with --upgrade: merge hand edits three-way onto the new render (git merge-file)",
    )
    p.set_defaults(run=cmd_generate, needs_settings=False)


def cmd_generate(args: argparse.Namespace, settings: None) -> int:
    # Jinja2 and the renderer load only for this command.
    from lake_assets.pipelines.generate import findings, survey
    from lake_assets.pipelines.upgrade import regenerate

    if (args.force or args.merge) and not args.upgrade:
        raise ValueError("--force and --merge act on an upgrade: add --upgrade")
    if args.check and args.upgrade:
        raise ValueError("--check writes nothing: leave out --upgrade")
    if args.config is not None:
        if not args.config.is_file():
            raise FileNotFoundError(f"{args.config}: no such spec")
        specs_dir = args.config.resolve().parent
    else:
        specs_dir = Path(os.environ.get("LAKE_SPECS_DIR", REPO_ROOT / "pipelines")).resolve()
    found = survey(specs_dir.parent, specs_dir, only=args.config)
    if args.check:
        report = findings(found)
        for finding in report:
            print(finding.line())
        if not report:
            print(f"lake generate --check: {len(found.files)} generated files current")
        return 1 if report else 0
    mode = "force" if args.force else "merge" if args.merge else "refuse"
    return regenerate(found, upgrade=args.upgrade, mode=mode)
