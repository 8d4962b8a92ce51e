"""Promotion: `promote` against a plain PySpark read-and-write of the same landed file.

The baseline is what a hand-written job would do: `spark.read.json(raw)` with schema inference,
then `.write.parquet(out)`. `promote` does more for its guarantees: it reads every field as text
under the registry's schema, try_casts each to its registry type while collecting a reason for
every value that does not fit, counts rows per partition and validity, writes curated Parquet
partitioned by event date (and quarantined rows as JSON, if any), then reads the footers back
to audit. The ratio promote / baseline is what those guarantees cost; the target is <= 1.3.

Both run alternately in one SparkSession configured as the local profile's
(resources.LOCAL_SPARK_CONFIG), each once at full size before either is timed (a 20,000-row
sample left the first timed promote at 8.3 s against 5.5 s after it), five rounds, and read the
same file. Landing, profiling and planning are setup and are not timed.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from pyspark.sql import SparkSession

from benchmarks.data import BENCH_DATA, EVENT_DAY, transactions_file
from benchmarks.job_plans import promotion_plan
from benchmarks.lake import SOURCE, land_and_profile, local_lake, spark_session
from benchmarks.timing import MB, Runs, alternate, print_table
from lake_assets.ingestion.promotion import PromotionResult, promote
from lake_assets.ingestion.promotion_plan import PromotionPlan
from resources.storage import LocalStorage

REPEATS = 5
BASELINE, SUBJECT = "spark.read.json+write", "promote"


@dataclass(frozen=True)
class Workload:
    """A promotion plan over one raw payload, and a folder for the outputs of every run."""

    plan: PromotionPlan
    payload: Path  # the local file the plan's single raw object was landed from
    out: Path

    @property
    def raw_uri(self) -> str:
        (group,) = self.plan.inputs
        (uri,) = group.uris
        return uri

    def output(self, job: str, label: object) -> str:
        return LocalStorage(self.out).uri(f"{job}-{label}")


def _plain_job(spark: SparkSession, workload: Workload, label: object) -> None:
    spark.read.json(workload.raw_uri).write.parquet(workload.output(BASELINE, label))


def _promotion(spark: SparkSession, workload: Workload, label: object) -> PromotionResult:
    return promote(spark, workload.plan, workload.output(SUBJECT, label))


JOBS = {BASELINE: _plain_job, SUBJECT: _promotion}


def run(rows: int) -> str:
    payload = transactions_file(rows)
    print(f"\n[promotion] {payload.name}: {rows:,} rows", flush=True)
    spark = spark_session()
    try:
        with tempfile.TemporaryDirectory(dir=BENCH_DATA, prefix="lake-") as root:
            workload = landed_workload(Path(root), payload)
            jobs = {name: partial(job, spark, workload) for name, job in JOBS.items()}
            runs = alternate(jobs, REPEATS, warm_up=True)
            _report(spark, workload, runs)
    finally:
        spark.stop()
    ratio = runs[SUBJECT].median / runs[BASELINE].median
    return f"promotion: {ratio:.2f} x plain PySpark (target <= 1.3)"


def landed_workload(root: Path, payload: Path) -> Workload:
    """A fresh local lake holding the payload, landed, profiled and planned as the assets do."""
    _, resources = local_lake(root / "lake")
    land_and_profile(resources, SOURCE, [(EVENT_DAY, payload)])
    plan = promotion_plan(resources)
    return Workload(plan, payload, root / "out")


def _report(spark: SparkSession, workload: Workload, runs: dict[str, Runs]) -> None:
    size = workload.payload.stat().st_size
    result: PromotionResult = runs[SUBJECT].result
    partitions = result.partitions.values()
    baseline_rows = spark.read.parquet(workload.output(BASELINE, REPEATS - 1)).count()
    print_table(
        "Promotion (median of alternated runs, one warm SparkSession)",
        ["job", "median s", "MB/s", "runs s", "rows read", "published", "quarantined", "counted"],
        [
            [BASELINE, runs[BASELINE].median, size / MB / runs[BASELINE].median,
             runs[BASELINE].spread(), "-", "-", "-", baseline_rows],
            [SUBJECT, runs[SUBJECT].median, size / MB / runs[SUBJECT].median,
             runs[SUBJECT].spread(), result.rows_read, sum(p.rows_published for p in partitions),
             sum(p.rows_quarantined for p in partitions), result.observed_published],
        ],
    )  # fmt: skip
