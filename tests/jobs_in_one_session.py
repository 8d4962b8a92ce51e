"""Runs several registered Spark jobs one after the other in one process and one SparkSession,
built as the entry point builds a job's (lake_assets/runtime/entry.py), the way the local runner
shares its session between jobs: test_spark_jobs.py runs every job on PySpark 3.5 with it, one
JVM for all of them instead of one per job.

    python jobs_in_one_session.py PLANS RESULTS

PLANS is a JSON list of [job, plan]; RESULTS gets, per job, {"result": ...} as the job returned it
through JSON (as Pipes carries it), or {"error": {"type", "message"}} (as the entry point
reports it), plus the session's "spark" version and "shuffle" partitions."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from lake_assets.runtime.entry import job_session
from lake_assets.runtime.jobs import run_job


def main(plans: Path, results: Path) -> None:
    spark = job_session("tests")
    out = {"spark": spark.version, "shuffle": spark.conf.get("spark.sql.shuffle.partitions")}
    for job, plan in json.loads(plans.read_text()):
        try:
            out[job] = {"result": json.loads(json.dumps(run_job(spark, job, plan)))}
        except Exception as error:  # the next job still runs; this one's test shows why
            out[job] = {"error": {"type": type(error).__name__, "message": str(error)}}
    results.write_text(json.dumps(out))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
