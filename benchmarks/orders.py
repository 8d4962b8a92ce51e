"""The silver orders merge of one day's changes against a plain Spark full recompute of the state
from every event.

Data (setup, never timed): orders follow a lifecycle, each change a higher seq of its order:
placed (insert, on its order date), paid (the same or the next day), shipped (1-3 days after)
and delivered (3-7 days after); every CANCELLED_EVERY-th order is cancelled instead of shipped
and goes no further, every DELETED_EVERY-th is deleted instead of delivered. Orders are placed
`--rows` / STATE_DAYS a day (25,000 by default) over STATE_DAYS order dates before DAY, so the
state before DAY holds `--rows` orders (1,000,000) built from about four times as many events.
DAY's changes (about 100,000: the day's new orders, and the later steps of orders placed
during the week before) come in one published order_events partition, in no particular order.
As in a real order book, a day's changes touch recent order dates only: 8 of the 41 slices.

The subject is what silver/orders runs for a day, the derived-layer step (layers/step.py): plan
(the order dates touched, from the changes' order_date column; the current files of those
slices), the registered `orders_merge` job, which reads those slices and the changes, merges
them by seq and writes the slices that changed, then a publish per rewritten slice. The baseline is the textbook recompute: every event
ever received, the latest per order by seq (ROW_NUMBER), the whole state written again by order
date. Target: <= 0.3 x. Both must agree on the resulting state, tombstones included.

A third case runs the same step with the shipped output contract (config/contracts/
silver_orders.yaml: every written order's customer checked against the day's silver_customer,
here CUSTOMERS customers; ADR-0167): what the quality gate adds to the merge, reported beside it.
"""

from __future__ import annotations

import shutil
import tempfile
from datetime import date, timedelta
from functools import partial, reduce
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from benchmarks.lake import local_lake, spark_session
from benchmarks.timing import alternate, print_table, timed
from lake_assets.contracts.model import load_contract
from lake_assets.ingestion.asset_keys import asset_of
from lake_assets.layers.gate import InputState
from lake_assets.layers.model import DerivedTable
from lake_assets.layers.step import run_step
from lake_assets.lineage.emitter import recorder_for
from lake_assets.runtime.jobs import run_job
from lake_assets.settings import DEFAULT_CONTRACTS_DIR
from lake_assets.silver.orders_schema import ORDER_COLUMNS, ORDERS_DATASET
from lake_assets.silver.orders_table import CHANGES_DATASET, SILVER_ORDERS
from lake_assets.tables.frames import PARTITION
from lake_assets.tables.locations import published_location, published_root
from lake_assets.tables.publish import publish
from resources.catalog import PublishedPartition

DAY = date(2026, 3, 2)
STATE_DAYS = 40
CANCELLED_EVERY, DELETED_EVERY = 50, 100
REPEATS = 5  # as gold: three rounds left the median at the mercy of one slow round
SUBJECT, BASELINE = "silver orders merge", "full recompute"
CONTRACTED = "merge + shipped contract"
CUSTOMERS = 200_000  # the customer ids the events name (C000000..C199999)
CUSTOMER_DATASET = "silver_customer"
SHIPPED = SILVER_ORDERS.with_contract(
    {ORDERS_DATASET: load_contract(DEFAULT_CONTRACTS_DIR / f"{ORDERS_DATASET}.yaml")},
    lambda dataset: tuple(asset_of(dataset, ()).path),
)
EVENT_COLUMNS = {
    "order_id": "string",
    "op": "string",
    "seq": "integer",
    "changed_at": "timestamp",
    "order_date": "date",
    "customer_id": "string",
    "status": "string",
    "amount": "double",
    "currency": "string",
}


