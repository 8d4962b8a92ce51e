"""The AWS calls dagster-aws's ECS run launcher makes, read from its installed source, so that
the Dagster daemon's and webserver's grants (terraform/ecs_iam.tf) are checked against the
library's code rather than a hand-written list, as is the one call of its Pipes EMR Serverless
client that no test provokes (`pipes_termination_calls`); an upgrade of dagster-aws that calls
something new fails tests/test_terraform_dagster.py (the launcher) or tests/test_terraform.py
(the Pipes client) until the grant (or the reason it is not needed) is added.

The launcher holds its boto3 clients as attributes named after the service (`self.ecs`,
`self.ec2`, `self.secrets_manager`, `self.logs`) and hands them to its helpers under the same
names (`ecs`, `ec2`, `secrets_manager`, `logs_client`): every method called on one of these names
in the launcher's modules is an API call. `get_paginator("x")` pages through operation x, and
`ec2.NetworkInterface(...)` is a boto3 resource whose attributes load through the request boto3's
resource model names.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from functools import cache
from types import ModuleType

import boto3
import dagster_aws.ecs.launcher
import dagster_aws.ecs.tasks
import dagster_aws.ecs.utils
import dagster_aws.secretsmanager.secrets
from botocore import xform_name
from botocore.session import get_session
from dagster_aws.pipes import PipesEMRServerlessClient
from iam_grants import iam_action

# The launcher and the helpers it calls (the secrets helpers list tagged secrets or name ARNs).
LAUNCHER_MODULES: tuple[ModuleType, ...] = (
    dagster_aws.ecs.launcher,
    dagster_aws.ecs.tasks,
    dagster_aws.ecs.utils,
    dagster_aws.secretsmanager.secrets,
)
LAUNCHER_CLASS = dagster_aws.ecs.launcher.EcsRunLauncher

# The names the launcher's code gives its clients -> boto3 service name.
CLIENT_NAMES = {
    "ecs": "ecs",
    "ec2": "ec2",
    "secrets_manager": "secretsmanager",
    "logs": "logs",
    "logs_client": "logs",
}


def _receiver(node: ast.expr) -> str | None:
    """`self.ecs` or `ecs` -> 'ecs'; anything else -> None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        return node.value.id == "self" and node.attr or None
    return None


@cache
def _operations(service: str) -> dict[str, str]:
    """python method name -> API operation of a boto3 client ('run_task' -> 'RunTask')."""
    model = get_session().get_service_model(service)
    return {xform_name(name): name for name in model.operation_names}


@cache
def _resource_loads(service: str) -> dict[str, str]:
    """boto3 resource class -> the operation that loads its attributes."""
    loader = boto3.session.Session()._session.get_component("data_loader")
    resources = loader.load_service_model(service, "resources-1")["resources"]
    return {
        name: spec["load"]["request"]["operation"]
        for name, spec in resources.items()
        if "load" in spec
    }


def _calls_in(tree: ast.AST, clients: dict[str, str] = CLIENT_NAMES) -> set[tuple[str, str]]:
    """(service, operation) of each call on a client named as in `clients` (name -> service)."""
    found = set()
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        service = clients.get(_receiver(node.func.value) or "")
        if service is None:
            continue
        method = node.func.attr
        if method == "get_paginator" and node.args and isinstance(node.args[0], ast.Constant):
            method = node.args[0].value
        if method in _operations(service):
            found.add((service, _operations(service)[method]))
        elif method in _resource_loads(service):
            found.add((service, _resource_loads(service)[method]))
    return found


def _as_actions(calls: set[tuple[str, str]]) -> set[str]:
    return {iam_action(service, operation) for service, operation in calls}


def actions_in_source(source: str) -> frozenset[str]:
    """The IAM action of every API call in a piece of Python source, read as the launcher's."""
    return frozenset(_as_actions(_calls_in(ast.parse(textwrap.dedent(source)))))


@cache
def launcher_actions() -> frozenset[str]:
    """The IAM action of every API call in the launcher's modules."""
    return frozenset().union(*(actions_in_source(inspect.getsource(m)) for m in LAUNCHER_MODULES))


def launcher_method_actions(*methods: str) -> frozenset[str]:
    """The IAM actions of the calls the launcher's own methods make directly (not through its
    helpers): what a process that only builds the launcher and calls these methods needs."""
    sources = (inspect.getsource(getattr(LAUNCHER_CLASS, method)) for method in methods)
    return frozenset().union(*(actions_in_source(source) for source in sources))


def pipes_termination_calls() -> frozenset[tuple[str, str]]:
    """(service, operation) of what dagster-aws's Pipes EMR Serverless client calls when the
    Dagster run it serves is terminated (forward_termination: it cancels the job run, through
    its client `self.client`). No test terminates a run while its job runs on the fake EMR, so
    the orchestrator's grant for it is read from the client's source, as the launcher's are."""
    source = inspect.getsource(PipesEMRServerlessClient._terminate)
    return frozenset(_calls_in(ast.parse(textwrap.dedent(source)), {"client": "emr-serverless"}))
