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

A result travels back inline, as one Pipes message (a line of the subprocess runner's message
file, a chunk on S3 from EMR Serverless): a channel for reports, not data. A result of a few MiB
was read cut in the middle (the orchestrator failed to parse it), so a result holds what does not
grow with the rows (counts, file names, small maps) and `run_job` refuses one over
MAX_RESULT_BYTES on every runner alike. A job whose answer is rows writes them to the folder its
plan names and returns where (runtime/rows.py).
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from typing import Any

from lake_assets.runtime.spark_metrics import measured
from lake_assets.tables.keys import check_source_id

# How every job's session is built, wherever it runs (the local runner's config, the entry
# script's builder on EMR and in the Pipes subprocess). Besides UTC: PySpark 4 captures the
# caller's Python stack on every DataFrame function call, for error context, at five JVM round
# trips a call; the jobs build hundreds of columns each (casts, audits), which made that a tenth
# of a one-day gold rebuild (ADR-0120). And Spark 4's JSON reader keeps a nested value read
# as text byte for byte from the file, where from_json (and Spark 3.5 everywhere) writes it
# out compactly: promotion reads with both (raw_records.py), and one value must read the same
# through either (ADR-0123). Spark 3.5 has neither setting and ignores them.
CALL_SITE_CAPTURE = "spark.python.sql.dataFrameDebugging.enabled"
EXACT_JSON_TEXT = "spark.sql.json.enableExactStringParsing"
JOB_SESSION_CONF = {
    "spark.sql.session.timeZone": "UTC",
    CALL_SITE_CAPTURE: "false",
    EXACT_JSON_TEXT: "false",
}

JOBS = {
    "promote": "lake_assets.ingestion.promotion:promotion_job",
    "history_apply": "lake_assets.history.jobs:history_apply",
    "history_as_of": "lake_assets.history.jobs:history_as_of",
    "compaction_rewrite": "lake_assets.compaction.rewrite:rewrite_job",
    "spend_by_customer": "lake_assets.marts.spend_by_customer:spend_by_customer_job",
    "lateness": "lake_assets.ingestion.lateness:lateness_job",
    "contract_trial": "lake_assets.contracts.trial:contract_trial_job",
    "silver_crm_contacts": "lake_assets.silver.customer:silver_crm_contacts_job",
    "silver_customer": "lake_assets.silver.customer:silver_customer_job",
    "silver_fx_rates": "lake_assets.silver.fx_rates:silver_fx_rates_job",
    "gold_table": "lake_assets.gold.build:gold_job",
    "orders_merge": "lake_assets.silver.orders:orders_merge_job",
    "cost_allocate": "lake_assets.cost.allocation:allocation_job",
    "cost_cur": "lake_assets.cost.cur_job:cost_cur_job",
}
PIPELINE_JOB_PREFIX = "pipeline."

# Where a measured job's result carries what the job consumed (spark_metrics.py) back to the
# runner, which takes it out before the caller sees the result.
DRIVERS_KEY = "_drivers"

# Thousands of partitions' counts and file names fit; a job's rows do not, and must not try.
MAX_RESULT_BYTES = 2**20

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


class JobResultTooLarge(ValueError):
    """A job returned more than a Pipes message may carry: what grows with the data belongs in
    the job's run folder, with its location in the result (runtime/rows.py)."""

    def __init__(self, job: str, size: int):
        self.job, self.size = job, size
        super().__init__(
            f"Spark job {job} returned a result of {size:,} bytes, over the {MAX_RESULT_BYTES:,} "
            "a result may carry back over Pipes; a job whose result grows with its data writes "
            "it to its run folder and returns where (lake_assets/runtime/rows.py)"
        )


def run_job(spark, name: str, plan: dict) -> dict:
    """Run the registered job `name` on `plan`; its result, refused when it is too large to
    travel back (JobResultTooLarge), whichever runner ran it."""
    result = job_function(name)(spark, plan)
    size = len(json.dumps(result, default=str).encode())
    if size > MAX_RESULT_BYTES:
        raise JobResultTooLarge(name, size)
    return result


def run_measured_job(spark, name: str, plan: dict) -> dict:
    """`run_job` under a job group of its own: its result, with what the job consumed by Spark's
    own metrics under DRIVERS_KEY (a few numbers: the result stays a small Pipes message)."""
    with measured(spark, name) as usage:
        result = run_job(spark, name, plan)
    return {**result, DRIVERS_KEY: usage}
