"""Pooling, the first half of allocation: the month's CUR line items summed into pools by the
method that takes them (policy.py's precedence, step 1), and the drivers summed by the same
pool keys. Ten million line items become a few hundred thousand pools before anything is joined
or split; the line pools come to the driver (Arrow), the driver pools stay a frame for the
caller to collect. Runs on Spark 3.5 and 4.x (no 4.x-only API).
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from lake_assets.cost.model import TAG_PREFIX
from lake_assets.cost.policy import AllocationPolicy, Method
from lake_assets.cost.shares import POOL, UNITS_PER_VALUE, UNMATCHED
from lake_assets.tables.frames import collected

# The Java spelling of model._EMR_ARN (group 1: the application, group 2: the job run).
EMR_ARN = r"^arn:aws:emr-serverless:[^:]*:\d*:/applications/([^/]+)(?:/jobruns/([^/]+))?$"
WORKGROUP_ARN = r"^arn:aws:athena:[^:]*:\d*:workgroup/(.+)$"
# Driver values are weighed in whole micro-units (shares.UNITS_PER_VALUE): exact sums.
WHOLE = "decimal(38,0)"
TAGS = ["tag_team", "tag_pipeline", "tag_dataset"]
# What a pool of lines carries, whichever method took it.
SUBPOOL = [*POOL, "category", *TAGS]
DRIVER_COLUMNS = {
    "month": "string",
    "kind": "string",
    "key": "string",
    "resource": "string",
    "hour": "string",
    "team": "string",
    "pipeline": "string",
    "dataset": "string",
    "measure": "string",
    "value": "double",
    "origin": "string",
}


def weight_units(value: Column) -> Column:
    """A driver value (double) as whole micro-units, rounded half-up once, per value."""
    return F.round(value.cast("decimal(38,9)") * F.lit(UNITS_PER_VALUE)).cast(WHOLE)


def _text(name: str) -> Column:
    return F.coalesce(F.col(name).cast("string"), F.lit(""))


# The fixed start of the ARNs the patterns read: a cheap test that spares the regex on every line
# item of another service (most of a bill).
_ARN_PREFIX = {EMR_ARN: "arn:aws:emr-serverless:", WORKGROUP_ARN: "arn:aws:athena:"}
_JOB_RUN = "/jobruns/"


def _named(resource: Column, pattern: str, group: int) -> Column:
    """The ARN `pattern`'s `group` in `resource`, "" when it is not such an ARN."""
    return F.when(
        resource.startswith(_ARN_PREFIX[pattern]), F.regexp_extract(resource, pattern, group)
    ).otherwise(F.lit(""))


# What the ARN patterns read from a resource id, once per row (a projection of its own: Spark
# keeps a regex that later expressions use more than once in its own).
_NAMED = {"emr_application": (EMR_ARN, 1), "athena_workgroup": (WORKGROUP_ARN, 1)}


def _line_key(kind: str) -> Column:
    """The pool key `kind` of a line, from its `resource_id` and the _NAMED columns: "" where
    the id names none (an application-level line names no job run), so no method of that kind
    takes the line. The job run is the ARN's tail once the application matched."""
    resource, application = F.col("resource_id"), F.col("emr_application")
    if kind == "job_run":
        return F.when(
            (application != "") & resource.contains(_JOB_RUN),
            F.substring_index(resource, _JOB_RUN, -1),
        ).otherwise(F.lit(""))
    named = {"application": application, "workgroup": F.col("athena_workgroup")}.get(kind)
    return resource if named is None else F.when(named != "", named).otherwise(resource)


# The job run a driver's key names (a run recorded on its application), "" if none.
KEYED_JOB_RUN = "keyed_job_run"


def _driver_key(kind: str) -> Column:
    """A driver's pool key `kind`: as a line's, from its resource (the bare id or the ARN); a
    run recorded on its application names its job run in its key (KEYED_JOB_RUN) instead."""
    if kind != "job_run":
        return _line_key(kind)
    keyed, named = F.col(KEYED_JOB_RUN), _line_key(kind)
    return F.when(named != "", named).when(keyed != "", keyed).otherwise(F.col("resource_id"))


def _named_columns(resource: Column) -> list[Column]:
    """The _NAMED columns of a resource id, each regex once per row (behind its prefix)."""
    return [
        _named(resource, pattern, group).alias(name) for name, (pattern, group) in _NAMED.items()
    ]


def _usage_measure(method: Method) -> Column:
    """The measure of the first of the method's patterns the usage type matches, else null."""
    chosen = F.lit(None).cast("string")
    for pattern, measure in reversed(method.measures.items()):
        chosen = F.when(F.col("usage_type").rlike(pattern), measure).otherwise(chosen)
    return chosen


