"""`silver_orders`: the current state of every order, merged from the order_events change stream.

The state is one row per order (a tombstone for a deleted one), stored in slices by order date.
A day's changes are merged into the current versions of the slices whose order dates they touch;
every other slice is neither read nor written. Per order the change with the highest `seq`
wins, whatever day or order it arrived in, so applying a day is idempotent and days may be
applied (or re-applied) in any order: an older change arriving late never overwrites a newer
one, and a delete leaves a tombstone holding its seq, so no older change resurrects the order.

This module is the job side (Dagster-free and catalog-free, registered in
lake_assets/runtime/jobs.py as `orders_merge`); orders_table.py declares the table for the
derived-layer step, which plans the touched slices and publishes each.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lake_assets.layers.job import write_audited
from lake_assets.silver.orders_schema import ORDER_COLUMNS
from lake_assets.tables.frames import (
    PARTITION,
    TASK,
    ddl,
    dealt,
    empty_frame,
    read_resolved,
    written_files,
)

# The order's attributes, carried from the winning change (null on a tombstone).
ATTRIBUTES = ("customer_id", "status", "amount", "currency")
# Where a candidate row came from: at an equal seq the stored state wins, so re-applying a
# change that is already applied changes nothing (not even which row is kept).
FROM_CHANGES, FROM_STATE = 0, 1
APPLIED = "_applied"


# Per order, the candidate that wins: max over a struct orders by its fields in turn, seq first,
# then the source (so the stored row at an equal seq), then the rest of the row.
RANKED = ("seq", "_from", "changed_at", "deleted", *ATTRIBUTES)


def change_rows(changes: DataFrame) -> DataFrame:
    """Change events (curated order_events rows) as candidate state rows: a delete becomes a
    tombstone. Events without an order date name no slice and are left out (counted by the job).

    The merge is written as SQL expressions over the table's own declared column names (never
    a name from a payload): one call each where the Column API made one a column and an alias,
    which doubled the time it took to build the merge's plan (ADR-0135)."""
    return changes.where("order_date IS NOT NULL").selectExpr(
        "order_id",
        *ATTRIBUTES,
        "order_date",
        "seq",
        "changed_at",
        "op = 'delete' AS deleted",
    )


def merge_orders(
    state: DataFrame | None, changes: DataFrame, order_dates: Sequence[str] = (), tasks: int = 1
) -> DataFrame:
    """The state of every order in `state` or `changes` after applying `changes`: per order the
    row with the highest seq, the stored row at an equal seq; ties between changes (a change
    delivered twice) resolved by the rest of the row, so the outcome never depends on arrival.
    The `order_dates` the plan expects are dealt over `tasks` tasks, each date's rows in one
    (any other date's rows in one task).

    Columns: ORDER_COLUMNS and `_applied` (true where a change won: the order changed)."""
    candidates = change_rows(changes).selectExpr("*", f"{FROM_CHANGES} AS _from")
    if state is not None:
        stored = state.selectExpr(*ORDER_COLUMNS, f"{FROM_STATE} AS _from")
        candidates = candidates.unionByName(stored)
    # An order's order date is fixed when it is placed, so grouping by (order id, order date)
    # is grouping by order; one shuffle by order date then serves the merge and the write
    # (each slice is in one task: one file per slice, no second shuffle), the slices dealt
    # evenly over the tasks (tables.frames.dealt). The order id comes first in the group, so
    # the merge's sort tells rows apart by its leading bytes (the sort's prefix) rather than
    # by order date, which a whole slice shares; the write's own sort by order date then needs
    # only that prefix (ADR-0135).
    winners = (
        dealt(candidates, "order_date", order_dates, tasks)
        .groupBy("order_id", "order_date", TASK)
        .agg(F.expr(f"max(struct({', '.join(RANKED)})) AS w"))
    )
    return winners.selectExpr(
        *[c if c in ("order_id", "order_date") else f"w.{c} AS {c}" for c in ORDER_COLUMNS],
        f"w._from = {FROM_CHANGES} AS {APPLIED}",
    )


def current_orders(state: DataFrame) -> DataFrame:
    """What readers of current orders see: the state without its tombstones."""
    return state.where(~F.col("deleted")).drop("deleted")


def orders_merge_job(spark: SparkSession, plan: dict) -> dict:
    """The registered Spark job `orders_merge`, as the derived-layer step plans it for a sliced
    table (layers/step.py). Plan: `inputs["order_events"]`, the day's changes as
    `tables.reader.resolve_published` resolved them; `slices`, per order date the changes
    touch, the data files (URIs) of its current version ([] if none yet); `output_uri`, the
    run's folder, under which each rewritten slice is written as `event_date=<order date>/`;
    `contract`, the output contract (or None).

    Result: `touched`, per touched slice its `rows`, `tombstones` and whether a change won
    there (`rewritten`); `slices`, per rewritten slice the `rows`, `files`, each contract
    rule's `violations` and, where a referential rule found any, its `orphan_keys`; `rows`,
    their sum. A replayed day rewrites no slice: its folders are
    written but never published (the retention sweep removes them). Changes on an order date
    the plan has no slice for (order_events republished since the plan) fail the job. A
    planned slice without a version that no change touches is written empty (one file holding
    the schema) and reported with no rows (ADR-0169)."""
    changes = read_resolved(spark, plan["inputs"]["order_events"])
    uris = [uri for files in plan["slices"].values() for uri in files]
    state = spark.read.schema(ddl(ORDER_COLUMNS)).parquet(*uris) if uris else None
    order_dates = sorted(plan["slices"])
    tasks = spark.sparkContext.defaultParallelism
    merged = merge_orders(state, changes, order_dates, tasks).withColumn(
        PARTITION, F.col("order_date")
    )
    # Every touched slice is written in the one pass that merges; which of them a change won
    # is counted during that pass, and only those are reported for publishing.
    touched = write_audited(
        spark,
        merged,
        plan,
        order_dates,
        {"tombstones": F.col("deleted"), "won": F.col(APPLIED)},
    )
    slices = {d: t for d, t in sorted(touched.items()) if t["won"]}
    # A planned slice with no version yet is published even if no row lands in it: the change
    # day's own order date, so that the day's orders are known (none) and gold builds it.
    for day in [d for d, files in plan["slices"].items() if not files and d not in touched]:
        slices[day] = _empty_slice(spark, plan, day)
    slices = dict(sorted(slices.items()))
    return {
        "touched": {
            d: {"rows": t["rows"], "tombstones": t["tombstones"], "rewritten": d in slices}
            for d, t in touched.items()
        },
        "slices": {
            d: {k: s[k] for k in ("rows", "files", "violations", "orphan_keys") if k in s}
            for d, s in slices.items()
        },
        "rows": sum(s["rows"] for s in slices.values()),
    }


def _empty_slice(spark: SparkSession, plan: dict, day: str) -> dict:
    """Slice `day` written with no rows under the run's folder, as the partitioned write would
    have named it: Spark commits one file holding the schema for a write of no rows."""
    folder = f"{plan['output_uri']}/{PARTITION}={day}"
    empty_frame(spark, plan["columns"]).write.mode("error").parquet(folder)
    return {"rows": 0, "files": written_files(spark, folder, False)[""], "violations": {}}
