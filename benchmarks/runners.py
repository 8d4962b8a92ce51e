"""Runners: a job through the Pipes subprocess runner against the same job in-process.

The in-process runner (LocalSparkRunner) runs a job on the orchestrator's warm SparkSession; the
Pipes subprocess runner starts a fresh Python and JVM per job, as EMR Serverless starts a job
run, and passes plan and result through Dagster Pipes. The ratio pipes / in-process is what that
isolation costs a job; the target is <= 1.3 for a one-day promotion.

Both are called from a Dagster asset, as the orchestrator calls its runner, and only the
runner's `run` is timed. They alternate on the same plan (the promotion benchmark's one-day,
one-file plan), after one warm-up each on a small sample. Each registered job is reported; one
with no workload here is listed as not measured.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from dagster import DagsterInstance, MaterializeResult, asset, materialize

from benchmarks.data import BENCH_DATA, transactions_file
from benchmarks.lake import spark_session
from benchmarks.promotion import WARM_UP_ROWS, Workload, landed_workload
from benchmarks.timing import Runs, print_table, timed
from lake_assets.runtime.jobs import JOBS
from resources import LOCAL_SPARK_CONFIG
from resources.spark_runner import LocalSparkRunner, PipesSubprocessRunner, SparkRunner

REPEATS = 2
IN_PROCESS, PIPES = "in-process", "pipes subprocess"


def _promotion_plan(workload: Workload, runner: str, label: object) -> dict:
    return {"plan": workload.plan.to_dict(), "output_uri": workload.output(runner, label)}


# Registered job -> its plan over the benchmark's landed workload, per runner and round.
PLANS: dict[str, Callable[[Workload, str, object], dict]] = {"promote": _promotion_plan}


def run(rows: int) -> str:
    payload = transactions_file(rows)
    print(f"\n[runners] {payload.name}: {rows:,} rows", flush=True)
    spark = spark_session()  # the warm session LocalSparkRunner shares (getOrCreate)
    runners = {
        IN_PROCESS: LocalSparkRunner({**LOCAL_SPARK_CONFIG, "spark.app.name": "lakehouse-bench"}),
        PIPES: PipesSubprocessRunner(spark_conf=LOCAL_SPARK_CONFIG),
    }
    instance = DagsterInstance.ephemeral()
    table, ratios = [], []
    try:
        with tempfile.TemporaryDirectory(dir=BENCH_DATA, prefix="lake-") as root:
            workload = landed_workload(Path(root), payload)
            for job in JOBS:
                if job not in PLANS:
                    table.append([job, "-", "-", "-", "not measured: no workload in PLANS"])
                    continue
                runs = _measure(instance, runners, job, workload)
                ratio = runs[PIPES].median / runs[IN_PROCESS].median
                ratios.append(f"{job} {ratio:.2f} x")
                table.append(
                    [
                        job,
                        runs[IN_PROCESS].median,
                        runs[PIPES].median,
                        ratio,
                        f"{runs[IN_PROCESS].spread()} | {runs[PIPES].spread()}",
                    ]
                )
    finally:
        spark.stop()
    print_table(
        "Runners (median s of alternated runs; pipes starts a Python and a JVM per job)",
        ["job", IN_PROCESS, PIPES, "ratio", "runs s (in-process | pipes)"],
        table,
    )
    return f"runners: pipes subprocess / in-process {', '.join(ratios)} (target <= 1.3)"


def _measure(
    instance: DagsterInstance, runners: dict[str, SparkRunner], job: str, workload: Workload
) -> dict[str, Runs]:
    """Both runners once on a small sample, then alternately on the workload (timing.alternate's
    order, but each run's time is the runner's alone, not the Dagster run around it)."""
    sample = workload.sample(WARM_UP_ROWS)
    for name, runner in runners.items():
        seconds = _run_in_asset(instance, runner, job, PLANS[job](sample, name, "warm-up"))
        print(f"  warm-up  {job} {name:<20} {seconds:8.2f} s  ({WARM_UP_ROWS:,} rows, not timed)")
    runs = {name: Runs() for name in runners}
    for round_number in range(REPEATS):
        for name, runner in runners.items():
            plan = PLANS[job](workload, name, round_number)
            runs[name].seconds.append(_run_in_asset(instance, runner, job, plan))
            print(
                f"  round {round_number + 1}/{REPEATS}  {job} {name:<20} "
                f"{runs[name].seconds[-1]:8.2f} s",
                flush=True,
            )
    return runs


def _run_in_asset(instance: DagsterInstance, runner: SparkRunner, job: str, plan: dict) -> float:
    """Seconds the runner's `run` took, called from an asset as the orchestrator calls it."""
    took = {}

    @asset(name=f"bench_{job}")
    def bench_job(context) -> MaterializeResult:
        took["seconds"], _ = timed(lambda: runner.run(context, job, plan))
        return MaterializeResult()

    if not materialize([bench_job], instance=instance).success:
        raise RuntimeError(f"{job} failed under {type(runner).__name__}")
    return took["seconds"]
