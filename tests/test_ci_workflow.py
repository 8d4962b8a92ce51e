"""CI (.github/workflows/ci.yml) runs the suite as `.ci/run` does, and deploys the job code only
from main, only after the suite passed, with the deploy role terraform/cicd.tf declares, which
GitHub's OIDC token for that job alone may assume (ADR-0143). GitHub cannot run here: these
check the files that say what it will do."""

from __future__ import annotations

import re

import pytest
import yaml
from aws_calls import load_recording
from iam_grants import grants_of
from terraform_config import (
    REPO_ROOT,
    as_list,
    document_reference,
    policy_documents,
    resources_of,
    statements_of,
    terraform_config,
)

WORKFLOW = REPO_ROOT / ".github" / "workflows" / "ci.yml"
SETTINGS_FILE = REPO_ROOT / "lake_assets" / "settings.py"
PINNED = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+@[0-9a-f]{40}$")
OIDC_HOST = "token.actions.githubusercontent.com"


@pytest.fixture(scope="module")
def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


@pytest.fixture(scope="module")
def config() -> dict[str, list]:
    return terraform_config()


def _runs(job: dict) -> list[str]:
    return [step["run"] for step in job["steps"] if "run" in step]


def test_every_push_and_pull_request_runs_the_suite_as_ci_run_does(workflow):
    # PyYAML reads the key `on` as the boolean True (YAML 1.1).
    triggers = workflow[True]
    assert triggers["push"]["branches"] == ["main"] and "pull_request" in triggers
    test = workflow["jobs"]["test"]
    assert ".ci/run" in _runs(test)
    assert (REPO_ROOT / ".ci" / "run").read_text().rstrip().endswith("make test")
    # The project's machines: Debian 12 with Python 3.11, Java 17 for local Spark.
    assert test["container"] == "python:3.11-bookworm"
    assert any("openjdk-17" in run for run in _runs(test))


def test_the_code_is_deployed_from_main_only_after_the_suite_passed(workflow):
    deploy = workflow["jobs"]["deploy"]
    assert deploy["needs"] == "test"
    assert deploy["if"] == "github.event_name == 'push' && github.ref == 'refs/heads/main'"
    # Only this job may ask GitHub for an OIDC token; the workflow's default is read-only.
    assert workflow["permissions"] == {"contents": "read"}
    assert deploy["permissions"] == {"contents": "read", "id-token": "write"}
    assert deploy["steps"][-1]["run"] == "make install && .venv/bin/lake deploy"


def test_the_deploy_job_sets_only_settings_the_aws_profile_reads(workflow):
    read = set(re.findall(r'env\.get\("(LAKE_[A-Z0-9_]+)"', SETTINGS_FILE.read_text()))
    env = workflow["jobs"]["deploy"]["steps"][-1]["env"]
    assert env["LAKE_PROFILE"] == "aws"
    assert set(env) <= read, f"settings.py does not read {sorted(set(env) - read)}"


def test_every_action_is_pinned_to_a_commit(workflow):
    uses = [s["uses"] for job in workflow["jobs"].values() for s in job["steps"] if "uses" in s]
    assert uses and all(PINNED.match(u) for u in uses), [u for u in uses if not PINNED.match(u)]


def test_the_deploy_role_trusts_only_the_repositorys_deploy_job(config):
    role = resources_of(config, "aws_iam_role")["deployer"]
    trust = policy_documents(config)[document_reference(role["assume_role_policy"])]
    (statement,) = statements_of(trust)
    assert as_list(statement["actions"]) == ["sts:AssumeRoleWithWebIdentity"]
    assert statement["principals"][0]["type"] == "Federated"
    conditions = {c["variable"]: c for c in statement["condition"]}
    assert set(conditions) == {f"{OIDC_HOST}:aud", f"{OIDC_HOST}:sub"}
    assert all(c["test"] == "StringEquals" for c in conditions.values())
    assert conditions[f"{OIDC_HOST}:aud"]["values"] == ["sts.amazonaws.com"]
    # One subject, no wildcard: the repository's jobs in the environment's GitHub environment.
    assert conditions[f"{OIDC_HOST}:sub"]["values"] == [
        "repo:${var.github_repository}:environment:"
        "${coalesce(var.github_deploy_environment, var.environment)}"
    ]


def test_the_workflows_environment_defaults_to_terraforms(config, workflow):
    """The deploy job's GitHub environment is what the role's subject names by default."""
    variables = {n: b for entry in config["variable"] for n, b in entry.items()}
    default = variables["environment"]["default"]
    assert workflow["jobs"]["deploy"]["environment"] == (
        f"${{{{ vars.LAKE_DEPLOY_ENVIRONMENT || '{default}' }}}}"
    )


def test_only_the_deployer_may_write_the_code_the_jobs_run():
    """The orchestrator checks the code is there before it submits a job; writing it is CI's."""
    grants = grants_of(load_recording())
    assert ("s3:PutObject", "_code/") in grants["deployer"].objects
    assert ("s3:PutObject", "_code/") not in grants["orchestrator"].objects
    assert ("s3:GetObject", "_code/") in grants["orchestrator"].objects
    assert {zone for _, zone in grants["deployer"].objects} == {"_code/"}
