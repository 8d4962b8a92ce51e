"""Entry script of every Spark job when it runs outside the orchestrator (EMR Serverless, or a
subprocess in tests). It receives the job's name and plan over Dagster Pipes, runs the same
registered job function the local runner runs, and reports the result back as a Pipes message
(`{"result": ...}`), or the job's error (`{"error": {"type", "message"}}`) before it fails.

The Pipes channels follow what the orchestrator's bootstrap parameters name: S3 (the EMR
runner's context injector and message reader, under the lake bucket's `_pipes/` prefix) or the
defaults (temporary files, the subprocess runner).
"""

from __future__ import annotations

import os
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from dagster_pipes import (
    PipesContextLoader,
    PipesDefaultContextLoader,
    PipesDefaultMessageWriter,
    PipesEnvVarParamsLoader,
    PipesMessageWriter,
    PipesParamsLoader,
    PipesS3ContextLoader,
    PipesS3MessageWriter,
    open_dagster_pipes,
)

from lake_assets.runtime.class_archive import classes_from_archive
from lake_assets.runtime.jobs import CALL_SITE_CAPTURE, JOB_SESSION_CONF, run_measured_job
from lake_assets.runtime.jvm_log import SPARK_LOG_ENV, local_jvm_output
from lake_assets.runtime.python_workers import workers_on_this_python

# A local folder standing in for S3 in Spark's own reads and writes: s3://<bucket>/<key> is
# read and written at <folder>/<bucket>/<key>. Only the tests' EMR Serverless fake sets it
# (tests/emr_fake.py), because local Spark has no S3 filesystem; Pipes still goes through S3.
S3_MIRROR_ENV = "LAKE_S3_MIRROR"


def pipes_channels(params: PipesParamsLoader) -> tuple[PipesContextLoader, PipesMessageWriter]:
    """The context loader and message writer the orchestrator's bootstrap params call for."""
    context_on_s3 = "bucket" in params.load_context_params()
    messages_on_s3 = "bucket" in params.load_messages_params()
    if not (context_on_s3 or messages_on_s3):
        return PipesDefaultContextLoader(), PipesDefaultMessageWriter()
    import boto3  # only where the params name S3: the subprocess runner needs no AWS

    s3 = boto3.client("s3")
    return (
        PipesS3ContextLoader(client=s3) if context_on_s3 else PipesDefaultContextLoader(),
        PipesS3MessageWriter(client=s3) if messages_on_s3 else PipesDefaultMessageWriter(),
    )


def mirrored(value: Any, old: tuple[str, ...], new: str) -> Any:
    """`value` (JSON-like) with every string that starts with one of `old` starting with `new`."""
    if isinstance(value, str):
        for prefix in old:
            if value.startswith(prefix):
                return new + value[len(prefix) :]
        return value
    if isinstance(value, dict):
        return {key: mirrored(item, old, new) for key, item in value.items()}
    if isinstance(value, list):
        return [mirrored(item, old, new) for item in value]
    return value


def job_session(job: str):
    """The job's SparkSession: the settings spark-submit's `--conf`s give it (EMR's
    sparkSubmitParameters, the subprocess runner's spark_conf) and JOB_SESSION_CONF. A local
    subprocess's JVM maps the class archive when there is one (runtime/class_archive.py)."""
    from pyspark.sql import SparkSession

    with workers_on_this_python(), classes_from_archive():
        return (
            SparkSession.builder.appName(f"lakehouse-{job}")
            .config(map=JOB_SESSION_CONF)
            .getOrCreate()
        )


def main() -> None:
    params = PipesEnvVarParamsLoader()
    context_loader, message_writer = pipes_channels(params)
    with open_dagster_pipes(
        context_loader=context_loader, message_writer=message_writer, params_loader=params
    ) as pipes:
        job, plan = pipes.get_extra("job"), pipes.get_extra("plan")
        mirror = os.environ.get(S3_MIRROR_ENV)
        local = f"file://{os.path.abspath(mirror)}/" if mirror else None
        try:  # every failure from here on reaches the orchestrator with its type and message
            # A local subprocess (its runner names a log file) keeps the JVM's chatter out of
            # the terminal; on EMR, stderr is the driver log and stays as it is.
            log_file = os.environ.get(SPARK_LOG_ENV)
            with local_jvm_output(Path(log_file)) if log_file else nullcontext():
                spark = job_session(job)
            # The Spark it got and the settings that most shape a small job's time: what an
            # operator checks first when a job is slower on EMR than on a laptop.
            shuffle = spark.conf.get("spark.sql.shuffle.partitions")
            capture = spark.conf.get(CALL_SITE_CAPTURE, "true")
            pipes.log.info(
                f"running Spark job {job} on Spark {spark.version} (shuffle partitions "
                f"{shuffle}, call-site capture {capture})"
            )
            result = run_measured_job(
                spark, job, mirrored(plan, ("s3://",), local) if local else plan
            )
        except Exception as error:
            pipes.report_custom_message(
                {"error": {"type": type(error).__name__, "message": str(error)}}
            )
            raise
        if local:  # Spark reports local paths as file:/... or file:///...
            result = mirrored(result, (local, local.replace("file://", "file:")), "s3://")
        pipes.report_custom_message({"result": result})


if __name__ == "__main__":
    main()
