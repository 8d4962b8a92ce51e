"""Entry script of every Spark job when it runs outside the orchestrator (EMR Serverless, or a
subprocess in tests). It receives the job's name and plan over Dagster Pipes, runs the same
registered job function the local runner runs, and reports the result back as a Pipes message."""

from __future__ import annotations

from dagster_pipes import open_dagster_pipes
from pyspark.sql import SparkSession

from lake_assets.runtime.jobs import run_job


def main() -> None:
    with open_dagster_pipes() as pipes:
        job = pipes.get_extra("job")
        spark = (
            SparkSession.builder.appName(f"lakehouse-{job}")
            .config("spark.sql.session.timeZone", "UTC")
            .getOrCreate()
        )
        pipes.log.info(f"running Spark job {job}")
        pipes.report_custom_message({"result": run_job(spark, job, pipes.get_extra("plan"))})


if __name__ == "__main__":
    main()
