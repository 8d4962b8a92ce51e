"""The shapes every part of cost attribution shares: datasets, the CUR 2.0 columns the lake
reads, money, drivers and ledger rows. Pure: no Dagster, no Spark, no I/O.

Money is integer nano-dollars (1e-9 USD) everywhere between the bill and the ledger: a CUR line
item's cost becomes nanos once (`to_nanos`), every allocation splits a pool of nanos exactly
(largest remainder), and the ledger's rows therefore sum to the bill's lines with no rounding
left over. Cents are for people: `cents` rounds a sum once, at the edge (reports).

A month is a billing period, "YYYY-MM"; the cost assets' partitions are months
(partitions.monthly_partitions).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal

# Datasets of the cost capability, published through the catalog like every table
# (curated/<dataset>/...), each partitioned by month.
CUR_DATASET = "cost_cur"  # the bill's line items, as delivered (latest delivery of a month)
DRIVERS_DATASET = "cost_drivers"  # what the lake's runs, storage and queries consumed
LEDGER_DATASET = "cost_ledger"  # the allocation: every nano-dollar of the bill, attributed or not

# The tags a resource must carry (CUR 2.0 `resource_tags` keys are `user_<tag>`).
REQUIRED_TAGS = ("team", "pipeline", "environment")
TAG_PREFIX = "user_"

# The CUR 2.0 columns the lake reads, with their field types (lake_assets/tables/types.py).
# `resource_tags` is a map of `user_*` keys; split_line_item_* are present only for split
# cost allocation (ECS/EKS) and may be absent from a delivery.
CUR_COLUMNS: dict[str, str] = {
    "identity_line_item_id": "string",
    "bill_billing_period_start_date": "timestamp",
    "line_item_usage_start_date": "timestamp",
    "line_item_usage_end_date": "timestamp",
    "line_item_line_item_type": "string",  # Usage, Tax, Credit, Refund, ...
    "line_item_product_code": "string",  # ElasticMapReduce, AmazonS3, AmazonAthena, ...
    "line_item_resource_id": "string",  # an ARN or a bucket name; may be empty
    "line_item_usage_type": "string",
    "line_item_operation": "string",
    "line_item_usage_amount": "double",
    "line_item_unblended_cost": "double",
    "line_item_net_unblended_cost": "double",
    "resource_tags": "map<string,string>",
}
OPTIONAL_CUR_COLUMNS: dict[str, str] = {
    "split_line_item_split_cost": "double",
    "split_line_item_unused_cost": "double",
    "split_line_item_parent_resource_id": "string",
}

# The pipeline of everything no generated pipeline runs (silver, gold, history, marts, cost):
# what their job runs are tagged with, as Terraform tags the platform's resources.
PLATFORM_PIPELINE = "platform"
# The team a cost goes to when no rule attributes it; its rows carry the reason.
UNALLOCATED = "unallocated"
# The team of shared costs a declared rule keeps as their own line (e.g. idle capacity).
SHARED = "shared"

# Where a run ran, as a CUR line names it: EMR Serverless ARNs carry the application and, for
# job-level lines (job-level cost allocation), the job run. A local run's application is "local"
# (the demo bills its local runs as if they had run on an application of that id).
LOCAL_APPLICATION = "local"
_EMR_ARN = re.compile(
    r"^arn:aws:emr-serverless:(?P<region>[^:]*):(?P<account>\d*):/applications/(?P<app>[^/]+)"
    r"(?:/jobruns/(?P<run>[^/]+))?$"
)


def emr_application_arn(application_id: str, region: str = "eu-west-1", account: str = "") -> str:
    return f"arn:aws:emr-serverless:{region}:{account or '000000000000'}:/applications/{application_id}"


def emr_job_run_arn(application_id: str, job_run_id: str, **where: str) -> str:
    return f"{emr_application_arn(application_id, **where)}/jobruns/{job_run_id}"


def emr_ids(resource_id: str | None) -> tuple[str, str | None] | None:
    """(application id, job run id or None) of an EMR Serverless ARN; None for anything else."""
    found = _EMR_ARN.match(resource_id or "")
    return (found["app"], found["run"]) if found else None


def team_of_owner(owner: str) -> str:
    """The team an asset owner names ("team:payments-data" or "payments-data")."""
    return owner.removeprefix("team:")


NANOS_PER_USD = 10**9
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def check_month(month: str) -> str:
    if not isinstance(month, str) or not _MONTH.match(month):
        raise ValueError(f"{month!r} is not a billing month: use YYYY-MM, e.g. 2026-11")
    return month


def to_nanos(usd: float | Decimal | str | None) -> int:
    """A CUR cost (a double in USD) as integer nano-dollars, rounded half-even once, here."""
    if usd is None:
        return 0
    return int((Decimal(str(usd)) * NANOS_PER_USD).quantize(Decimal(1), ROUND_HALF_EVEN))


def cents(nanos: int) -> Decimal:
    """Nano-dollars as dollars rounded to the cent (half-even), for people."""
    return (Decimal(nanos) / NANOS_PER_USD).quantize(Decimal("0.01"), ROUND_HALF_EVEN)


def split_exactly(total: int, weights: list[tuple[str, float]]) -> dict[str, int]:
    """`total` nanos split over keys in proportion to their weights, summing to `total`
    exactly: each key gets its floor share, then the nanos left over go one each to the largest
    remainders, ties by key (largest remainder, deterministic). Zero or no weights raise."""
    weights = [(key, float(weight)) for key, weight in weights if weight > 0]
    whole = sum(weight for _, weight in weights)
    if not weights or whole <= 0:
        raise ValueError("no positive weight to split by")
    shares, remainders = {}, []
    for key, weight in weights:
        exact = total * weight / whole
        shares[key] = int(exact // 1)
        remainders.append((-(exact - shares[key]), key))
    for _, key in sorted(remainders)[: total - sum(shares.values())]:
        shares[key] += 1
    return shares


@dataclass(frozen=True)
class RunDrivers:
    """What one Spark job execution consumed: recorded by the runner with every job, local or on
    EMR Serverless, in the run's metadata (drivers.py), and the row a run contributes to the
    drivers table. `origin` says where the resource figures came from: "billed" (EMR Serverless'
    billed resource utilization), "spark-metrics" (Spark's own task metrics, local) or
    "wall-clock" (neither: the fallback)."""

    dagster_run_id: str
    job: str  # the Spark job's name (runtime/jobs.py)
    runner: str  # "local", "pipes-subprocess", "emr-serverless"
    started_at: str  # ISO instants, UTC
    ended_at: str
    wall_clock_seconds: float
    vcpu_seconds: float
    memory_gb_seconds: float
    bytes_read: int
    bytes_written: int
    origin: str
    datasets: tuple[str, ...] = ()  # the datasets it read or wrote
    job_run_id: str | None = None  # EMR Serverless job run id, when it ran there
    application_id: str | None = None
    team: str | None = None
    pipeline: str | None = None


# What a driver row measures. Runs: per EMR application and hour (or the job run); storage: per
# bucket and dataset prefix, by storage class (a month's average bytes); queries: per workgroup.
MEASURES = (
    "vcpu_seconds",
    "memory_gb_seconds",
    "wall_clock_seconds",
    "bytes_read",
    "bytes_written",
    "requests",  # objects a run read or wrote: what S3 request lines are shared by
    "storage_bytes_standard",
    "storage_bytes_standard_ia",
    "storage_bytes_glacier",
    "bytes_scanned",  # an Athena query's
)


@dataclass(frozen=True)
class Driver:
    """One driver value in the drivers table (long form, one measure a row): what allocation
    methods weigh pools by. `kind` is run, storage or query; `resource` is what a CUR line names
    (an EMR application or job run, a bucket, an Athena workgroup); `hour` the UTC hour it
    belongs to ("YYYY-MM-DDTHH", "" when the driver covers the whole month)."""

    month: str
    kind: str
    key: str  # the run id, the dataset prefix, the query id
    resource: str
    hour: str
    team: str
    pipeline: str
    dataset: str
    measure: str  # one of MEASURES
    value: float
    origin: str


@dataclass(frozen=True)
class LedgerRow:
    """One row of the monthly ledger: the nanos of one cost category a method attributed to one
    team, pipeline and dataset, with the drivers it used so a team can recompute its share, or
    `team == UNALLOCATED` with the reason."""

    month: str
    team: str
    pipeline: str
    dataset: str
    category: str  # emr_serverless, s3_storage, s3_requests, athena, dynamodb, glue, ...
    method: str  # the id of the declared method (config/cost/allocation.yaml)
    cost_nanos: int
    drivers: dict[str, float] = field(default_factory=dict)
    reason: str = ""  # why unallocated, or how a shared cost was kept
    line_items: int = 0  # how many CUR line items fed it
