"""`lake platform instance --outputs outputs.json [--out dagster.yaml]`: the production
dagster.yaml from the JSON of `terraform output -json`, printed or written where the image build
expects it (deploy/dagster/dagster.yaml)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_platform_commands(subparsers: Any) -> None:
    def instance(args: argparse.Namespace, settings: None) -> int:
        from lake_assets.platform.instance import instance_yaml, load_instance_output

        text = instance_yaml(load_instance_output(args.outputs))
        if args.out is None:
            print(text, end="")
            return 0
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
        print(f"{args.out}: Dagster's production instance (copy it into the image's DAGSTER_HOME)")
        return 0

    platform = subparsers.add_parser(
        "platform", help="the platform Dagster runs on in AWS: its instance (dagster.yaml)"
    ).add_subparsers(dest="platform_command", required=True)
    p = platform.add_parser(
        "instance", help="render the production dagster.yaml from `terraform output -json`"
    )
    p.add_argument(
        "--outputs",
        type=Path,
        required=True,
        help="the JSON of `terraform -chdir=terraform output -json`",
    )
    p.add_argument("--out", type=Path, help="write the file here (default: print it)")
    # Terraform's outputs are all it reads: no lake settings, which may not be set where the
    # image is built.
    p.set_defaults(run=instance, needs_settings=False)