def _matches(method: Method) -> Column:
    """Whether a line is of the method's line item types, product codes and usage types."""
    match = method.match
    # Cheapest and most selective first: Spark stops at the first false condition.
    matched = F.col("line_type").isin(list(match.line_item_types))
    if match.product_codes:
        matched = F.col("product").isin(list(match.product_codes)) & matched
    if match.usage_types:
        matched &= F.col("usage_type").rlike(match.usage_types)
    return matched


def _measured(index: int) -> str:
    return f"_measure{index}"


def _measure_columns(policy: AllocationPolicy) -> list[Column]:
    """Per method with measures, the measure its patterns read from a line it matches (null
    where it matches none, or another method's line): a projection of its own, so each
    pattern runs once per row, and only on the rows of the method's products. Choosing the
    method and naming the measure both read these; inlined, the regular expressions ran in
    each, and on every product's rows (13.0 s -> 12.1 s when they ran on ten million lines)."""
    return [
        F.when(_matches(method), _usage_measure(method)).alias(_measured(index))
        for index, method in enumerate(policy.methods)
        if method.measures
    ]


def _takes(index: int, method: Method) -> Column:
    if method.measures:  # the measure column holds only lines the method matches
        taken = F.col(_measured(index)).isNotNull()
    else:
        taken = _matches(method)
    return taken & (_line_key(method.resource_key) != "")


def _by_method(policy: AllocationPolicy, per_method, otherwise: Column) -> Column:
    chosen = otherwise
    for index in reversed(range(len(policy.methods))):
        value = per_method(policy.methods[index])
        chosen = F.when(F.col("method") == index, value).otherwise(chosen)
    return chosen


# A pool column that line_pools drops: it holds lines whose hour was set aside, and its method
# pools by the hour or bills capacity.
HOUR_NEEDED = "hour_needed"


def line_pools(lines: DataFrame, policy: AllocationPolicy) -> list[dict]:
    """The month's line items summed per pool and tag, on the driver: dicts of SUBPOOL with
    `nanos`, `lines` and `usage` (line_item_usage_amount, exact in decimal, of the methods that
    bill capacity; null for the others, which never read it).

    The lines are first summed by everything a method reads of them, with the hour set aside
    on job-level lines (their resource id names a job run): ten million lines become a few
    hundred thousand groups, and only those are classified (the ARN and usage-type patterns
    ran on every line before: 17-20 s of the 10M-line benchmark, now about 7). A job-run
    method pools a month, not an hour, so the hour was never needed there. Should a method
    that pools by the hour or bills capacity take job-level lines (a policy without a job-run
    method, a malformed job-run ARN), the whole bill is pooled again with every hour kept."""
    pools = collected(_pooled(_line_groups(lines, set_hours_aside=True), policy))
    needed = [pool.pop(HOUR_NEEDED) for pool in pools]
    if any(needed):
        again = _pooled(_line_groups(lines, set_hours_aside=False), policy)
        pools = collected(again.drop(HOUR_NEEDED))
    return pools


def _line_groups(lines: DataFrame, set_hours_aside: bool) -> DataFrame:
    """The line items summed by product, line item type, usage type, resource id, tags and
    usage hour (`hour_set_aside`: the hour left "" on a job-level line when `set_hours_aside`):
    `nanos`, `lines`, and `usage` where the hour is kept (job-level usage is never billed
    capacity unless HOUR_NEEDED says so)."""
    tag = F.col("resource_tags")
    resource = _text("line_item_resource_id")
    aside = resource.contains(_JOB_RUN) if set_hours_aside else F.lit(False)
    usage = F.coalesce(F.col("line_item_usage_amount"), F.lit(0.0)).cast("decimal(38,9)")
    return lines.groupBy(
        _text("line_item_product_code").alias("product"),
        _text("line_item_line_item_type").alias("line_type"),
        _text("line_item_usage_type").alias("usage_type"),
        resource.alias("resource_id"),
        F.when(aside, F.lit("")).otherwise(_text("usage_hour")).alias("usage_hour"),
        *[F.coalesce(tag.getItem(TAG_PREFIX + t), F.lit("")).alias(f"tag_{t}") for t in _TAG_NAMES],
        aside.alias("hour_set_aside"),
    ).agg(
        F.sum(F.col("cost_nanos").cast("bigint")).alias("nanos"),
        F.count(F.lit(1)).alias("lines"),
        F.sum(F.when(~aside, usage)).alias("usage"),
    )


