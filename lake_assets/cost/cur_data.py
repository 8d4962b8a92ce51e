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
    REGION,
    TEAMS,
    Bill,
    drivers_table,
    hour_labels,
    numbered,
    tag_maps,
    team_of_tags,
)
from lake_assets.cost.model import SHARED, UNALLOCATED, emr_application_arn

# (team, pipeline, dataset) of the datasets the world's runs write.
DATASETS = (
    ("payments-data", "card_transactions", "card_transactions"),
    ("payments-data", "order_events", "order_events"),
    ("risk-analytics", "fx_rates", "fx_rates"),
    ("risk-analytics", "credit_risk", "exposures"),
    ("customer-data", "customers", "customers"),
    ("customer-data", "crm_contacts", "crm_contacts"),
    ("fraud-ml", "fraud_scoring", "fraud_features"),
    ("fraud-ml", "fraud_scoring", "fraud_scores"),
)
# EMR Serverless applications: id, job-level cost allocation on, pre-initialised vCPUs, share
# of the runs.
APPLICATIONS = (
    ("00fjoblevel0000a", True, 4, 0.55),
    ("00fjoblevel0000b", True, 0, 0.30),
    ("00fshared00000c1", False, 8, 0.15),
)
PLATFORM_TAGS = {"user_team": "data-platform", "user_pipeline": "lake", "user_environment": "prod"}
EMR = "ElasticMapReduce"
EMR_USAGE = (  # usage type, amount per unit the generator bills, nanos per unit (list price)
    ("EU-EMR-SERVERLESS-vCPUHours", 1e-3, 52_624),  # $0.052624 per vCPU-hour
    ("EU-EMR-SERVERLESS-MemoryGBHours", 1e-2, 57_785),  # $0.0057785 per GB-hour
    ("EU-EMR-SERVERLESS-StorageGBHours", 1e-3, 111),  # $0.000111 per GB-hour
)
S3_CLASSES = (  # usage type, driver measure, nanos per GB-month
    ("EU-TimedStorage-ByteHrs", "storage_bytes_standard", 23_000_000),
    ("EU-TimedStorage-SIA-ByteHrs", "storage_bytes_standard_ia", 12_500_000),
    ("EU-TimedStorage-GlacierByteHrs", "storage_bytes_glacier", 3_600_000),
)
TIER1_NANOS, TIER2_NANOS = 5_000, 400  # $0.005 per 1,000 PUT/LIST, $0.0004 per 1,000 GET
ATHENA_NANOS_PER_MB = 5_000  # $5 per TB scanned
GIB, MIB = 2**30, 2**20
CURATED, RAW, LOGS = (f"lake-{zone}-{ACCOUNT}" for zone in ("curated", "raw", "logs"))
WORKGROUP_ARN = f"arn:aws:athena:{REGION}:{ACCOUNT}:workgroup/"
DYNAMODB_TABLES = (  # table, tags (None: untagged)
    ("lake-registry", PLATFORM_TAGS),
    ("lake-lineage", PLATFORM_TAGS),
    (
        "payments-ledger-cache",
        {
            "user_team": "payments-data",
            "user_pipeline": "card_transactions",
            "user_environment": "prod",
        },
    ),
    ("scratch-orders", None),
    (
        "risk-limits",
        {"user_Team": "risk-analytics", "user_pipeline": "credit_risk", "user_environment": "prod"},
    ),
)
GLUE_RESOURCES = (  # resource, tags
    (
        "job/cards-compaction",
        {
            "user_team": "payments-data",
            "user_pipeline": "card_transactions",
            "user_environment": "prod",
        },
    ),
    ("crawler/raw-zone", PLATFORM_TAGS),
    (
        "job/legacy-export",
        {"user_team": "paymnets-data", "user_pipeline": "legacy", "user_environment": "prod"},
    ),
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
    _storage(bill, rng, w)
    _athena(bill, rng, w)
    for category, product, resources, usage in (
        (
            "dynamodb",
            "AmazonDynamoDB",
            [
                (f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{t}", tags)
                for t, tags in DYNAMODB_TABLES
            ],
            (("EU-ReadRequestUnits", 100, 28_300), ("EU-WriteRequestUnits", 100, 141_350)),
        ),
        (
            "glue",
            "AWSGlue",
            [(f"arn:aws:glue:{REGION}:{ACCOUNT}:{r}", tags) for r, tags in GLUE_RESOURCES],
            (("EU-ETL-DPU-Hour", 1e-2, 4_400_000),),
        ),
    ):
        _tagged_daily(bill, rng, category, product, resources, usage)
    return CostWorld(month, bill.table(), pa.concat_tables(w.drivers), bill.answers(), bill.slack)


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


def _storage(bill: Bill, rng: np.random.Generator, w: _Runs) -> None:
    """Each dataset's GB per bucket and storage class (constant over the month), billed per
    bucket, class and day; the logs bucket holds no dataset and no tags."""
    n, days = len(DATASETS), bill.hours // 24
    team_code = bill.team_codes(pa.array([d[0] for d in DATASETS]))
    for bucket, classes, prefix in (
        (CURATED, (0, 1, 2), "curated/"),
        (RAW, (0, 2), "raw/source="),
        (LOGS, (0,), None),
    ):
        for c in classes:
            usage, measure, price = S3_CLASSES[c]
            gb = rng.integers(10, 5_000, n) if prefix else np.array([800])
            nanos = np.full(days, round(gb.sum() * price / days))
            tags = bill.static_tags(days, PLATFORM_TAGS if prefix else None)
            bill.lines(
                "AmazonS3",
                bucket,
                usage,
                np.arange(days) * 24,
                24,
                np.full(days, gb.sum() / days),
                nanos,
                tags,
                op="StandardStorage",
            )
            if not prefix:
                bill.owe("s3_storage", {UNALLOCATED: float(nanos.sum())})
                continue
            bill.owe_codes(
                "s3_storage", team_code, nanos.sum() * gb / gb.sum(), split_lines=days * n
            )
            rows = pa.array(np.arange(n))
            names = pa.array([d[2] for d in DATASETS])
            w.drivers.append(
                drivers_table(
                    bill.month,
                    "storage",
                    pc.binary_join_element_wise(prefix, names, "/", ""),
                    bucket,
                    "",
                    pa.array([d[0] for d in DATASETS]).take(rows),
                    pa.array([d[1] for d in DATASETS]).take(rows),
                    names,
                    {measure: gb * float(GIB)},
                    "catalog",
                )
            )


def _athena(bill: Bill, rng: np.random.Generator, w: _Runs) -> None:
    """Queries per team workgroup (and the untagged `primary`), billed per workgroup and hour."""
    groups = (*sorted({d[0] for d in DATASETS}), "primary")
    queries = max(50, w.runs // 5)
    group = rng.integers(0, len(groups), queries)
    hour = rng.integers(0, bill.hours, queries)
    mb = rng.integers(10, 50_000, queries)  # Athena bills at least 10 MB a query
    key = group * bill.hours + hour
    per_key = np.bincount(key, mb, len(groups) * bill.hours).astype(np.int64)
    keys = np.flatnonzero(per_key)
    arns = pa.array([WORKGROUP_ARN + g for g in groups])
    tags = [
        tag_maps(1, {**PLATFORM_TAGS, "user_team": g, "user_pipeline": "analytics"})
        for g in groups[:-1]
    ] + [tag_maps(1, {})]
    tagged = pa.concat_arrays(tags)
    kg = pa.array(keys // bill.hours)
    bill.lines(
        "AmazonAthena",
        arns.take(kg),
        "EU-DataScannedInTB",
        keys % bill.hours,
        1,
        per_key[keys] / 1e6,
        per_key[keys] * ATHENA_NANOS_PER_MB,
        tagged.take(kg),
    )
    teams = np.array([*(bill.code(g) for g in groups[:-1]), bill.code(UNALLOCATED)])
    bill.owe_codes("athena", teams[group], mb * ATHENA_NANOS_PER_MB)
    mine = np.flatnonzero(group < len(groups) - 1)
    team_of = pa.array(groups).take(pa.array(group[mine]))
    number = pa.array(mine).cast(pa.string())
    datasets = pa.array([d[2] for d in DATASETS])
    w.drivers.append(
        drivers_table(
            bill.month,
            "query",
            pc.binary_join_element_wise(f"{bill.seed:04x}-query-", number, ""),
            arns.take(pa.array(group[mine])),
            hour_labels(bill.month).take(pa.array(hour[mine])),
            team_of,
            "",
            datasets.take(pa.array(rng.integers(0, len(DATASETS), len(mine)))),
            {"bytes_scanned": mb[mine] * 1e6},
            "query-history",
        )
    )


def _tagged_daily(bill, rng, category, product, resources, usage) -> None:
    """Resources attributed by their tags, billed per day and usage type."""
    days = np.arange(bill.hours // 24)
    for resource, tags in resources:
        team = team_of_tags(tags)
        for usage_type, unit, price in usage:
            units = rng.integers(10, 2_000, len(days))
            bill.lines(
                product,
                resource,
                usage_type,
                days * 24,
                24,
                units * unit,
                units * price,
                bill.static_tags(len(days), tags),
            )
            bill.owe(category, {team if team in TEAMS else UNALLOCATED: float(units.sum() * price)})
