"""Dagster's instance (its dagster.yaml): what every home of the lake decides alike, and the
production instance rendered from Terraform's outputs.

Two homes, one vocabulary. A local home (`lake setup-home`, lake_assets/cli/runs.py) keeps the
embedded default (SQLite under DAGSTER_HOME, runs as local processes) and adds `LAKE_TELEMETRY`
and `run_queue(LOCAL_MAX_CONCURRENT_RUNS)`. The production home, rendered here from
`terraform output -json` (its `dagster_instance` output), keeps runs, events and schedules in
PostgreSQL (RDS), starts each run as an ECS task of the "run" task definition Terraform declares,
and ships compute logs to S3; it adds the same two settings, with its own run cap.

No secret is ever in the file: the database's username and password are read from the
environment (DAGSTER_PG_USERNAME, DAGSTER_PG_PASSWORD), which ECS fills from the secret RDS
manages, whose ARN the file names in a comment only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from lake_assets.config import NO_UNKNOWN_KEYS, ConfigError, load_config

# Settings every home of the lake has. No telemetry: its banner would print in the middle of a
# command's output, and a bank's platform sends nothing to a vendor.
LAKE_TELEMETRY = {"enabled": False}
# A laptop runs each run as a local process with its own Spark: two at a time, so a webserver
# started over a backlog (`make dev` after `make demo`) queues the rest.
LOCAL_MAX_CONCURRENT_RUNS = 2
# Production runs each run in its own Fargate task, so the cap is about the shared services, not
# one machine: every run holds a few PostgreSQL connections (the db.t4g.medium default allows
# about 400) and may submit Spark jobs to the one EMR Serverless application.
PRODUCTION_MAX_CONCURRENT_RUNS = 10


def run_queue(max_concurrent_runs: int) -> dict[str, Any]:
    """The `concurrency:` block that caps runs in flight; further runs wait in the queue."""
    return {"runs": {"max_concurrent_runs": max_concurrent_runs}}


# How long the daemon's tick history is kept, in days (-1: forever). The arrivals sensor ticks
# every few seconds: its skipped ticks are noise after a week; failures are kept for the
# post-mortem of a quarter.
TICK_RETENTION = {
    "schedule": {"purge_after_days": {"skipped": 30, "success": 90, "failure": 90}},
    "sensor": {"purge_after_days": {"skipped": 7, "success": 30, "failure": 90}},
}
# A Fargate task pulls the image (Java and Spark included) before the run starts: give it ten
# minutes before run monitoring calls the start failed (Dagster's default is three).
RUN_START_TIMEOUT_SECONDS = 600
# A run whose worker died (its Fargate task stopped, out of memory, its host replaced) is
# launched again, at most twice, from the steps that had not succeeded; a run whose asset or
# check failed is not: the same input fails the same way, and its failure is the signal
# (ADR-0133). The lake's writes make a re-run safe: a step that published before dying
# publishes its partition again, never twice (write, audit, switch; ADR-0010).
RUN_RETRIES = {"enabled": True, "max_retries": 2, "retry_on_asset_or_op_failure": False}
# Environment variables ECS sets from the RDS-managed secret (terraform/ecs.tf).
PG_USERNAME_ENV = "DAGSTER_PG_USERNAME"
PG_PASSWORD_ENV = "DAGSTER_PG_PASSWORD"

Text = Annotated[str, Field(min_length=1)]


class _Postgres(BaseModel):
    model_config = NO_UNKNOWN_KEYS
    hostname: Text
    port: Annotated[int, Field(strict=True, gt=0, lt=65536)]
    db_name: Text
    secret_arn: Text


class _RunLauncher(BaseModel):
    model_config = NO_UNKNOWN_KEYS
    cluster: Text
    task_definition: Text
    container_name: Text
    subnets: Annotated[list[Text], Field(min_length=1)]
    security_groups: Annotated[list[Text], Field(min_length=1)]


class _ComputeLogs(BaseModel):
    model_config = NO_UNKNOWN_KEYS
    bucket: Text
    prefix: Text


class DagsterInstanceOutput(BaseModel):
    """The value of Terraform's `dagster_instance` output (terraform/outputs.tf)."""

    model_config = NO_UNKNOWN_KEYS
    region: Text
    postgres: _Postgres
    run_launcher: _RunLauncher
    compute_logs: _ComputeLogs
    webserver_url: Text


class _Output(BaseModel):
    model_config = ConfigDict(extra="ignore")  # `sensitive` and `type` beside the value
    value: DagsterInstanceOutput


