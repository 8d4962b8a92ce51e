"""Where Spark jobs run: in-process on the local SparkSession, or through Dagster Pipes (a
subprocess here, EMR Serverless in production). Every runner runs the same registered job
functions (lake_assets/runtime/jobs.py) on the same JSON plans."""

from __future__ import annotations

import sys
from abc import ABC, abstractmethod
from typing import Any

from dagster import AssetExecutionContext, PipesClientCompletedInvocation, PipesSubprocessClient
from dagster_pyspark.resources import spark_session_from_config

from lake_assets.runtime.jobs import run_job
from resources.spark_guard import guarded_jvm

PIPES_ENTRY_MODULE = "lake_assets.runtime.entry"


class SparkRunner(ABC):
    @abstractmethod
    def run(self, context: AssetExecutionContext, job: str, plan: dict) -> dict:
        """Run the registered Spark `job` on `plan` (JSON-able) and return its result."""


class LocalSparkRunner(SparkRunner):
    """The embedded default: one local SparkSession, created on first use and shared by every
    asset of the process (getOrCreate), as dagster-pyspark's PySparkResource builds it."""

    def __init__(self, spark_config: dict[str, str]):
        self.spark_config = spark_config

    @property
    def spark_session(self):
        with guarded_jvm():  # a killed process must not leave the JVM behind
            return spark_session_from_config(self.spark_config)

    def run(self, context, job, plan) -> dict:
        return run_job(self.spark_session, job, plan)


def local_spark(runner: SparkRunner, job: str):
    """The in-process SparkSession, for the jobs that have no remote entry point yet (history,
    compaction, marts, lateness); a remote runner refuses them by name instead of failing on a
    missing attribute."""
    if isinstance(runner, LocalSparkRunner):
        return runner.spark_session
    raise NotImplementedError(
        f"{job} runs on the local Spark session, and {type(runner).__name__} runs Spark "
        "remotely with an entry point for promotion only; run it under the local profile"
    )


def _extras(job: str, plan: dict) -> dict[str, Any]:
    return {"job": job, "plan": plan}


def _result_of(invocation: PipesClientCompletedInvocation, job: str) -> dict:
    messages = [
        m for m in invocation.get_custom_messages() if isinstance(m, dict) and "result" in m
    ]
    if not messages:
        raise RuntimeError(f"the Spark job {job} reported no result over Pipes")
    return messages[-1]["result"]


class PipesSubprocessRunner(SparkRunner):
    """Runs the EMR entry script as a local subprocess: the Pipes protocol without AWS.

    `python` is the interpreter it runs under: this one by default, or another environment's
    (CI runs every job under PySpark 3.5, EMR 7.x's Spark, too)."""

    def __init__(self, env: dict[str, str] | None = None, python: str = sys.executable):
        self.env, self.python = env, python

    def run(self, context, job, plan) -> dict:
        invocation = PipesSubprocessClient(env=self.env).run(
            context=context,
            command=[self.python, "-m", PIPES_ENTRY_MODULE],
            extras=_extras(job, plan),
        )
        return _result_of(invocation, job)


class EmrServerlessRunner(SparkRunner):
    """Submits the entry script to an EMR Serverless application through Dagster Pipes.

    `entry_point_uri` is the S3 copy of lake_assets/runtime/entry.py and
    `py_files_uri` a zip of this package, both uploaded by the deploy step.
    """

    def __init__(
        self,
        application_id: str,
        execution_role_arn: str,
        entry_point_uri: str,
        py_files_uri: str,
        messages_bucket: str,
        region: str,
        endpoint_url: str | None = None,
    ):
        self.application_id, self.execution_role_arn = application_id, execution_role_arn
        self.entry_point_uri, self.py_files_uri = entry_point_uri, py_files_uri
        self.messages_bucket, self.region, self.endpoint_url = messages_bucket, region, endpoint_url

    def run(self, context, job, plan) -> dict:
        import boto3
        from dagster_aws.pipes import PipesEMRServerlessClient, PipesS3MessageReader

        session = boto3.session.Session(region_name=self.region)
        client = PipesEMRServerlessClient(
            client=session.client("emr-serverless", endpoint_url=self.endpoint_url),
            message_reader=PipesS3MessageReader(
                bucket=self.messages_bucket,
                client=session.client("s3", endpoint_url=self.endpoint_url),
            ),
        )
        invocation = client.run(
            context=context,
            start_job_run_params={
                "applicationId": self.application_id,
                "executionRoleArn": self.execution_role_arn,
                "name": f"{job}-{context.run_id[:8]}",
                "jobDriver": {
                    "sparkSubmit": {
                        "entryPoint": self.entry_point_uri,
                        "sparkSubmitParameters": f"--py-files {self.py_files_uri} "
                        "--conf spark.sql.session.timeZone=UTC",
                    }
                },
            },
            extras=_extras(job, plan),
        )
        return _result_of(invocation, job)
