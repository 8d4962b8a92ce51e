"""Runners: each registered job through the Pipes subprocess runner against the same job
in-process.

The in-process runner (LocalSparkRunner) runs a job on its process's SparkSession; the
Pipes subprocess runner starts a fresh Python and JVM per job, as EMR Serverless starts a job
run, and passes plan and result through Dagster Pipes. The ratio pipes / in-process is what that
isolation costs a job; the target is <= 1.3 for a one-day promotion, and every job is reported
against it.

Both are called from a Dagster asset, as the orchestrator calls its runner, and only the
runner's `run` is timed. Each job's plan is the one the orchestrator would make over the
benchmark lake (benchmarks.job_plans: the `--rows` card payload promoted into one day, and two
customer snapshots); the runners alternate on it, after one warm-up each on the same plans over
a WARM_UP_ROWS lake. A registered job with no plan in job_plans.JOB_PLANS is named in the table
and the summary as NOT MEASURED.

Each job is measured twice over (ADR-0127):
- warm: both runners called from an asset in this process, the in-process runner on the
  benchmark's warm session, as a run executed in one process (a `lake` command) shares it;
- step: both runners in a fresh step process of a Dagster run (benchmarks.runner_steps), as
  the webserver's, sensors' and backfills' runs execute every asset: there the in-process
  runner starts its JVM in the step, as the subprocess runner starts one per job.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from dagster import DagsterInstance, MaterializeResult, asset, materialize

from benchmarks.data import BENCH_DATA, transactions_file
from benchmarks.job_plans import JOB_PLANS, JobPlans, job_plans
from benchmarks.lake import spark_session
from benchmarks.runner_steps import IN_PROCESS, PIPES, run_as_step, runners, step_instance
from benchmarks.timing import Runs, print_table, timed
from lake_assets.runtime.jobs import JOBS
from resources.spark_runner import SparkRunner

WARM_UP_ROWS = 20_000  # the warm-up lake's rows: each job's plans compiled before timing
REPEATS = 2
TARGET = 1.3


def run(rows: int) -> str:
    payload = transactions_file(rows)
    print(f"\n[runners] {payload.name}: {rows:,} rows", flush=True)
    spark = spark_session()  # the warm session LocalSparkRunner shares (getOrCreate)
    missing = sorted(set(JOBS) - set(JOB_PLANS))
    instance = DagsterInstance.ephemeral()
    table, warm_ratios, step_ratios = [], [], []
    try:
        with tempfile.TemporaryDirectory(dir=BENCH_DATA, prefix="lake-") as root:
            warm_up = job_plans(Path(root) / "warm-up", transactions_file(WARM_UP_ROWS))
            measured = job_plans(Path(root) / "measured", payload)
            steps = step_instance(Path(root) / "dagster")
            for job in (j for j in JOBS if j in JOB_PLANS):
                warm = _measure(instance, runners(), job, warm_up, measured)
                step = _measure_steps(steps, job, measured)
                row = [job]
                for runs, ratios in ((warm, warm_ratios), (step, step_ratios)):
                    ratio = runs[PIPES].median / runs[IN_PROCESS].median
                    ratios.append(f"{job} {ratio:.2f} x")
                    row += [runs[IN_PROCESS].median, runs[PIPES].median, _verdict(ratio)]
                table.append(row)
    finally:
        spark.stop()
    table += [
        [job, "-", "-", "NOT MEASURED: no plan in job_plans", "-", "-", "-"] for job in missing
    ]
    print_table(
        "Runners (median s of alternated runs; pipes starts a Python and a JVM per job; warm: "
        "in-process on this process's warm session; step: each in a fresh Dagster step process)",
        ["job", "warm in-process", "warm pipes", "ratio", "step in-process", "step pipes", "ratio"],
        table,
    )
    unmeasured = f"; NOT MEASURED {', '.join(missing)}" if missing else ""
    return (
        f"runners (target <= {TARGET}): pipes subprocess / in-process in a fresh step "
        f"{', '.join(step_ratios)}; against a warm in-process session {', '.join(warm_ratios)}"
        + unmeasured
    )


def _verdict(ratio: float) -> str:
    return f"{ratio:.2f} ({'within' if ratio <= TARGET else 'OVER'} {TARGET})"


def _measure(
    instance: DagsterInstance,
    runners: dict[str, SparkRunner],
    job: str,
    warm_up: JobPlans,
    measured: JobPlans,
) -> dict[str, Runs]:
    """Both runners called from an asset in this process: once on the warm-up lake's plan,
    then alternately on the measured lake's (each run's time is the runner's alone, not the
    Dagster run around it)."""
    for name, runner in runners.items():
        seconds = _run_in_asset(instance, runner, job, warm_up.plan(job, f"{name}-warm-up"))
        print(f"  warm-up  {job} {name:<20} {seconds:8.2f} s  ({WARM_UP_ROWS:,} rows, not timed)")
    return _rounds(
        job, measured, "round", lambda name, plan: _run_in_asset(instance, runners[name], job, plan)
    )


def _measure_steps(instance: DagsterInstance, job: str, measured: JobPlans) -> dict[str, Runs]:
    """Both runners, each run in a fresh step process of a Dagster run (no warm-up: a step
    never has one)."""
    return _rounds(job, measured, "step", lambda name, plan: run_as_step(instance, name, job, plan))


def _rounds(
    job: str, measured: JobPlans, kind: str, run: Callable[[str, dict], float]
) -> dict[str, Runs]:
    """REPEATS rounds alternating the runners on the measured lake's plan of `job`, each plan
    writing a folder of its own; `run(runner name, plan)` is the seconds one took."""
    runs = {name: Runs() for name in (IN_PROCESS, PIPES)}
    for round_number in range(REPEATS):
        for name in runs:
            seconds = run(name, measured.plan(job, f"{kind}-{name}-{round_number}"))
            runs[name].seconds.append(seconds)
            print(
                f"  {kind} {round_number + 1}/{REPEATS}  {job} {name:<20} {seconds:8.2f} s",
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
