"""`lake deploy`: build the Spark jobs' code and upload it where EMR Serverless runs it from;
with `--config pipelines/<name>.yaml`, also that generated pipeline's Glue table and Terraform
module (lake_assets/pipelines/deploy.py)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lake_assets.runtime.deploy import DeployError, deploy_code
from lake_assets.settings import Settings

ResourcesFor = Callable[[Settings], dict[str, Any]]


def _deploy_pipeline(args: argparse.Namespace, settings: Settings, resources_for) -> int:
    from lake_assets.pipelines.deploy import DeployRefused, deploy_pipeline

    try:
        # The refusal names what is missing before any resource (which needs the aws
        # profile's settings) is built.
        resources = resources_for(settings) if settings.profile == "aws" else {}
        done = deploy_pipeline(
            settings, resources, Path(args.config), apply=args.apply, var_file=args.var_file
        )
    except (DeployRefused, DeployError) as error:
        print(f"lake: error: {error}", file=sys.stderr)
        return 2
    for line in done.lines:
        if line:
            print(line)
    return 0 if done.complete else 1


def add_deploy_commands(subparsers: Any, resources_for: ResourcesFor) -> None:
    def deploy(args: argparse.Namespace, settings: Settings) -> int:
        if args.config:
            return _deploy_pipeline(args, settings, resources_for)
        if args.apply or args.var_file:
            raise ValueError(
                "--apply and --var-file are for a pipeline's Terraform module: name its --config"
            )
        if settings.profile != "aws":
            raise ValueError(
                "lake deploy uploads the Spark jobs' code for EMR Serverless to the aws "
                "profile's lake bucket; set LAKE_PROFILE=aws and the variables of "
                "`terraform output lake_env` (the local profile runs the code in place)"
            )
        storage = resources_for(settings)["storage"]
        try:
            report = deploy_code(storage)
        except DeployError as error:
            print(f"lake: error: {error}", file=sys.stderr)
            return 2
        for line in report.lines(storage):
            print(line)
        return 0

    p = subparsers.add_parser(
        "deploy",
        help="build the Spark jobs' code (wheel, entry script) and upload what changed to _code/; "
        "with --config, also a generated pipeline's Glue table and Terraform module",
    )
    p.add_argument(
        "--config",
        metavar="SPEC",
        help="pipelines/<name>.yaml: deploy that generated pipeline (code, Glue table, "
        "terraform plan of module.pipeline_<name>)",
    )
    p.add_argument(
        "--apply", action="store_true", help="with --config: terraform apply instead of plan"
    )
    p.add_argument(
        "--var-file",
        type=Path,
        metavar="TFVARS",
        help="with --config: the environment's variables for the plan or apply "
        "(terraform/env/<env>.tfvars)",
    )
    p.set_defaults(run=deploy)
