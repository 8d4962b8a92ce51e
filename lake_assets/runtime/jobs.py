"""The Spark jobs a runner can run, by name.

Every Spark job has one shape: the orchestrator plans (a JSON-able dict naming the files to read
and the run folder to write), `job(spark, plan) -> result` (a JSON-able dict) runs wherever the
runner puts it (in-process, a Pipes subprocess, EMR Serverless), and the orchestrator audits and
publishes. Jobs are named here as `module:function` so the remote entry point imports only the
job it runs.

A generated pipeline's job, `pipeline.<p>`, is its own module, `lake_pipelines.<p>.job:job` (the
lake's promotion with the pipeline's hooks). It is resolved by name, not listed in JOBS: JOBS
are the engine's jobs, which the runner benchmark measures (ADR-0064). A `.` rather than a `:`
because the job name becomes part of an EMR run name.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from lake_assets.tables.keys import check_source_id

JOBS = {
    "promote": "lake_assets.ingestion.promotion:promotion_job",
    "history_apply": "lake_assets.history.jobs:history_apply",
    "history_as_of": "lake_assets.history.jobs:history_as_of",
    "compaction_rewrite": "lake_assets.compaction.rewrite:rewrite_job",
    "spend_by_customer": "lake_assets.marts.spend_by_customer:spend_by_customer_job",
    "lateness": "lake_assets.ingestion.lateness:lateness_job",
    "silver_crm_contacts": "lake_assets.silver.customer:silver_crm_contacts_job",
    "silver_customer": "lake_assets.silver.customer:silver_customer_job",
    "silver_fx_rates": "lake_assets.silver.fx_rates:silver_fx_rates_job",
    "gold_table": "lake_assets.gold.build:gold_job",
    "orders_merge": "lake_assets.silver.orders:orders_merge_job",
}
PIPELINE_JOB_PREFIX = "pipeline."

Job = Callable[[Any, dict], dict]
# A runner bound to where its jobs run (SparkRunner.bound): what the Dagster-free core calls.
RunJob = Callable[[str, dict], dict]


def pipeline_job_name(pipeline: str) -> str:
    """The Spark job name of a generated pipeline."""
    return PIPELINE_JOB_PREFIX + check_source_id(pipeline)


def job_function(name: str) -> Job:
    if name.startswith(PIPELINE_JOB_PREFIX):
        # The id is checked first: the name becomes a module path, never anything else.
        pipeline = check_source_id(name.removeprefix(PIPELINE_JOB_PREFIX))
        return importlib.import_module(f"lake_pipelines.{pipeline}.job").job
    if name not in JOBS:
        raise KeyError(
            f"no Spark job named {name!r}; the registered jobs are {sorted(JOBS)} and "
            f"{PIPELINE_JOB_PREFIX}<pipeline> for a generated pipeline"
        )
    module, function = JOBS[name].split(":")
    return getattr(importlib.import_module(module), function)


def run_job(spark, name: str, plan: dict) -> dict:
    return job_function(name)(spark, plan)
