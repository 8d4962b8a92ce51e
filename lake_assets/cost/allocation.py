"""The allocation engine: a month's CUR line items and drivers in, ledger rows out, every
nano-dollar of the bill in exactly one row (allocated, shared or `unallocated` with its reason).
One Spark job, `cost_allocate` (runtime/jobs.py): Dagster-free and catalog-free, it reads the
files its plan names and writes the ledger to the folder its plan names.

Pool first (pools.py), then split each pool over its drivers exactly (split.py), then what no
driver weighs by the lines' tags, then the methods' leftover rules (policy.py's precedence).
"""

from __future__ import annotations

from functools import reduce

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from lake_assets.cost.model import SHARED, UNALLOCATED, check_month
from lake_assets.cost.policy import AllocationPolicy, Method
from lake_assets.cost.pools import (
    DRIVER_COLUMNS,
    POOL,
    UNMATCHED,
    driver_pools,
    line_pools,
)
from lake_assets.cost.split import WHOLE, split_pools, units_as_value, weight_units
from lake_assets.tables.frames import ddl

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
IDLE = "\u0000idle"  # the recipient standing for billed capacity no run used


def _per_method(policy: AllocationPolicy, value, otherwise: Column) -> Column:
    chosen = otherwise
    for index, method in reversed(list(enumerate(policy.methods))):
        chosen = F.when(F.col("method") == index, value(method)).otherwise(chosen)
    return chosen


def _drivers(*pairs: tuple[Column, Column]) -> Column:
    return F.create_map(*[part for pair in pairs for part in pair]).cast("map<string,double>")


def _no_drivers() -> Column:
    return F.create_map().cast("map<string,double>")


def _billed_units(method: Method) -> Column:
    """The pool's billed usage in its measure's micro-units; null where the method bills none."""
    billed = method.billed_capacity
    if billed is None:
        return F.lit(None).cast(WHOLE)
    return F.when(
        F.col("measure").isin(list(billed.measures)),
        weight_units(F.col("usage") * F.lit(billed.seconds_per_unit)),
    )


def driven(pools: DataFrame, drivers: DataFrame, policy: AllocationPolicy) -> DataFrame:
    """The recipients of every pool some driver weighs: per pool (POOL, `nanos`, `lines`,
    `category`), each recipient's team, pipeline, dataset, `used` measure and `units`, plus the
    idle recipient (team IDLE) of billed capacity the runs did not use."""
    fallback = _per_method(policy, lambda m: F.lit(m.fallback or ""), F.lit(""))
    candidates = pools.withColumn("fallback", fallback).join(
        drivers, ["method", "pool_resource", "pool_hour"]
    )
    candidates = candidates.where(
        (F.col("d_measure") == F.col("measure")) | (F.col("d_measure") == F.col("fallback"))
    )
    whole = Window.partitionBy(*POOL)
    weighed = (
        candidates.withColumn(
            "primary",
            F.sum(F.when(F.col("d_measure") == F.col("measure"), F.col("units"))).over(whole),
        )
        .withColumn(
            "used",
            F.when(F.col("primary") > 0, F.col("measure")).otherwise(F.col("fallback")),
        )
        .where(F.col("d_measure") == F.col("used"))
        .withColumn("pool_units", F.sum("units").over(whole))
        .withColumn("billed", _per_method(policy, _billed_units, F.lit(None).cast(WHOLE)))
        .withColumn(
            "billed",
            F.when(F.col("used") == F.col("measure"), F.col("billed")),
        )
    )
    keep = [*POOL, "category", "nanos", "lines", "used", "pool_units", "billed"]
    runs = weighed.select(*keep, "team", "pipeline", "dataset", "units")
    idle = (
        weighed.where(F.col("billed") > F.col("pool_units"))
        .select(*keep)
        .distinct()
        .select(
            *keep,
            F.lit(IDLE).alias("team"),
            F.lit("").alias("pipeline"),
            F.lit("").alias("dataset"),
            (F.col("billed") - F.col("pool_units")).cast(WHOLE).alias("units"),
        )
    )
    return runs.unionByName(idle)


def _leftover(policy: AllocationPolicy, field: str, unmatched: str) -> Column:
    return _per_method(policy, lambda m: F.lit(getattr(m.leftover, field)), F.lit(unmatched))


