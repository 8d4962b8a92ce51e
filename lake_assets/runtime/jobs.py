"""The Spark jobs a runner can run, by name.

Every Spark job has one shape: the orchestrator plans (a JSON-able dict naming the files to read
and the run folder to write), `job(spark, plan) -> result` (a JSON-able dict) runs wherever the
runner puts it (in-process, a Pipes subprocess, EMR Serverless), and the orchestrator audits and
publishes. Jobs are named here as `module:function` so the remote entry point imports only the
job it runs.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

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

Job = Callable[[Any, dict], dict]
# A runner bound to where its jobs run (SparkRunner.bound): what the Dagster-free core calls.
RunJob = Callable[[str, dict], dict]


def job_function(name: str) -> Job:
    if name not in JOBS:
        raise KeyError(f"no Spark job named {name!r}; the registered jobs are {sorted(JOBS)}")
    module, function = JOBS[name].split(":")
    return getattr(importlib.import_module(module), function)


def run_job(spark, name: str, plan: dict) -> dict:
    return job_function(name)(spark, plan)
