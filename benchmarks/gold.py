"""A one-day gold rebuild against the same SQL run as one plain Spark job, and what checking the
gold schemas with pandera would add.

Inputs (setup, never timed), published for EVENT_DAY through tables.publish as silver publishes
them: `--rows` card transactions (1,000,000 by default) of CUSTOMERS customers in the demo's
currencies, ORDERS_PER_CARD orders per card transaction, the customers and the day's FX rates.

- gold rebuild: the four gold tables of the day as the gold assets build them, in order (the
  KPIs read the published facts), through the layers core's step (layers/step.py): plan
  through the catalog, the registered job `gold_table` in-process (the SQL's columns checked
  against the declaration, SQL over temp views, written with its rows and the not-null rules
  counted in that pass, the grain's uniqueness over the written keys: ADR-0119), the
  contract's verdict, lineage, publish.
- plain Spark: the same four SQL files over temp views of the same files in one session, each
  table written as Parquet, the KPIs over the facts just written. Target: rebuild <= 1.3x.
- pandera: pandera.pyspark validating each table the rebuild published against its declared
  schema (types, nullability, strict columns: what the rebuild checks already, less the grain),
  reported against the rebuild.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from benchmarks.data import BENCH_DATA, CUSTOMERS, EVENT_DAY
from benchmarks.lake import local_lake, spark_session
from benchmarks.timing import alternate, print_table
from lake_assets.demo.demo_data import CURRENCIES
from lake_assets.gold.derived import GOLD_DERIVED_TABLES
from lake_assets.gold.tables import GOLD_TABLES, GoldTable
from lake_assets.layers.gate import InputState
from lake_assets.layers.step import run_step
from lake_assets.lineage.emitter import recorder_for
from lake_assets.runtime.jobs import run_job
from lake_assets.tables.frames import conformed
from lake_assets.tables.locations import published_location
from lake_assets.tables.publish import publish
from lake_assets.tables.reader import published_uris
from lake_assets.tables.types import SPARK_TYPES, field_type_of_spark
from resources.catalog import PublishedPartition

REPEATS = 5
TARGET = 1.3
ORDERS_PER_CARD = 0.1
DAY = EVENT_DAY.isoformat()
REBUILD, PLAIN, PANDERA = "gold rebuild", "plain Spark", "pandera check"
RATES = {"SGD": 3.3, "USD": 4.4}


def run(rows: int) -> str:
    print(f"\n[gold] one day: {rows:,} card transactions", flush=True)
    spark = spark_session()
    BENCH_DATA.mkdir(exist_ok=True)
    try:
        with tempfile.TemporaryDirectory(dir=BENCH_DATA, prefix="lake-") as root:
            _, resources = local_lake(Path(root) / "lake")
            publish_gold_inputs(spark, resources, rows)
            runs = alternate(
                {
                    PLAIN: lambda n: _plain(spark, resources, f"{root}/plain-{n}"),
                    REBUILD: lambda n: _rebuild(spark, resources, f"rebuild-{n}"),
                    PANDERA: lambda n: _pandera(spark, resources),
                },
                REPEATS,
                warm_up=True,
            )
    finally:
        spark.stop()
    ratio = runs[REBUILD].median / runs[PLAIN].median
    pandera = runs[PANDERA].median / runs[REBUILD].median
    verdict = "within" if ratio <= TARGET else "OVER"
    print_table(
        "Gold (median s of alternated runs)",
        ["case", "median s", "runs s", "result (rows per table; pandera: errors)"],
        [[name, r.median, r.spread(), str(r.result)] for name, r in runs.items()],
    )
    return (
        f"gold: one-day rebuild / plain Spark {ratio:.2f} x ({verdict} {TARGET}); "
        f"pandera check / rebuild {pandera:.2f} x"
    )


def _rebuild(spark: SparkSession, resources: dict[str, Any], run_id: str) -> dict:
    """The four tables through the layers core's step, as gold/<table> runs each partition."""
    catalog, storage = resources["catalog"], resources["storage"]
    recorder = recorder_for(resources["lineage"], resources["settings"].state_dir, storage.uri(""))
    written = {}
    for table in GOLD_DERIVED_TABLES:
        states = [InputState(i.dataset, DAY, True) for i in table.inputs]
        outcome = run_step(table, DAY, run_id, states, catalog, storage, recorder,
                           partial(run_job, spark))  # fmt: skip
        if not outcome.published:
            raise RuntimeError(f"{table.dataset}[{DAY}] held: {outcome.held_by}")
        written[table.dataset] = outcome.rows_out
    return written


def _plain(spark: SparkSession, resources: dict[str, Any], folder: str) -> dict:
    """The same SQL in one session over the same files, written, with nothing around it."""
    catalog, storage = resources["catalog"], resources["storage"]
    session = spark.newSession()
    inputs = {i.dataset for table in GOLD_TABLES.values() for i in table.inputs} - {
        table.dataset for table in GOLD_TABLES.values()
    }
    for dataset in inputs:
        version = catalog.current(dataset, DAY)
        frame = session.read.parquet(*published_uris(storage, version))
        frame.withColumn("event_date", F.lit(EVENT_DAY)).createOrReplaceTempView(dataset)
    written = {}
    for table in GOLD_TABLES.values():
        session.sql(table.sql()).write.parquet(f"{folder}/{table.name}")
        output = session.read.parquet(f"{folder}/{table.name}")
        output.createOrReplaceTempView(table.dataset)
        written[table.dataset] = output.count()
    return written


