"""Where Spark jobs run: in-process on the local SparkSession, or through Dagster Pipes (a
subprocess here, EMR Serverless in production). Every runner runs the same registered job
functions (lake_assets/runtime/jobs.py) on the same JSON plans.

A job that fails where it ran raises `SparkJobFailed` here, with the error the job itself
reported over Pipes; `SparkRunner.run_standalone` runs a job for a `lake` command outside any
asset, and `bound` gives the one callable the Dagster-free core takes (`run(job, plan)`).
"""

from __future__ import annotations

import shlex
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster
from dagster import (
    AssetExecutionContext,
    DagsterInstance,
    OpExecutionContext,
    PipesClientCompletedInvocation,
    PipesSubprocessClient,
    PipesTempFileMessageReader,
)
from dagster_aws.pipes import (
    PipesEMRServerlessClient,
    PipesS3ContextInjector,
    PipesS3MessageReader,
)
from dagster_pyspark.resources import spark_session_from_config

from lake_assets.cost import recording
from lake_assets.cost.model import team_of_owner
from lake_assets.cost.run_drivers import billed_usage, job_run_tags, run_drivers
from lake_assets.runtime.class_archive import classes_from_archive
from lake_assets.runtime.deploy import ENTRY_SCRIPT_KEY, PACKAGE_KEY, require_deployed_code
from lake_assets.runtime.jobs import DRIVERS_KEY, RunJob, run_measured_job
from lake_assets.runtime.jvm_log import SPARK_LOG_ENV, local_jvm_output
from lake_assets.runtime.python_workers import workers_on_this_python
from lake_assets.runtime.spark_metrics import timed
from resources.aws.clients import _client
from resources.spark_guard import guarded_jvm

if TYPE_CHECKING:
    from resources.aws.s3 import S3Storage

PIPES_ENTRY_MODULE = "lake_assets.runtime.entry"
# The one prefix of the lake bucket that carries Pipes traffic (each run's context and its
# message chunks, under a random folder); Terraform grants exactly this prefix to the roles.
PIPES_PREFIX = "_pipes/"


class SparkRunner(ABC):
    @abstractmethod
    def run(
        self, context: AssetExecutionContext | OpExecutionContext, job: str, plan: dict
    ) -> dict:
        """Run the registered Spark `job` on `plan` (JSON-able) and return its result; an
        asset's context, or an op's (`run_standalone`)."""

    def run_standalone(self, job: str, plan: dict, charge: recording.Charge | None = None) -> dict:
        """Run `job` for a `lake` command, outside any asset.

        Pipes reports through a step's context, so the job runs as the one op of an in-process
        `lake_command` job, and a failure raises the same `SparkJobFailed` an asset would. With
        a `charge`, that run is on the charge's instance and its tags name the dataset: the job
        run is tagged with its owner's team and its drivers are recorded
        (lake_assets/cost/recording.py). Without one, on an ephemeral instance: nothing is
        recorded.
        """

        @dagster.op(name="spark_job")
        def spark_job(context) -> dict:  # annotations are checked by value: postponed ones fail
            return self.run(context, job, plan)

        @dagster.job(name="lake_command")
        def lake_command():
            spark_job()

        result = lake_command.execute_in_process(
            instance=charge.instance if charge else DagsterInstance.ephemeral(),
            tags=charge.tags if charge else None,
            # The command prints its own outcome; Pipes' step log stays out of the terminal.
            run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}},
        )
        return result.output_for_node("spark_job")

    def recorded(self, context, job: str, result: dict, around: dict, **where) -> dict:
        """`result` without the drivers it carries (runtime/jobs.py), which are recorded on the
        step of `context` (lake_assets/cost/recording.py); `around` is when the runner ran it,
        `where` the runner's name and, on EMR Serverless, what was billed."""
        result = dict(result)
        run = run_drivers(
            result.pop(DRIVERS_KEY, None),
            around,
            dagster_run_id=context.run_id if context is not None else "",
            job=job,
            **recording.step_identity(context, job),
            **where,
        )
        recording.record(context, run)
        return result

    def bound(self, context: AssetExecutionContext | OpExecutionContext | None = None) -> RunJob:
        """`run` bound to where its jobs run: the Dagster step `context`, or, without one, a
        `lake` command (`run_standalone`)."""
        return self.run_standalone if context is None else partial(self.run, context)


class SparkJobFailed(RuntimeError):
    """A Spark job failed where it ran. The message names the job and its plan and carries the
    job's own error, as the entry point reported it over Pipes (lake_assets/runtime/entry.py)."""

    def __init__(self, job: str, plan: dict, where: str, error: dict | None, launcher: str):
        self.job, self.plan, self.error = job, plan, error
        reason = (
            f"{error['type']}: {_shortened(error['message'])}"
            if error
            else f"it reported no error over Pipes ({launcher}); see the job's driver log"
        )
        super().__init__(
            f"Spark job {job} failed on {where}: {reason} [plan: {plan_summary(plan)}]"
        )


