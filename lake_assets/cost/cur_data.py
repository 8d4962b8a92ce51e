"""A generated world of one billing month: the runs a lake made, the CUR 2.0 bill they caused,
the drivers the lake recorded, and the known answers. For the demo, the tests and the
benchmark (10,000,000 lines against 100,000 runs): every column is built with numpy and
pyarrow at once, no Python loop per line or run. Deterministic by seed.

What the bill holds (model.CUR_COLUMNS; resource_tags a map of `user_*` keys):
- EMR Serverless job-level lines (job-level cost allocation on): one per job run, hour and usage
  type (vCPU, memory, storage), resource = the job run's ARN, tags from the job run (a few runs
  untagged or with `user_Team` misspelt; a few runs the lake never recorded, untagged);
- EMR application-level hourly lines (resource = the application's ARN): the vCPU- and GB-hours
  of an application without job-level allocation (its runs' plus its idle pre-initialised
  capacity), and the idle pre-initialised capacity of an application with it;
- S3 storage per bucket, day and storage class, and Tier1/Tier2 requests per bucket and day;
- Athena DataScannedInTB per workgroup and hour (the `primary` workgroup untagged);
- DynamoDB and Glue per tagged resource and day (one table untagged, one tagged `user_Team`,
  one Glue job tagged with a team that does not exist).

The drivers (one column per model.Driver field), as the lake records them:
- kind "run", a job-level run: resource = its job run ARN, hour "" (the whole run), measures
  vcpu_seconds, memory_gb_seconds, wall_clock_seconds (origin "billed");
- kind "run", a run on an application without job-level allocation: resource = the
  application's ARN, one row per hour it ran and measure;
- kind "run", per bucket it touched: resource = the bucket, hour "", requests, bytes_read,
  bytes_written;
- kind "storage": key = the dataset's prefix, resource = the bucket, hour "", one
  storage_bytes_<class> measure (the month's average bytes, origin "catalog");
- kind "query": key = the query id, resource = the workgroup's ARN, hour, bytes_scanned.

Every line's cost is a whole number of nano-dollars, so `expected` (nanos per (team,
category)) is exact where a line goes to one key, and within `slack[category]` nanos where a
line is split by drivers (largest remainder moves less than one nano per key and line). It
follows issue 16's methods: EMR and requests by the runs' drivers, storage by bytes per dataset
prefix, Athena by workgroup, DynamoDB and Glue by tags; idle capacity is its own `shared` line;
what nothing attributes (unknown runs, untagged or wrongly tagged resources) is `unallocated`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lake_assets.cost.cur_lines import (
    ACCOUNT,
    CURATED,
    DATASETS,
    EMR,
    EMR_USAGE,
    LOGS,
    MIB,
    PLATFORM_TAGS,
    RAW,
    REGION,
    TIER1_NANOS,
    TIER2_NANOS,
    Bill,
    drivers_table,
    hour_labels,
    numbered,
    tag_maps,
)
from lake_assets.cost.cur_services import athena_lines, storage_lines, tagged_lines
from lake_assets.cost.model import SHARED, UNALLOCATED, emr_application_arn

# EMR Serverless applications: id, job-level cost allocation on, pre-initialised vCPUs, share
# of the runs.
APPLICATIONS = (
    ("00fjoblevel0000a", True, 4, 0.55),
    ("00fjoblevel0000b", True, 0, 0.30),
    ("00fshared00000c1", False, 8, 0.15),
)


@dataclass(frozen=True)
class CostWorld:
    """A month's bill (`cur`, model.CUR_COLUMNS), the drivers the lake recorded (`drivers`) and
    the known answers: nanos per (team, category), each within `slack[category]` nanos."""

    month: str
    cur: pa.Table
    drivers: pa.Table
    expected: dict[tuple[str, str], int]
    slack: dict[str, int] = field(default_factory=dict)


def generate_month(
    month: str, runs: int = 2_000, seed: int = 0, lines_per_run: int = 12
) -> CostWorld:
    """A month of `runs` Spark job runs; a job-level run bills `lines_per_run` lines (hours x
    3 usage types), so the bill has about runs x lines_per_run x 0.85 lines plus a few
    thousand of the other kinds."""
    bill, rng = Bill(month, seed), np.random.default_rng(seed)
    span = -(-lines_per_run // 3)
    if span > bill.hours:
        raise ValueError(f"lines_per_run {lines_per_run} spans more hours than {month} has")
    w = _Runs(bill, rng, runs, span)
    w.job_level_lines(lines_per_run)
    w.application_lines()
    w.requests()
    storage_lines(bill, rng, w.drivers)
    athena_lines(bill, rng, runs, w.drivers)
    tagged_lines(bill, rng)
    return CostWorld(month, bill.table(), pa.concat_tables(w.drivers), bill.answers(), bill.slack)


def as_curated(cur: pa.Table) -> pa.Table:
    """A generated bill as the curated cost_cur table holds it (cur_job.curated_lines): with
    integer nanos and the usage hour. The generated costs are whole nanos, so rounding the
    double recovers them."""
    nanos = pc.round(pc.multiply(cur["line_item_unblended_cost"], 1e9)).cast(pa.int64())
    hour = pc.strftime(cur["line_item_usage_start_date"], "%Y-%m-%dT%H")
    return cur.append_column("cost_nanos", nanos).append_column("usage_hour", hour)


class _Runs:
    """The world's runs and the EMR lines and drivers they cause."""

    def __init__(self, bill: Bill, rng: np.random.Generator, runs: int, span: int):
        self.bill, self.rng, self.runs, self.span = bill, rng, runs, span
        self.drivers: list[pa.Table] = []
        self.dataset = rng.integers(0, len(DATASETS), runs)
        self.app = rng.choice(len(APPLICATIONS), runs, p=[a[3] for a in APPLICATIONS])
        self.job_level = np.array([a[1] for a in APPLICATIONS])[self.app]
        self.unknown = self.job_level & (rng.random(runs) < 0.01)  # never recorded by the lake
        self.start_hour = rng.integers(0, bill.hours - span + 1, runs)
        vcpus = rng.choice(np.array([4, 8, 16, 32, 64]), runs)
        self.ids = numbered(f"{bill.seed:04x}-run-", np.arange(runs), 7)
        job_run_ids = numbered(f"00r{bill.seed % 10**4:04d}", np.arange(runs), 9)
        self.app_arns = pa.array([emr_application_arn(a[0], REGION, ACCOUNT) for a in APPLICATIONS])
        on_app = self.app_arns.take(pa.array(self.app))
        self.job_arns = pc.binary_join_element_wise(on_app, job_run_ids, "/jobruns/")
        self.team, self.pipeline, self.dataset_name = (
            pa.array([d[i] for d in DATASETS]).take(pa.array(self.dataset)) for i in range(3)
        )
        self.team_code = bill.team_codes(self.team)
        # the job run's tags: mostly right, some missing, some with `user_Team` misspelt; a
        # run's tags are those of its (state, dataset), so lines take them from 3 x 8 maps
        state = np.where(self.unknown, 1, rng.choice(3, runs, p=[0.95, 0.03, 0.02]))
        self.tag_code = state * len(DATASETS) + self.dataset
        team, pipeline, name = (pa.array([d[i] for d in DATASETS]) for i in range(3))
        self.tag_table = pa.concat_arrays(
            [
                tag_maps(
                    len(DATASETS),
                    {
                        "user_team": team,
                        "user_pipeline": pipeline,
                        "user_environment": "prod",
                        "user_dataset": name,
                    },
                ),
                tag_maps(len(DATASETS), {}),
                tag_maps(
                    len(DATASETS),
                    {"user_Team": team, "user_pipeline": pipeline, "user_environment": "prod"},
                ),
            ]
        )
        # usage per hour ran, whole units of the list prices: milli vCPU-h, centi GB-h, milli
        # GB-h of storage
        self.rh_run = np.repeat(np.arange(runs), span)
        self.per_mille = rng.integers(100, 1001, runs * span)  # of the run's vCPUs in use
        v = vcpus[self.rh_run] * self.per_mille
        self.units = np.stack([v, v * 4 // 10, v * 5])
        self.rh_hour = self.start_hour[self.rh_run] + np.tile(np.arange(span), runs)

    def _run_drivers(self, rows, resource, hour, measures: dict[str, np.ndarray]) -> None:
        self.drivers.append(
            drivers_table(
                self.bill.month,
                "run",
                self.ids.take(rows),
                resource,
                hour,
                self.team.take(rows),
                self.pipeline.take(rows),
                self.dataset_name.take(rows),
                measures,
                "billed",
            )
        )

    def job_level_lines(self, lines_per_run: int) -> None:
        runs = np.flatnonzero(self.job_level)
        line_run = np.repeat(runs, lines_per_run)
        j = np.tile(np.arange(lines_per_run), len(runs))
        rh, kind = line_run * self.span + j // 3, j % 3
        units = self.units[kind, rh]
        nanos = units * np.array([u[2] for u in EMR_USAGE])[kind]
        taken = pa.array(line_run)
        self.bill.lines(
            EMR,
            self.job_arns.take(taken),
            pa.array([u[0] for u in EMR_USAGE]).take(pa.array(kind)),
            self.rh_hour[rh],
            1,
            units * np.array([u[1] for u in EMR_USAGE])[kind],
            nanos,
            self.tag_table.take(pa.array(self.tag_code[line_run])),
            op="JobRun",
        )
        owner = np.where(self.unknown, self.bill.code(UNALLOCATED), self.team_code)
        self.bill.owe_codes("emr_serverless", owner[line_run], nanos)
        known = runs[~self.unknown[runs]]
        billed = [
            np.bincount(line_run[kind == k], units[kind == k], self.runs)[known] for k in (0, 1)
        ]
        hours_ran = np.bincount(line_run, None, self.runs)[known] / 3
        self._run_drivers(
            pa.array(known),
            self.job_arns.take(pa.array(known)),
            "",
            {
                "vcpu_seconds": billed[0] * 3.6,
                "memory_gb_seconds": billed[1] * 36,
                "wall_clock_seconds": np.ceil(hours_ran) * 3600,
            },
        )

    def application_lines(self) -> None:
        """Per application and hour: its runs' vCPU- and GB-hours plus its idle pre-initialised
        capacity (an application with job-level allocation bills only the idle capacity here)."""
        bill, hours = self.bill, self.bill.hours
        rh = np.flatnonzero(~self.job_level[self.rh_run])
        app_of = self.app[self.rh_run[rh]]
        for index, (_, _, preinit, _) in enumerate(APPLICATIONS):
            idle = preinit * self.rng.integers(300, 1001, hours)  # per-mille idle, milli vCPU-h
            idle_units = (idle, idle * 4 // 10)
            mine = rh[app_of == index]
            for kind in (0, 1):
                used = np.bincount(self.rh_hour[mine], self.units[kind, mine], hours).astype(
                    np.int64
                )
                total = used + idle_units[kind]
                hour = np.flatnonzero(total)
                usage, unit, price = EMR_USAGE[kind]
                bill.lines(
                    EMR,
                    self.app_arns[index].as_py(),
                    usage,
                    hour,
                    1,
                    total[hour] * unit,
                    total[hour] * price,
                    bill.static_tags(len(hour), PLATFORM_TAGS),
                    op="Application",
                )
                bill.owe_codes(
                    "emr_serverless",
                    self.team_code[self.rh_run[mine]],
                    self.units[kind, mine] * price,
                    split_lines=len(mine) + len(hour),
                )
                bill.owe("emr_serverless", {SHARED: float(idle_units[kind].sum()) * price})
            if len(mine):
                run = self.rh_run[mine]
                self._run_drivers(
                    pa.array(run),
                    self.app_arns[index].as_py(),
                    hour_labels(bill.month).take(pa.array(self.rh_hour[mine])),
                    {
                        "vcpu_seconds": self.units[0, mine] * 3.6,
                        "memory_gb_seconds": self.units[1, mine] * 36,
                        "wall_clock_seconds": self.per_mille[mine] * 3.6,
                    },
                )

    def requests(self) -> None:
        """Each recorded run's requests to the curated and raw buckets, one in five a Tier1
        (PUT/LIST), billed per bucket and day; the logs bucket's requests are nobody's run."""
        bill, rng, known = self.bill, self.rng, np.flatnonzero(~self.unknown)
        day = self.start_hour[known] // 24
        for bucket, low, high in ((CURATED, 20, 2_000), (RAW, 0, 400)):
            fifths = rng.integers(low, high, len(known))  # requests / 5
            per_day = np.bincount(day, fifths, bill.hours // 24).astype(np.int64)
            days = np.flatnonzero(per_day)
            for usage, share, price in (
                ("Requests-Tier1", 1, TIER1_NANOS),
                ("Requests-Tier2", 4, TIER2_NANOS),
            ):
                bill.lines(
                    "AmazonS3",
                    bucket,
                    f"EU-{usage}",
                    days * 24,
                    24,
                    per_day[days] * share,
                    per_day[days] * share * price,
                    bill.static_tags(len(days), PLATFORM_TAGS),
                    op="PutObject" if share == 1 else "GetObject",
                )
            bill.owe_codes(
                "s3_requests",
                self.team_code[known],
                fifths * (TIER1_NANOS + 4 * TIER2_NANOS),
                split_lines=2 * len(known),
            )
            self._run_drivers(
                pa.array(known),
                bucket,
                "",
                {
                    "requests": fifths * 5.0,
                    "bytes_read": fifths * 4.0 * 8 * MIB,
                    "bytes_written": fifths * 8.0 * MIB if bucket == CURATED else fifths * 0.0,
                },
            )
        days = np.arange(bill.hours // 24)
        foreign = rng.integers(1_000, 5_000, len(days))
        bill.lines(
            "AmazonS3",
            LOGS,
            "EU-Requests-Tier1",
            days * 24,
            24,
            foreign,
            foreign * TIER1_NANOS,
            bill.static_tags(len(days), None),
            op="PutObject",
        )
        bill.owe("s3_requests", {UNALLOCATED: float(foreign.sum() * TIER1_NANOS)})
