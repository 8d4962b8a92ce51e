"""Runners as a Dagster run executes an asset: each job's `run` in a fresh step process.

Runs launched from the webserver, by sensors and by backfills use Dagster's default executor,
which runs every step (an asset, or an asset's partition) in a process of its own. There the
in-process runner (LocalSparkRunner) has no warm session to share: it starts its JVM in the
step, as the Pipes subprocess runner starts one in its subprocess. Only a run executed in one
process (a `lake` command, the in-process executor) shares one session across its steps, which
is what benchmarks.runners' warm comparison measures.

Each measurement is a Dagster run of one asset through `execute_job` on a persistent instance
(the multiprocess executor, as the webserver's runs), its config naming the runner, the job and
a file holding the plan. The asset times the runner's `run` alone (the step process's own start
and Dagster's imports are the same for both runners) and returns the seconds as metadata.
"""

# No `from __future__ import annotations`: Dagster reads the asset's config class from its
# annotation, which must be the class, not its name.
import json
import tempfile
from pathlib import Path

from dagster import (
    Config,
    DagsterInstance,
    Definitions,
    MaterializeResult,
    asset,
    define_asset_job,
    execute_job,
    reconstructable,
)

from benchmarks.timing import timed
from resources import LOCAL_SPARK_CONFIG
from resources.spark_runner import LocalSparkRunner, PipesSubprocessRunner, SparkRunner

IN_PROCESS, PIPES = "in-process", "pipes subprocess"
STEP = "bench_runner_step"


def runners() -> dict[str, SparkRunner]:
    """The two runners, as the local profile configures them."""
    return {
        IN_PROCESS: LocalSparkRunner({**LOCAL_SPARK_CONFIG, "spark.app.name": "lakehouse-bench"}),
        PIPES: PipesSubprocessRunner(spark_conf=LOCAL_SPARK_CONFIG),
    }


class StepConfig(Config):
    runner: str  # a key of runners()
    job: str  # a registered job (lake_assets/runtime/jobs.py)
    plan_file: str  # the plan as JSON: a plan may be larger than run config should carry


@asset(name=STEP)
def runner_step(context, config: StepConfig) -> MaterializeResult:
    runner = runners()[config.runner]
    plan = json.loads(Path(config.plan_file).read_text())
    seconds, _ = timed(lambda: runner.run(context, config.job, plan))
    return MaterializeResult(metadata={"runner_seconds": seconds})


def step_job():
    """The one-asset job, rebuilt by module and name in each step process."""
    definitions = Definitions(assets=[runner_step], jobs=[define_asset_job(STEP, [STEP])])
    return definitions.resolve_job_def(STEP)


def step_instance(folder: Path) -> DagsterInstance:
    """A persistent instance under `folder`: an ephemeral one runs every step in-process."""
    folder.mkdir(parents=True, exist_ok=True)
    return DagsterInstance.local_temp(str(folder))


def run_as_step(instance: DagsterInstance, runner: str, job: str, plan: dict) -> float:
    """Seconds `runner`'s `run` of `job` took in a fresh step process of a Dagster run."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as file:
        json.dump(plan, file)
    try:
        config = {"runner": runner, "job": job, "plan_file": file.name}
        run_config = {"ops": {STEP: {"config": config}}}
        with execute_job(reconstructable(step_job), instance, run_config=run_config) as result:
            if not result.success:
                raise RuntimeError(f"{job} failed in a step under the {runner} runner")
            [materialized] = result.asset_materializations_for_node(STEP)
            return float(materialized.metadata["runner_seconds"].value)
    finally:
        Path(file.name).unlink()