def _events(spark: SparkSession, per_day: int) -> DataFrame:
    """Every change up to the end of DAY of the orders placed from STATE_DAYS days before."""
    first = DAY - timedelta(days=STATE_DAYS)
    orders = spark.range(per_day * (STATE_DAYS + 1)).select(
        "id", F.date_add(F.lit(first), (F.col("id") / per_day).cast("int")).alias("order_date")
    )
    steps = orders.withColumn("seq", F.explode(F.array(*[F.lit(s) for s in (1, 2, 3, 4)])))
    cancelled = F.col("id") % CANCELLED_EVERY == 0
    deleted = (F.col("id") % DELETED_EVERY == 1) & (F.col("seq") == 4)
    days_after = (
        F.when(F.col("seq") == 1, 0)
        .when(F.col("seq") == 2, F.col("id") % 2)
        .when(F.col("seq") == 3, 1 + F.col("id") % 3)
        .otherwise(3 + F.col("id") % 5)
    )
    status = (
        F.when(F.col("seq") == 1, "placed")
        .when(F.col("seq") == 2, "paid")
        .when(F.col("seq") == 3, F.when(cancelled, "cancelled").otherwise("shipped"))
        .otherwise("delivered")
    )
    seconds = (
        F.unix_timestamp(F.date_add("order_date", days_after.cast("int")))
        + F.col("id") % 43_200
        + F.col("seq") * 3_600
    )
    kept = lambda column: F.when(deleted, F.lit(None)).otherwise(column)  # noqa: E731
    return (
        steps.where(~(cancelled & (F.col("seq") == 4)))
        .select(
            F.format_string("O%08d", "id").alias("order_id"),
            F.when(F.col("seq") == 1, "insert")
            .when(deleted, "delete")
            .otherwise("update")
            .alias("op"),
            F.col("seq").cast("bigint").alias("seq"),
            F.timestamp_seconds(seconds).alias("changed_at"),
            "order_date",
            kept(F.format_string("C%06d", F.col("id") % CUSTOMERS)).alias("customer_id"),
            kept(status).alias("status"),
            kept(F.col("id") % 1_000 + 9.9).alias("amount"),
            kept(F.lit("MYR")).alias("currency"),
        )
        .where(F.to_date("changed_at") <= F.lit(DAY))
    )


def _latest(events: DataFrame) -> DataFrame:
    """The baseline's recompute: the latest change per order by seq, a delete as a tombstone."""
    events.createOrReplaceTempView("events")
    return events.sparkSession.sql(
        """
        SELECT order_id, customer_id, status, amount, currency, order_date, seq, changed_at,
               op = 'delete' AS deleted
        FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY order_id ORDER BY seq DESC) AS latest
              FROM events)
        WHERE latest = 1
        """
    )


def _publish_written(resources: dict, dataset: str, run_id: str, columns: dict) -> list[str]:
    """Publish each event_date folder a setup write left under the run's published root."""
    storage, catalog = resources["storage"], resources["catalog"]
    days = [
        f.rstrip("/").rsplit("=", 1)[-1] for f in storage.folders(published_root(dataset, run_id))
    ]
    for day in days:
        location = published_location(dataset, run_id, day)
        files = [
            i.key.rsplit("/", 1)[-1] for i in storage.list(location) if i.key.endswith(".parquet")
        ]
        entry = PublishedPartition(
            dataset, day, location, run_id, "2026-03-01T00:00:00+00:00", 0, "bench", columns
        )
        publish(catalog, storage, entry, files, "")
    return days


def _subject(
    resources: dict,
    spark: SparkSession,
    seed_catalog: Path,
    table: DerivedTable,
    run_prefix: str,
    round_number,
) -> dict:
    """silver/orders' step for DAY (`table`: as the code declares it, or with its shipped
    contract); the catalog is then put back as it was before the day (a copy of its file:
    milliseconds), so that every round applies the same day."""
    day, storage = DAY.isoformat(), resources["storage"]
    recorder = recorder_for(resources["lineage"], resources["settings"].state_dir, storage.uri(""))
    outcome = run_step(
        table,
        day,
        f"{run_prefix}-{round_number}",
        [InputState(i.dataset, day, published=True) for i in table.inputs],
        resources["catalog"],
        storage,
        recorder,
        lambda job, plan: run_job(spark, job, plan),
    )
    shutil.copyfile(seed_catalog, resources["catalog"].path)
    if outcome.held_by:
        raise RuntimeError(f"{table.dataset} held: {outcome.held_by}")
    return outcome.result


def _baseline(spark: SparkSession, events: list[str], out: Path, round_number) -> None:
    # The history and the day are separate tables (the day's under event_date folders).
    every = [spark.read.parquet(path).select(*EVENT_COLUMNS) for path in events]
    latest = _latest(reduce(DataFrame.unionByName, every))
    latest.withColumn(PARTITION, F.col("order_date")).write.partitionBy(PARTITION).parquet(
        str(out / f"baseline-{round_number}")
    )