def plan_summary(plan: dict, limit: int = 300) -> str:
    """The plan in one line: its scalar fields two levels deep, lists by first, last and size."""
    parts = []

    def walk(prefix: str, value: Any, depth: int) -> None:
        if isinstance(value, dict):
            if depth < 2:
                for key, item in value.items():
                    walk(f"{prefix}{key}.", item, depth + 1)
        elif isinstance(value, list | tuple):
            if value and not isinstance(value[0], dict | list):
                shown = (
                    ", ".join(map(str, value)) if len(value) <= 2 else f"{value[0]}..{value[-1]}"
                )
                parts.append(f"{prefix[:-1]}=[{shown}] ({len(value)})")
            else:
                parts.append(f"{prefix[:-1]}: {len(value)}")
        elif value is not None:
            parts.append(f"{prefix[:-1]}={value}")

    walk("", plan, 0)
    return _shortened("; ".join(parts), limit)


def _shortened(text: str, limit: int = 1000) -> str:
    text = str(text).strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


class LocalSparkRunner(SparkRunner):
    """The embedded default: one local SparkSession, created on first use and shared by every
    asset of the process (getOrCreate), as dagster-pyspark's PySparkResource builds it. Its JVM
    writes its own output to `log_file` (runtime/jvm_log.py), when given."""

    def __init__(self, spark_config: dict[str, str], log_file: Path | None = None):
        self.spark_config, self.log_file = spark_config, log_file

    @property
    def spark_session(self):
        # A killed process must not leave the JVM behind, nor its chatter in the terminal.
        with guarded_jvm(), local_jvm_output(self.log_file):
            with workers_on_this_python(), classes_from_archive():
                return spark_session_from_config(self.spark_config)

    def run(self, context, job, plan) -> dict:
        with timed() as around:
            result = run_measured_job(self.spark_session, job, plan)
        return self.recorded(context, job, result, around, runner="local")

    def run_standalone(self, job: str, plan: dict, charge: recording.Charge | None = None) -> dict:
        # The job runs in this process and reports nothing over Pipes: a step is needed only
        # to record what it consumed.
        if charge is None:
            return self.run(None, job, plan)
        return super().run_standalone(job, plan, charge)


class _KeepsCustomMessages:
    """Mixed into a Pipes message reader: keeps the session's message handler, so what a failed
    job reported can still be read after the Pipes client raised (it returns no invocation)."""

    handler = None

    @contextmanager
    def read_messages(self, handler):
        self.handler = handler
        with super().read_messages(handler) as params:
            yield params

    def reported(self, key: str):
        return _reported(self.handler.get_custom_messages() if self.handler else (), key)


def _reported(messages, key: str):
    """The last value the job reported under `key` (entry.py reports `result` or `error`)."""
    values = [m[key] for m in messages if isinstance(m, dict) and key in m]
    return values[-1] if values else None


def _run_over_pipes(
    job: str,
    plan: dict,
    where: str,
    reader: _KeepsCustomMessages,
    launch: Callable[[dict], PipesClientCompletedInvocation],
) -> tuple[dict, PipesClientCompletedInvocation]:
    """The job's result and the launcher's invocation."""
    try:
        invocation = launch({"job": job, "plan": plan})
    except Exception as failure:
        # Not chained: the cause a user is shown is the job's error, not the launcher's.
        raise SparkJobFailed(job, plan, where, reader.reported("error"), str(failure)) from None
    result = _reported(invocation.get_custom_messages(), "result")
    if result is None:
        raise SparkJobFailed(job, plan, where, None, "it exited without a result")
    return result, invocation


class _TempFileMessages(_KeepsCustomMessages, PipesTempFileMessageReader):
    pass


class PipesSubprocessRunner(SparkRunner):
    """Runs the EMR entry script as a local subprocess: the Pipes protocol without AWS.

    `python` is the interpreter it runs under: this one by default, or another environment's
    (CI runs every job under PySpark 3.5, EMR 7.x's Spark, too). With `log_file`, the job's JVM
    writes its own output there (runtime/jvm_log.py). `spark_conf` reaches the job's session as
    spark-submit's `--conf`s, the way EMR Serverless passes sparkSubmitParameters: the entry
    script builds its session the same way everywhere."""

    def __init__(
        self,
        env: dict[str, str] | None = None,
        python: str = sys.executable,
        log_file: Path | None = None,
        spark_conf: Mapping[str, str] | None = None,
    ):
        self.python = python
        self.env = {**(env or {}), **({SPARK_LOG_ENV: str(log_file)} if log_file else {})}
        if spark_conf:
            confs = " ".join(shlex.quote(f"--conf={k}={v}") for k, v in spark_conf.items())
            self.env["PYSPARK_SUBMIT_ARGS"] = f"{confs} pyspark-shell"

    def run(self, context, job, plan) -> dict:
        reader = _TempFileMessages()
        with timed() as around:
            result, _ = _run_over_pipes(
                job,
                plan,
                "a Pipes subprocess",
                reader,
                lambda extras: PipesSubprocessClient(env=self.env, message_reader=reader).run(
                    context=context,
                    command=[self.python, "-m", PIPES_ENTRY_MODULE],
                    extras=extras,
                ),
            )
        return self.recorded(context, job, result, around, runner="pipes-subprocess")