def _pandera(spark: SparkSession, resources: dict[str, Any]) -> dict:
    """pandera.pyspark over each gold table the last rebuild published."""
    import pandera.pyspark as pa

    catalog, storage = resources["catalog"], resources["storage"]
    errors = {}
    for table in GOLD_TABLES.values():
        frame = spark.read.parquet(*published_uris(storage, catalog.current(table.dataset, DAY)))
        validated = pandera_schema(pa, table).validate(frame)
        errors[table.name] = len(validated.pandera.errors)
    return errors


def pandera_schema(pa, table: GoldTable):
    """The table's declared schema as a pandera.pyspark schema: the same types and nullability."""
    from pyspark.sql.types import _parse_datatype_string

    return pa.DataFrameSchema(
        {
            name: pa.Column(_parse_datatype_string(SPARK_TYPES[c.type]), nullable=c.nullable)
            for name, c in table.columns.items()
        },
        name=table.dataset,
        strict=True,
    )


# --- inputs -------------------------------------------------------------------------------


def publish_gold_inputs(spark: SparkSession, resources: dict[str, Any], rows: int) -> None:
    """Every input the gold tables read, for EVENT_DAY: cards (unless published already, as by
    promotion in benchmarks.job_plans), customers, FX rates and orders."""
    customers = spark.range(1, CUSTOMERS + 1).select(
        F.format_string("SK%07d", "id").alias("customer_sk"),
        F.format_string("C%05d", "id").alias("customer_id"),
        F.format_string("Customer %d", "id").alias("full_name"),
        F.format_string("c%d@example.my", "id").alias("email"),
        F.lit(None).cast("string").alias("phone"),
        F.when(F.col("id") % 2 == 0, "premier").otherwise("retail").alias("segment"),
        F.lit(EVENT_DAY).alias("date_of_birth"),
        (F.col("id") % 99 + 1).alias("risk_score"),
        F.lit("KL").alias("city"),
        F.lit("MY").alias("country"),
        F.lit("customer").alias("lifecycle_stage"),
        F.lit("[]").alias("crm_contact_ids"),
        F.lit(EVENT_DAY).alias("as_of_date"),
    )
    fx = spark.createDataFrame(
        [(EVENT_DAY, currency, "MYR", rate, False, EVENT_DAY) for currency, rate in RATES.items()],
        "rate_date date, base_currency string, quote_currency string, rate double, "
        "carried_forward boolean, source_rate_date date",
    )
    currency = F.element_at(F.array(*[F.lit(c) for c in CURRENCIES]), _pick(len(CURRENCIES)))
    orders = spark.range(int(rows * ORDERS_PER_CARD)).select(
        F.format_string("O%08d", "id").alias("order_id"),
        F.format_string("C%05d", F.col("id") % CUSTOMERS + 1).alias("customer_id"),
        F.when(F.col("id") % 10 == 0, "cancelled").otherwise("paid").alias("status"),
        (F.col("id") % 500 + 10).cast("double").alias("amount"),
        currency.alias("currency"),
        F.lit(EVENT_DAY).alias("order_date"),
        F.lit(1).cast("bigint").alias("seq"),
        F.lit(datetime(2026, 3, 2, 9, tzinfo=UTC)).alias("changed_at"),
        (F.col("id") % 50 == 0).alias("deleted"),
    )
    inputs = {"silver_customer": customers, "silver_fx_rates": fx, "silver_orders": orders}
    if resources["catalog"].current("card_transactions", DAY) is None:
        inputs["card_transactions"] = spark.range(rows).select(
            F.format_string("TXN-%08d", "id").alias("transaction_id"),
            F.format_string("C%05d", F.col("id") % CUSTOMERS + 1).alias("customer_id"),
            (F.col("id") % 2500 / 10 + 1).alias("amount"),
            currency.alias("currency"),
            F.lit("Grab").alias("merchant__name"),
            F.lit("transport").alias("merchant__category"),
            F.lit("MY").alias("merchant__country"),
            (F.col("id") % 3 == 0).alias("card_present"),
            F.lit(datetime(2026, 3, 2, 12, tzinfo=UTC)).alias("transaction_date"),
        )
    for dataset, frame in inputs.items():
        _publish_frame(resources, dataset, frame)


def _pick(n: int):
    return (F.col("id") % n + 1).cast("int")


def _publish_frame(resources: dict[str, Any], dataset: str, frame: DataFrame) -> None:
    storage = resources["storage"]
    location = published_location(dataset, "bench-setup", DAY)
    columns = {f.name: field_type_of_spark(f.dataType.simpleString()) for f in frame.schema.fields}
    conformed(frame, columns).write.parquet(storage.uri(location))
    files = [i.key.rsplit("/", 1)[-1] for i in storage.list(location) if i.key.endswith(".parquet")]
    entry = PublishedPartition(dataset, DAY, location, "bench-setup", datetime.now(UTC).isoformat(),
                               frame.count(), "derived", columns)  # fmt: skip
    publish(resources["catalog"], storage, entry, files, "")