class TerraformOutputs(BaseModel):
    """`terraform output -json`: every output as {sensitive, type, value}; only one is read."""

    model_config = ConfigDict(extra="ignore")
    dagster_instance: _Output


def load_instance_output(path: Path | str) -> DagsterInstanceOutput:
    """The `dagster_instance` output from the JSON of `terraform output -json` at `path`; a
    ConfigError naming the file, the output's key and the reason otherwise."""
    try:
        return load_config(path, TerraformOutputs).dagster_instance.value
    except ConfigError as error:
        if error.key == "dagster_instance" and error.reason == "required":
            raise ConfigError(
                path,
                "dagster_instance",
                "required: the output terraform/outputs.tf declares is missing (write the file "
                "with `terraform -chdir=terraform output -json` after `terraform apply`)",
            ) from None
        raise


def production_instance(output: DagsterInstanceOutput) -> dict[str, Any]:
    """The production dagster.yaml, as a mapping, from Terraform's `dagster_instance` output."""
    postgres, launcher, logs = output.postgres, output.run_launcher, output.compute_logs
    return {
        "storage": {
            "postgres": {
                "postgres_db": {
                    "hostname": postgres.hostname,
                    "port": postgres.port,
                    "db_name": postgres.db_name,
                    "username": {"env": PG_USERNAME_ENV},
                    "password": {"env": PG_PASSWORD_ENV},
                    # libpq's default (prefer) would fall back to plain text; RDS serves TLS.
                    "params": {"sslmode": "require"},
                    # The driver dagster-postgres brings and handles the errors of: SQLAlchemy
                    # 2.1 maps a bare `postgresql` to psycopg 3, which is not installed.
                    "scheme": "postgresql+psycopg2",
                }
            }
        },
        "run_coordinator": {
            "module": "dagster._core.run_coordinator",
            "class": "QueuedRunCoordinator",
        },
        "concurrency": run_queue(PRODUCTION_MAX_CONCURRENT_RUNS),
        "run_launcher": {
            "module": "dagster_aws.ecs",
            "class": "EcsRunLauncher",
            "config": {
                # The task definition Terraform declares, by family: the launcher describes it
                # once and runs it as it is, registering none of its own (so no
                # ecs:RegisterTaskDefinition and no iam:PassRole for the daemon).
                "task_definition": launcher.task_definition,
                "container_name": launcher.container_name,
                # Networking comes from run_task_kwargs, not from the daemon's own task.
                "use_current_ecs_task_config": False,
                # The database secret reaches the run through its task definition; no listing
                # of tagged secrets at each launch.
                "secrets_tag": None,
                "run_task_kwargs": {
                    "cluster": launcher.cluster,
                    "launchType": "FARGATE",
                    "networkConfiguration": {
                        "awsvpcConfiguration": {
                            "subnets": list(launcher.subnets),
                            "securityGroups": list(launcher.security_groups),
                            "assignPublicIp": "DISABLED",
                        }
                    },
                    # Each run's task carries the task definition's cost tags.
                    "propagateTags": "TASK_DEFINITION",
                },
            },
        },
        "compute_logs": {
            "module": "dagster_aws.s3.compute_log_manager",
            "class": "S3ComputeLogManager",
            "config": {
                "bucket": logs.bucket,
                "prefix": logs.prefix,
                "region": output.region,
                "skip_empty_files": True,
                # A long Spark step's output shows in the UI while it runs.
                "upload_interval": 30,
            },
        },
        "run_monitoring": {
            "enabled": True,
            "start_timeout_seconds": RUN_START_TIMEOUT_SECONDS,
        },
        "run_retries": RUN_RETRIES,
        "retention": TICK_RETENTION,
        "telemetry": LAKE_TELEMETRY,
    }


def instance_yaml(output: DagsterInstanceOutput) -> str:
    """The production dagster.yaml's text: a header saying where it comes from, then the
    instance."""
    import yaml

    header = (
        "# Dagster's production instance, rendered by `lake platform instance` from Terraform's\n"
        "# `dagster_instance` output: re-render after `terraform apply`, never edit by hand.\n"
        f"# Webserver: {output.webserver_url}\n"
        f"# Database credentials: ${PG_USERNAME_ENV} and ${PG_PASSWORD_ENV}, set by ECS from\n"
        f"# {output.postgres.secret_arn}\n"
    )
    return header + yaml.safe_dump(production_instance(output), sort_keys=False)