class _LakeS3Messages(_KeepsCustomMessages, PipesS3MessageReader):
    """Message chunks under PIPES_PREFIX (the reader's own prefix is a random top folder)."""

    @contextmanager
    def get_params(self):
        with super().get_params() as params:
            yield {**params, "key_prefix": PIPES_PREFIX + params["key_prefix"]}


class EmrServerlessRunner(SparkRunner):
    """Submits the entry script to an EMR Serverless application through Dagster Pipes.

    Everything it names lives in the lake bucket (`storage`): the code `lake deploy` uploaded
    (the entry script and this package, checked before each submission) and, under
    PIPES_PREFIX, the job's context (its plan included, so a plan's size is not bounded by
    sparkSubmitParameters) and its messages.

    Each job run is tagged with the cost tags (team, pipeline, environment) and the Dagster run
    and job it serves, so a job-level CUR line names its run; the team of a step without an
    owner (a `lake` command's) is `platform_owner`'s. After the run, GetJobRun's billed
    utilisation is what its drivers record (lake_assets/cost/run_drivers.py).
    """

    def __init__(
        self,
        storage: S3Storage,
        application_id: str,
        execution_role_arn: str,
        region: str,
        endpoint_url: str | None = None,
        poll_seconds: float = 5.0,
        environment: str = "prod",
        platform_owner: str = "team:data-platform",
    ):
        self.storage, self.application_id, self.poll_seconds = storage, application_id, poll_seconds
        self.execution_role_arn, self.region, self.endpoint_url = (
            execution_role_arn,
            region,
            endpoint_url,
        )
        self.environment, self.platform_owner = environment, platform_owner

    def clients(self) -> tuple[Any, Any]:
        """S3 (the job's context and messages) and EMR Serverless, made as every client of the
        lake is: retried as ADR-0156 says, from this thread's session (ADR-0192)."""
        return (
            _client("s3", self.endpoint_url, self.region),
            _client("emr-serverless", self.endpoint_url, self.region),
        )

    def run(self, context, job, plan) -> dict:
        stamps = require_deployed_code(self.storage, job)  # refuse before anything is submitted
        s3, emr = self.clients()
        bucket = self.storage.bucket
        reader = _LakeS3Messages(bucket=bucket, client=s3, interval=self.poll_seconds)
        client = PipesEMRServerlessClient(
            client=emr,
            poll_interval=self.poll_seconds,
            context_injector=PipesS3ContextInjector(
                bucket=bucket, client=s3, key_prefix=PIPES_PREFIX
            ),
            message_reader=reader,
        )
        who = recording.step_identity(context, job)
        params = {
            "applicationId": self.application_id,
            "executionRoleArn": self.execution_role_arn,
            "name": f"{job}-{context.run_id[:8]}",
            "jobDriver": {
                "sparkSubmit": {
                    "entryPoint": self.storage.uri(ENTRY_SCRIPT_KEY),
                    # The session's own settings are the entry script's (JOB_SESSION_CONF).
                    "sparkSubmitParameters": f"--py-files {self.storage.uri(PACKAGE_KEY)}",
                }
            },
            # A generated pipeline's run keeps its stamps (and Pipes adds its own tags).
            "tags": {
                **stamps,
                **job_run_tags(
                    who["team"] or team_of_owner(self.platform_owner),
                    who["pipeline"] or job,
                    self.environment,
                    context.run_id,
                    job,
                ),
            },
        }
        with timed() as around:
            result, invocation = _run_over_pipes(
                job,
                plan,
                f"EMR Serverless application {self.application_id}",
                reader,
                lambda extras: client.run(
                    context=context, start_job_run_params=params, extras=extras
                ),
            )
        job_run_id = _text(invocation.metadata["AWS EMR Serverless Job Run ID"])
        completed = emr.get_job_run(applicationId=self.application_id, jobRunId=job_run_id)
        return self.recorded(
            context,
            job,
            result,
            around,
            runner="emr-serverless",
            billed=billed_usage(completed["jobRun"]),
            job_run_id=job_run_id,
            application_id=self.application_id,
        )


def _text(value) -> str:
    """A Pipes invocation's metadata value as text (it may come back wrapped)."""
    return str(getattr(value, "value", value))