def run(rows: int) -> str:
    per_day = rows // STATE_DAYS
    spark = spark_session()
    with tempfile.TemporaryDirectory(prefix="bench-orders-") as folder:
        out = Path(folder)
        _, resources = local_lake(out / "lake")
        storage = resources["storage"]
        history = str(out / "history")
        changes_root = storage.uri(published_root(CHANGES_DATASET, "seed"))
        state_root = storage.uri(published_root(ORDERS_DATASET, "seed"))
        customers_root = storage.uri(published_root(CUSTOMER_DATASET, "seed"))

        def setup() -> None:
            events = _events(spark, per_day).cache()
            before = events.where(F.to_date("changed_at") < F.lit(DAY))
            before.write.parquet(history)
            day = events.where(F.to_date("changed_at") == F.lit(DAY)).orderBy(F.rand(7)).coalesce(2)
            day.withColumn(PARTITION, F.lit(DAY)).write.partitionBy(PARTITION).parquet(changes_root)
            state = _latest(spark.read.parquet(history))
            state.withColumn(PARTITION, F.col("order_date")).repartition(
                PARTITION
            ).write.partitionBy(PARTITION).parquet(state_root)
            events.unpersist()
            customers = spark.range(CUSTOMERS).select(
                F.format_string("C%06d", "id").alias("customer_id"), F.lit(DAY).alias(PARTITION)
            )
            customers.coalesce(1).write.partitionBy(PARTITION).parquet(customers_root)
            _publish_written(resources, CHANGES_DATASET, "seed", EVENT_COLUMNS)
            _publish_written(resources, ORDERS_DATASET, "seed", ORDER_COLUMNS)
            _publish_written(resources, CUSTOMER_DATASET, "seed", {"customer_id": "string"})

        seconds, _ = timed(setup)
        shutil.copyfile(resources["catalog"].path, out / "catalog-before.db")
        state_rows = spark.read.parquet(state_root).count()
        change_rows = spark.read.parquet(changes_root).count()
        event_rows = spark.read.parquet(history).count() + change_rows
        print(
            f"\n[orders] {state_rows:,}-order state, {change_rows:,} changes on {DAY}, "
            f"{event_rows:,} events in all (setup, not timed: {seconds:.1f} s)",
            flush=True,
        )
        seed_catalog = out / "catalog-before.db"
        jobs = {
            BASELINE: partial(_baseline, spark, [history, changes_root], out),
            SUBJECT: partial(_subject, resources, spark, seed_catalog, SILVER_ORDERS, "bench"),
            CONTRACTED: partial(_subject, resources, spark, seed_catalog, SHIPPED, "contract"),
        }
        runs = alternate(jobs, REPEATS, warm_up=True)
        result = runs[SUBJECT].result
        changed, written = sorted(result["slices"]), result["rows"]
        merged = spark.read.parquet(
            # A sliced table's day is a version of its own: "<run>-<day>" (layers/step.py).
            storage.uri(published_root(ORDERS_DATASET, f"bench-{REPEATS - 1}-{DAY}"))
        )
        kept = spark.read.parquet(state_root).where(~F.col(PARTITION).cast("string").isin(changed))
        subject_state = merged.select(*ORDER_COLUMNS).unionByName(kept.select(*ORDER_COLUMNS))
        baseline_state = spark.read.parquet(str(out / f"baseline-{REPEATS - 1}"))
        columns = ["order_id", "status", "seq", "deleted", "order_date"]
        differ = (
            subject_state.select(columns).exceptAll(baseline_state.select(columns)).count()
            + baseline_state.select(columns).exceptAll(subject_state.select(columns)).count()
        )
        final_orders = baseline_state.count()
        slices = len(storage.folders(published_root(ORDERS_DATASET, "seed"))) + 1
    spark.stop()
    ratio = runs[SUBJECT].median / runs[BASELINE].median
    print_table(
        "Orders state after a day of changes, median of alternating runs",
        ["case", "median s", "rows written", "runs (s)"],
        [
            [BASELINE, runs[BASELINE].median, final_orders, runs[BASELINE].spread()],
            [SUBJECT, runs[SUBJECT].median, written, runs[SUBJECT].spread()],
            [CONTRACTED, runs[CONTRACTED].median, written, runs[CONTRACTED].spread()],
        ],
    )
    contracted = runs[CONTRACTED].median / runs[BASELINE].median
    agreement = "states match" if differ == 0 else f"{differ} ORDER ROWS DIFFER"
    return (
        f"orders: {ratio:.2f} x full recompute (target <= 0.3), {contracted:.2f} x with the "
        f"shipped contract; {change_rows:,} changes into a "
        f"{state_rows:,}-order state, {len(changed)} of {slices} order-date "
        f"slices rewritten, {agreement}"
    )
