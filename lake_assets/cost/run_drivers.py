"""What one Spark job execution consumed, as the runner records it (resources/spark_runner.py):
from what the job measured (runtime/spark_metrics.py) and, on EMR Serverless, what GetJobRun
says was billed, to a `RunDrivers` record, its JSON form in the run's event log, the numbers
on its assets' materializations, and the tags of an EMR job run. Pure: no Dagster, no AWS.

Which figures win: EMR Serverless' billed utilisation (what the bill charges), else Spark's own
task metrics, else the wall clock alone (origin says which).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields

from lake_assets.compaction.policy import Prices
from lake_assets.cost.model import RunDrivers, emr_job_run_arn

BILLED, SPARK_METRICS, WALL_CLOCK = "billed", "spark-metrics", "wall-clock"
# The metadata entry holding a run's full record (an AssetObservation per job execution), and
# the numeric entries on its assets' materializations, which the Dagster UI plots.
RECORD_ENTRY = "cost/run_drivers"
MEASURED = (
    "vcpu_seconds",
    "memory_gb_seconds",
    "wall_clock_seconds",
    "bytes_read",
    "bytes_written",
)
# EMR Serverless list prices, as declared for the query cost model (config/compaction.yaml,
# ADR-0026): what `cost/estimated_usd` prices a run at before any bill arrives.
LIST_PRICES = Prices()


@dataclass(frozen=True)
class RecordedRun:
    """A run's drivers with what RunDrivers does not carry yet: the objects it read and wrote
    (what S3 request lines are shared by)."""

    drivers: RunDrivers
    objects_read: int = 0
    objects_written: int = 0

    def key(self, region: str = "eu-west-1") -> str:
        """What identifies the execution: its EMR job run's ARN, or run, job and start."""
        d = self.drivers
        if d.job_run_id and d.application_id:
            return emr_job_run_arn(d.application_id, d.job_run_id, region=region)
        return f"{d.dagster_run_id}/{d.job}/{d.started_at}"

    def as_json(self) -> dict:
        return {
            **asdict(self.drivers),
            "objects_read": self.objects_read,
            "objects_written": self.objects_written,
        }

    @classmethod
    def from_json(cls, record: Mapping) -> RecordedRun:
        names = {f.name for f in fields(RunDrivers)}
        drivers = {k: v for k, v in record.items() if k in names}
        drivers["datasets"] = tuple(drivers.get("datasets") or ())
        return cls(
            RunDrivers(**drivers),
            int(record.get("objects_read", 0)),
            int(record.get("objects_written", 0)),
        )


def billed_usage(job_run: Mapping) -> dict | None:
    """The billed figures of a GetJobRun `jobRun`, in seconds; None when EMR gave none (a run
    still being billed, or an endpoint that does not report it)."""
    billed = job_run.get("billedResourceUtilization") or {}
    if "vCPUHour" not in billed or "memoryGBHour" not in billed:
        return None
    usage = {
        "vcpu_seconds": float(billed["vCPUHour"]) * 3600,
        # storageGBHour (disk over 20 GB a worker) has no place in RunDrivers yet.
        "memory_gb_seconds": float(billed["memoryGBHour"]) * 3600,
    }
    if job_run.get("totalExecutionDurationSeconds") is not None:
        usage["wall_clock_seconds"] = float(job_run["totalExecutionDurationSeconds"])
    return usage


def run_drivers(
    measured: Mapping | None,
    around: Mapping,
    *,
    dagster_run_id: str,
    job: str,
    runner: str,
    datasets: Sequence[str] = (),
    team: str | None = None,
    pipeline: str | None = None,
    billed: Mapping | None = None,
    job_run_id: str | None = None,
    application_id: str | None = None,
) -> RecordedRun:
    """The record of one execution. `measured` is what the job reported (spark_metrics.py;
    None from a job that reported nothing), `around` the runner's own started_at, ended_at and
    wall_clock_seconds around the call, `billed` what `billed_usage` read from EMR."""
    measured = measured or {}
    by_spark = measured.get("origin") == SPARK_METRICS
    resources = billed or (measured if by_spark else {})
    origin = BILLED if billed else SPARK_METRICS if by_spark else WALL_CLOCK
    wall = (billed or {}).get("wall_clock_seconds") or measured.get("wall_clock_seconds")
    return RecordedRun(
        RunDrivers(
            dagster_run_id=dagster_run_id,
            job=job,
            runner=runner,
            # The runner's instants: they bracket the job wherever it ran, on one clock.
            started_at=around["started_at"],
            ended_at=around["ended_at"],
            wall_clock_seconds=float(wall or around["wall_clock_seconds"]),
            vcpu_seconds=float(resources.get("vcpu_seconds", 0)),
            memory_gb_seconds=float(resources.get("memory_gb_seconds", 0)),
            bytes_read=int(measured.get("bytes_read", 0)),
            bytes_written=int(measured.get("bytes_written", 0)),
            origin=origin,
            datasets=tuple(datasets),
            job_run_id=job_run_id,
            application_id=application_id,
            team=team,
            pipeline=pipeline,
        ),
        int(measured.get("objects_read", 0)),
        int(measured.get("objects_written", 0)),
    )


def estimated_usd(drivers: RunDrivers, prices: Prices = LIST_PRICES) -> float:
    """The run at EMR Serverless list prices: vCPU-hours and GB-hours (what a bill charges a
    job run; a local run is priced as if it had run there)."""
    return (
        drivers.vcpu_seconds / 3600 * prices.emr_vcpu_hour_usd
        + drivers.memory_gb_seconds / 3600 * prices.emr_gb_hour_usd
    )


def materialization_metadata(runs: Sequence[RecordedRun], shares: int) -> dict[str, float]:
    """The `cost/*` numbers of one asset materialization: the step's runs summed, divided by the
    `shares` (asset, partition) materializations the step makes, so that summing a dataset's
    materializations, or all of them, never counts a job twice."""
    values = {
        f"cost/{measure}": sum(float(getattr(r.drivers, measure)) for r in runs) / shares
        for measure in MEASURED
    }
    values["cost/estimated_usd"] = sum(estimated_usd(r.drivers) for r in runs) / shares
    return values


def job_run_tags(
    team: str, pipeline: str, environment: str, dagster_run_id: str, job: str
) -> dict[str, str]:
    """The tags of an EMR Serverless job run: the required cost tags (model.REQUIRED_TAGS) and
    what matches a job-level CUR line to its run (user_dagster_run_id, user_job)."""
    return {
        "team": team,
        "pipeline": pipeline,
        "environment": environment,
        "dagster_run_id": dagster_run_id,
        "job": job,
    }