def _pooled(groups: DataFrame, policy: AllocationPolicy) -> DataFrame:
    """_line_groups' groups classified by the method that takes them (policy.py's precedence,
    step 1) and summed by its pool keys: SUBPOOL, `nanos`, `lines`, `usage`, HOUR_NEEDED."""
    raw = groups.select("*", *_named_columns(F.col("resource_id")), *_measure_columns(policy))
    method = F.lit(UNMATCHED)
    for index in reversed(range(len(policy.methods))):
        method = F.when(_takes(index, policy.methods[index]), index).otherwise(method)
    billing = [i for i, m in enumerate(policy.methods) if m.billed_capacity is not None]
    by_hour = [i for i, m in enumerate(policy.methods) if m.hourly or i in billing]
    measures = {m.id: F.col(_measured(i)) for i, m in enumerate(policy.methods) if m.measures}
    no_measure = F.lit(None).cast("string")
    # Few, short keys (a method index, not the product and usage type it was chosen by); the
    # category is the method's, named after.
    classified = raw.withColumn("method", method).select(
        "method",
        _by_method(policy, lambda m: _line_key(m.resource_key), F.col("resource_id")).alias(
            "pool_resource"
        ),
        _by_method(
            policy, lambda m: F.col("usage_hour") if m.hourly else F.lit(""), F.lit("")
        ).alias("pool_hour"),
        F.coalesce(
            _by_method(policy, lambda m: measures.get(m.id, no_measure), no_measure), F.lit("")
        ).alias("measure"),
        F.when(F.col("method") == UNMATCHED, F.lower("product"))
        .otherwise(F.lit(""))
        .alias("product"),
        *TAGS,
        "nanos",
        "lines",
        F.when(F.col("method").isin(billing), F.col("usage")).alias("usage"),
        (F.col("hour_set_aside") & F.col("method").isin(by_hour)).alias(HOUR_NEEDED),
    )
    return (
        classified.groupBy(*POOL, "product", *TAGS, HOUR_NEEDED)
        .agg(
            F.sum("nanos").alias("nanos"),
            F.sum("lines").alias("lines"),
            F.sum("usage").alias("usage"),
        )
        .withColumn("category", _by_method(policy, lambda m: F.lit(m.category), F.col("product")))
        .select(*SUBPOOL, "nanos", "lines", "usage", HOUR_NEEDED)
    )


_TAG_NAMES = ("team", "pipeline", "dataset")


def driver_pools(drivers: DataFrame, policy: AllocationPolicy) -> DataFrame:
    """Each method's drivers summed by its pool keys and recipient: `method`, `pool_resource`,
    `pool_hour`, `d_measure`, team, pipeline, dataset and `units` (> 0, micro-units)."""
    weighing = {}
    for index, method in enumerate(policy.methods):
        if method.drivers is not None:
            measures = sorted(set(method.measures.values()) | {method.fallback} - {None})
            weighing[index] = (F.col("kind") == method.drivers) & F.col("measure").isin(measures)
    if not weighing:
        return drivers.sparkSession.createDataFrame(
            [],
            "method int, pool_resource string, pool_hour string, d_measure string, "
            "team string, pipeline string, dataset string, units decimal(38,0)",
        )
    # Summed first by everything a pool key or recipient is made of, each value rounded to
    # whole units before it is summed: a run's rows (one per measure and hour) become few, and
    # the ARN patterns and the explode into the methods a row weighs run on those (2.6M driver
    # rows become 281,000 on the 100k-run benchmark: 7.5-8.3 s -> 5.9-7.1 s for the pools).
    rows = drivers.groupBy(
        "kind",
        "measure",
        _text("resource").alias("resource_id"),
        _named(_text("key"), EMR_ARN, 2).alias(KEYED_JOB_RUN),
        _text("hour").alias("hour"),
        _text("team").alias("team"),
        _text("pipeline").alias("pipeline"),
        _text("dataset").alias("dataset"),
    ).agg(F.sum(weight_units(F.col("value"))).alias("units"))
    methods = F.array(*[F.when(weighs, F.lit(index)) for index, weighs in weighing.items()])
    per_method = rows.select(
        "*", *_named_columns(F.col("resource_id")), F.explode(methods).alias("method")
    ).where(F.col("method").isNotNull())
    keys = ["method", "pool_resource", "pool_hour", "d_measure", "team", "pipeline", "dataset"]
    return (
        per_method.select(
            "method",
            _by_method(policy, lambda m: _driver_key(m.resource_key), F.lit("")).alias(
                "pool_resource"
            ),
            _by_method(policy, lambda m: F.col("hour") if m.hourly else F.lit(""), F.lit("")).alias(
                "pool_hour"
            ),
            F.col("measure").alias("d_measure"),
            "team",
            "pipeline",
            "dataset",
            "units",
        )
        .groupBy(*keys)
        .agg(F.sum("units").alias("units"))
        .where(F.col("units") > 0)
    )
