"""`lake deploy`: build the Spark jobs' code and upload it where EMR Serverless runs it from."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from lake_assets.runtime.deploy import DeployError, deploy_code
from lake_assets.settings import Settings

ResourcesFor = Callable[[Settings], dict[str, Any]]


def add_deploy_commands(subparsers: Any, resources_for: ResourcesFor) -> None:
    def deploy(args: argparse.Namespace, settings: Settings) -> int:
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
        help="build the Spark jobs' code (wheel, entry script) and upload what changed to _code/",
    )
    p.set_defaults(run=deploy)