def allocate(
    lines: DataFrame, drivers: DataFrame, policy: AllocationPolicy, month: str, teams: list[str]
) -> DataFrame:
    """The month's ledger rows (LEDGER_COLUMNS) from its CUR `lines` (CUR columns with
    `cost_nanos` and `usage_hour`) and `drivers` (model.Driver's fields)."""
    check_month(month)
    # The drivers are read by every driver method and for their teams: once, from the files.
    drivers = drivers.select(*DRIVER_COLUMNS).localCheckpoint()
    # Checkpointed (eager, in the executors): every later step reads these small frames more
    # than once, and none of them should read the line items again.
    subpools = line_pools(lines, policy).localCheckpoint()
    pools = subpools.groupBy(*POOL, "category").agg(
        F.sum("nanos").alias("nanos"), F.sum("lines").alias("lines"), F.sum("usage").alias("usage")
    )
    recipients = driven(
        pools.where(F.col("method") != UNMATCHED), driver_pools(drivers, policy), policy
    )
    key = F.concat_ws("\u001f", "team", "pipeline", "dataset")
    shares = split_pools(
        recipients.withColumn("key", key), POOL, "key", "nanos", "units"
    ).localCheckpoint()
    pool_drivers = _drivers(
        (F.col("used"), units_as_value(F.col("units"))),
        (F.concat(F.lit("pool_"), F.col("used")), units_as_value(F.col("pool_units"))),
    )
    billed_drivers = _drivers(
        (F.concat(F.lit("idle_"), F.col("used")), units_as_value(F.col("units"))),
        (F.concat(F.lit("billed_"), F.col("used")), units_as_value(F.col("billed"))),
        (F.concat(F.lit("pool_"), F.col("used")), units_as_value(F.col("pool_units"))),
    )
    allocated = shares.where(F.col("team") != IDLE).select(
        "team",
        "pipeline",
        "dataset",
        "category",
        _per_method(policy, lambda m: F.lit(m.id), F.lit("")).alias("method"),
        F.col("share").alias("cost_nanos"),
        pool_drivers.alias("drivers"),
        F.lit("").alias("reason"),
        "lines",
        "pool_resource",
        "pool_hour",
    )
    idle = shares.where(F.col("team") == IDLE).select(
        *POOL,
        "category",
        F.col("share").alias("nanos"),
        "lines",
        _leftover(policy, "rule", "unallocated").alias("rule"),
        _leftover(policy, "reason", "").alias("reason"),
        billed_drivers.alias("drivers"),
    )
    # Precedence step 3: pools no driver weighs go by each line's team tag.
    unweighed = subpools.join(shares.select(*POOL).distinct(), POOL, "left_anti")
    # Known teams: the plan's (declared, owners of sources) and those the drivers name.
    named = {row["team"] for row in drivers.select("team").distinct().collect()}
    by_tag = _per_method(policy, lambda m: F.lit(m.by_tag), F.lit(True))
    valid = F.col("tag_team").isin(sorted((set(teams) | named) - {"", None})) & by_tag
    tagged = unweighed.where(valid).select(
        F.col("tag_team").alias("team"),
        F.col("tag_pipeline").alias("pipeline"),
        F.col("tag_dataset").alias("dataset"),
        "category",
        F.lit(policy.tag_attribution.id).alias("method"),
        F.col("nanos").alias("cost_nanos"),
        _no_drivers().alias("drivers"),
        F.lit("").alias("reason"),
        "lines",
        "pool_resource",
        "pool_hour",
    )
    tag_problem = F.when(F.col("tag_team") == "", "missing_team_tag").otherwise("unknown_team_tag")
    untagged = unweighed.where(~valid).select(
        *POOL,
        "category",
        "nanos",
        "lines",
        _leftover(policy, "rule", "unallocated").alias("rule"),
        F.concat_ws(
            "/",
            _leftover(policy, "reason", policy.tag_attribution.unmatched_reason),
            F.when(by_tag, tag_problem),
        ).alias("reason"),
        _no_drivers().alias("drivers"),
    )
    leftovers = idle.unionByName(untagged)
    rows = [allocated, tagged, *_apply_leftovers(leftovers, allocated.unionByName(tagged), policy)]
    ledger = reduce(DataFrame.unionByName, rows)
    return ledger.select(
        F.lit(month).alias("month"),
        "pipeline",
        "dataset",
        "category",
        "method",
        F.col("cost_nanos").cast("bigint").alias("cost_nanos"),
        (F.col("cost_nanos").cast("decimal(38,9)") / F.lit(10**9))
        .cast("decimal(38,9)")
        .alias("cost_usd"),
        "drivers",
        "reason",
        F.col("lines").cast("bigint").alias("line_items"),
        F.col("pool_resource").alias("resource"),
        F.col("pool_hour").alias("hour"),
        "team",
    )


