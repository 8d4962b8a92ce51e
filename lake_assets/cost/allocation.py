"""The allocation engine: a month's CUR line items and drivers in, ledger rows out, every
nano-dollar of the bill in exactly one row (allocated, shared or `unallocated` with its reason).
One Spark job, `cost_allocate` (runtime/jobs.py): Dagster-free and catalog-free, it reads the
files its plan names and writes the ledger to the folder its plan names.

Spark pools (pools.py): the line items and the drivers are read once each and summed by pool
keys, so ten million line items become a few hundred thousand pools. The pools then come to
the driver, where shares.py splits them exactly, attributes what no driver weighs by tag and
applies the methods' leftover rules; Spark writes the rows, counting each team's rows and nanos
as it writes them (the audit: the ledger reconciles when the teams' nanos are the bill's).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from lake_assets.cost.model import UNALLOCATED, check_month
from lake_assets.cost.policy import AllocationPolicy
from lake_assets.cost.pools import DRIVER_COLUMNS, driver_pools, line_pools
from lake_assets.cost.shares import allocate_pools
from lake_assets.tables.frames import TASK, collected_aside, ddl, dealt, frame_of, written_files

# The ledger's columns in file order (`team` is the folder, team=<t>/): model.LedgerRow's fields,
# money as both exact nanos and decimal dollars, and the pool a row came from.
LEDGER_COLUMNS = {
    "month": "string",
    "pipeline": "string",
    "dataset": "string",
    "category": "string",
    "method": "string",
    "cost_nanos": "integer",
    "cost_usd": "decimal(38,9)",
    "drivers": "map<string,double>",
    "reason": "string",
    "line_items": "integer",
    "resource": "string",  # what the pool's lines name: a job run, application, bucket, ...
    "hour": "string",  # the pool's hour, "" for a month's pool
    "team": "string",
}
# Rows come out of each file in this order, so a re-run writes the same content.
ROW_ORDER = ["category", "method", "resource", "hour", "pipeline", "dataset", "reason"]


def allocate(
    lines: DataFrame, drivers: DataFrame, policy: AllocationPolicy, month: str, teams: list[str]
) -> tuple[list[dict], dict[str, int]]:
    """The month's ledger rows (dicts of LEDGER_COLUMNS) from its CUR `lines` (CUR columns with
    `cost_nanos` and `usage_hour`) and `drivers` (model.Driver's fields), and the bill it
    allocated (`nanos`, `lines`: every line is in exactly one subpool)."""
    check_month(month)
    with collection_paused():
        # Two independent Spark jobs, overlapped: 21.0 s for both in turn, 18.5 s side by side
        # (medians of 3 on the 10M-line benchmark, 2 cores).
        weighing = collected_aside(driver_pools(drivers, policy))
        subpools = line_pools(lines, policy)
        # Known teams: the plan's (declared, owners of sources) and those the drivers name.
        named = {row["team"] for row in drivers.select("team").distinct().collect()}
        rows = allocate_pools(subpools, weighing(), policy, set(teams) | named)
        bill = {
            "nanos": sum(part["nanos"] or 0 for part in subpools),
            "lines": sum(part["lines"] for part in subpools),
        }
        # Nanos as dollars by moving the point: exact, nine places (a division and a quantize
        # per row took a second of the 10M-line benchmark).
        for row in rows:
            row["month"], row["cost_usd"] = month, Decimal(row["cost_nanos"]).scaleb(-9)
        return rows, bill


@contextmanager
def collection_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while the pools and the ledger rows are built:
    millions of dicts and tuples that hold no cycles, which the collector would otherwise walk
    again and again as they accumulate (the shares alone: 4.9-6.5 s with it, 3.5-4.0 s without,
    on the 10M-line benchmark's pools). Back on afterwards as it was, even on an error."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def write_ledger(ledger: DataFrame, output_uri: str, teams: list[str]) -> dict:
    """The ledger as Parquet, one folder per team (team=<t>/), each team's rows in one file in
    ROW_ORDER: the same content on every run. What the writer received, counted by Spark in
    the writing pass (an Observation, as every derived write is audited: ADR-0119) rather than
    read back: `rows`, and `team_nanos`, the nanos of each of `teams` (those the rows name)."""
    observed = Observation("ledger")
    counters = [F.count(F.lit(1)).alias("rows")] + [
        F.sum(F.when(F.col("team") == name, F.col("cost_nanos"))).alias(f"nanos{i}")
        for i, name in enumerate(teams)
    ]
    # Each team's rows in one task (one file), the teams dealt evenly over the cores.
    tasks = ledger.sparkSession.sparkContext.defaultParallelism
    (
        dealt(ledger, "team", teams, tasks)
        .drop(TASK)
        .sortWithinPartitions("team", *ROW_ORDER, "cost_nanos")
        .observe(observed, *counters)
        .write.mode("error")
        .partitionBy("team")
        .parquet(output_uri)
    )
    counted = observed.get
    return {
        "rows": counted["rows"],
        "team_nanos": {name: counted[f"nanos{i}"] or 0 for i, name in enumerate(teams)},
    }


def allocation_job(spark: SparkSession, plan: dict) -> dict:
    """The registered Spark job `cost_allocate`. Plan: `month`, `cur` and `drivers` (the URIs of
    the published files), `policy` (AllocationPolicy as a dict), `teams` (the known teams) and
    `output_uri` (the month's folder in the run's own folder). Result: the `bill_nanos` read,
    the `rows` and `files` written (paths under output_uri), nanos per team (as written), per
    unallocated reason and per dataset: counts and totals only."""
    policy = AllocationPolicy.model_validate(plan["policy"])
    lines = spark.read.parquet(*plan["cur"])
    drivers = (
        spark.read.schema(ddl(DRIVER_COLUMNS)).parquet(*plan["drivers"])
        if plan["drivers"]
        else spark.createDataFrame([], ddl(DRIVER_COLUMNS))
    )
    rows, billed = allocate(lines, drivers, policy, plan["month"], list(plan["teams"]))
    ledger = frame_of(spark, rows, LEDGER_COLUMNS)
    written = write_ledger(ledger, plan["output_uri"], sorted({row["team"] for row in rows}))
    reasons: dict[str, int] = {}
    datasets: dict[str, int] = {}
    for row in rows:
        if row["team"] == UNALLOCATED:
            reasons[row["reason"]] = reasons.get(row["reason"], 0) + row["cost_nanos"]
        if row["dataset"]:
            datasets[row["dataset"]] = datasets.get(row["dataset"], 0) + row["cost_nanos"]
    files = written_files(spark, plan["output_uri"], partitioned=True)
    return {
        "bill_nanos": billed["nanos"] or 0,
        "line_items": billed["lines"],
        "rows": written["rows"],
        "files": sorted(f"team={team}/{name}" for team, names in files.items() for name in names),
        "team_nanos": written["team_nanos"],
        "unallocated_nanos": dict(sorted(reasons.items())),
        "dataset_nanos": dict(sorted(datasets.items())),
    }