def _apply_leftovers(
    leftovers: DataFrame, attributed: DataFrame, policy: AllocationPolicy
) -> list[DataFrame]:
    """Precedence step 4: `unallocated` and `shared` rows as they are; `share_by_usage` pooled
    per method and reason over the month and split over the teams by what the method's category
    `attributed` them (no such team: unallocated)."""
    method_id = _per_method(policy, lambda m: F.lit(m.id), F.lit(policy.tag_attribution.id))
    kept = leftovers.where(F.col("rule") != "share_by_usage").select(
        F.when(F.col("rule") == "shared", SHARED).otherwise(UNALLOCATED).alias("team"),
        F.lit("").alias("pipeline"),
        F.lit("").alias("dataset"),
        "category",
        method_id.alias("method"),
        F.col("nanos").alias("cost_nanos"),
        "drivers",
        "reason",
        "lines",
        "pool_resource",
        "pool_hour",
    )
    month_pools = (
        leftovers.where(F.col("rule") == "share_by_usage")
        .groupBy("method", "category", "reason")
        .agg(F.sum("nanos").alias("nanos"), F.sum("lines").alias("lines"))
    )
    usage = (
        attributed.groupBy("category", "team")
        .agg(F.sum("cost_nanos").alias("team_nanos"))
        .where(F.col("team_nanos") > 0)
    )
    weighed = month_pools.join(usage, "category", "left")
    share_drivers = _drivers(
        (F.concat(F.lit("team_"), F.col("category"), F.lit("_usd")), F.col("team_usd")),
        (F.concat(F.lit("all_"), F.col("category"), F.lit("_usd")), F.col("all_usd")),
    )
    shared = (
        split_pools(
            weighed.where(F.col("team").isNotNull()),
            ["method", "category", "reason"],
            "team",
            "nanos",
            "team_nanos",
        )
        .withColumn("team_usd", F.col("team_nanos") / F.lit(1e9))
        .withColumn(
            "all_usd", F.sum("team_nanos").over(Window.partitionBy("method", "reason")) / 1e9
        )
        .select(
            "team",
            F.lit("").alias("pipeline"),
            F.lit("").alias("dataset"),
            "category",
            method_id.alias("method"),
            F.col("share").alias("cost_nanos"),
            share_drivers.alias("drivers"),
            "reason",
            "lines",
            F.lit("").alias("pool_resource"),
            F.lit("").alias("pool_hour"),
        )
    )
    nobody = weighed.where(F.col("team").isNull()).select(
        F.lit(UNALLOCATED).alias("team"),
        F.lit("").alias("pipeline"),
        F.lit("").alias("dataset"),
        "category",
        method_id.alias("method"),
        F.col("nanos").alias("cost_nanos"),
        _no_drivers().alias("drivers"),
        F.concat(F.col("reason"), F.lit("/no_usage_to_share_by")).alias("reason"),
        "lines",
        F.lit("").alias("pool_resource"),
        F.lit("").alias("pool_hour"),
    )
    return [kept, shared, nobody]


def write_ledger(ledger: DataFrame, output_uri: str) -> None:
    """The ledger as Parquet, one folder per team (team=<t>/), each team's rows in one file in
    ROW_ORDER: the same content on every run."""
    (
        ledger.repartition("team")
        .sortWithinPartitions("team", *ROW_ORDER, "cost_nanos")
        .write.mode("error")
        .partitionBy("team")
        .parquet(output_uri)
    )


def allocation_job(spark: SparkSession, plan: dict) -> dict:
    """The registered Spark job `cost_allocate`. Plan: `month`, `cur` and `drivers` (the URIs of
    the published files), `policy` (AllocationPolicy as a dict), `teams` (the known teams) and
    `output_uri` (the month's folder in the run's own folder). Result: the `bill_nanos` read,
    the `rows` and `files` written (paths under output_uri), nanos per team, per unallocated
    reason and per dataset: counts and totals only."""
    policy = AllocationPolicy.model_validate(plan["policy"])
    lines = spark.read.parquet(*plan["cur"])
    drivers = (
        spark.read.schema(ddl(DRIVER_COLUMNS)).parquet(*plan["drivers"])
        if plan["drivers"]
        else spark.createDataFrame([], ddl(DRIVER_COLUMNS))
    )
    bill = lines.agg(F.sum("cost_nanos").alias("nanos"), F.count(F.lit(1)).alias("lines"))
    ledger = allocate(lines, drivers, policy, plan["month"], list(plan["teams"]))
    write_ledger(ledger, plan["output_uri"])
    written = (
        spark.read.parquet(plan["output_uri"])
        .groupBy(
            F.regexp_extract(F.col("_metadata.file_path"), r"(team=[^/]+/[^/]+)$", 1).alias("file"),
            F.col("team").cast("string").alias("team"),
            "reason",
            "dataset",
        )
        .agg(F.count(F.lit(1)).alias("rows"), F.sum("cost_nanos").alias("nanos"))
        .collect()
    )
    billed = bill.collect()[0]
    teams: dict[str, int] = {}
    reasons: dict[str, int] = {}
    datasets: dict[str, int] = {}
    for row in written:
        teams[row["team"]] = teams.get(row["team"], 0) + row["nanos"]
        if row["team"] == UNALLOCATED:
            reasons[row["reason"]] = reasons.get(row["reason"], 0) + row["nanos"]
        if row["dataset"]:
            datasets[row["dataset"]] = datasets.get(row["dataset"], 0) + row["nanos"]
    return {
        "bill_nanos": billed["nanos"] or 0,
        "line_items": billed["lines"],
        "rows": sum(row["rows"] for row in written),
        "files": sorted({row["file"] for row in written}),
        "team_nanos": dict(sorted(teams.items())),
        "unallocated_nanos": dict(sorted(reasons.items())),
        "dataset_nanos": dict(sorted(datasets.items())),
    }
