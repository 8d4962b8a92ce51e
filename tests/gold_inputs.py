"""Tiny silver (and bronze card) partitions for the gold tests, published straight through
tables.publish as the silver assets publish theirs, and the gold rows they must give."""

from __future__ import annotations

from datetime import UTC, date, datetime

from lake_assets.gold.derived import GOLD_DERIVED_TABLES
from lake_assets.layers.gate import InputState
from lake_assets.layers.step import run_step
from lake_assets.lineage.emitter import recorder_for
from lake_assets.silver.customer import CUSTOMER_COLUMNS
from lake_assets.silver.fx_rates import FX_COLUMNS
from lake_assets.silver.orders_schema import ORDER_COLUMNS
from lake_assets.tables.frames import ddl
from lake_assets.tables.locations import published_location
from lake_assets.tables.publish import publish, version_of
from lake_assets.tables.reader import read_published
from resources.catalog import PublishedPartition

DAY = "2026-03-02"
D = date(2026, 3, 2)
AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)

CARD_COLUMNS = {
    "transaction_id": "string",
    "customer_id": "string",
    "amount": "double",
    "currency": "string",
    "merchant__name": "string",
    "merchant__category": "string",
    "merchant__country": "string",
    "card_present": "boolean",
    "transaction_date": "timestamp",
}


def customer(n: int, segment: str) -> tuple:
    return (f"SK{n}", f"C0000{n}", f"Name {n}", f"c{n}@x.my", None, segment, date(1990, 1, n),
            n * 10, f"90010{n}-14-000{n}", "KL", "MY", "customer", "[]", D)  # fmt: skip


def card(n: int, customer_id: str, amount: float, currency: str) -> tuple:
    return (f"T{n}", customer_id, amount, currency, "Grab", "transport", "MY", True, AT)


def order(n: int, customer_id, status, amount, currency, deleted=False) -> tuple:
    return (f"O{n}", customer_id, status, amount, currency, D, 2, AT, deleted)


CUSTOMERS = [customer(1, "retail"), customer(2, "premier")]
# SGD on the day is carried from the Friday before (a weekend): gold says so.
FX = [(D, "USD", "MYR", 4.5, False, D), (D, "SGD", "MYR", 3.25, True, date(2026, 2, 27))]
CARDS = [
    card(1, "C00001", 10.0, "MYR"),
    card(2, "C00001", 2.0, "USD"),  # 9.0 MYR
    card(3, "C00002", 4.0, "SGD"),  # 13.0 MYR
    card(4, "C00009", 1.0, "MYR"),  # a customer silver does not know: kept, segment unknown
]
ORDERS = [
    order(1, "C00002", "paid", 100.0, "USD"),  # 450.0 MYR
    order(2, "C00002", "cancelled", 50.0, "MYR"),  # counted, no revenue
    (*order(3, None, None, None, None, deleted=True)[:5], D, 3, AT, True),  # tombstone: left out
]
INPUTS = {
    "silver_customer": (CUSTOMERS, CUSTOMER_COLUMNS),
    "silver_fx_rates": (FX, FX_COLUMNS),
    "silver_orders": (ORDERS, ORDER_COLUMNS),
    "card_transactions": (CARDS, CARD_COLUMNS),
}


def publish_rows(lake, spark, dataset: str, rows: list[tuple], columns: dict, run_id: str):
    """`rows` published as partition DAY of `dataset` by run `run_id`."""
    location = published_location(dataset, run_id, DAY)
    frame = spark.createDataFrame(rows, ddl(columns)).coalesce(1)
    frame.write.parquet(lake.storage.uri(location))
    files = [i.key.rsplit("/", 1)[-1] for i in lake.storage.list(location) if i.key.endswith(".parquet")]  # fmt: skip
    entry = PublishedPartition(dataset, DAY, location, run_id, datetime.now(UTC).isoformat(),
                               len(rows), "test", columns)  # fmt: skip
    publish(
        lake.catalog, lake.storage, entry, files, version_of(lake.catalog.current(dataset, DAY))
    )


def build_step(lake, name: str, run_id: str = "gold-1"):
    """gold/<name> for DAY through the layers core (Dagster-free), its inputs taken as passed:
    the step's outcome."""
    table = next(t for t in GOLD_DERIVED_TABLES if t.asset == ("gold", name))
    states = [InputState(i.dataset, DAY, lake.catalog.current(i.dataset, DAY) is not None)
              for i in table.inputs]  # fmt: skip
    recorder = recorder_for(lake.lineage, lake.settings.state_dir, lake.storage.uri(""))
    return run_step(table, DAY, run_id, states, lake.catalog, lake.storage, recorder,
                    lake.spark_runner.bound(None))  # fmt: skip


def build(lake, spark, name: str, run_id: str = "gold-1"):
    """gold/<name> built as build_step builds it: the published rows, sorted, or the step's
    outcome when it published nothing."""
    table = next(t for t in GOLD_DERIVED_TABLES if t.asset == ("gold", name))
    outcome = build_step(lake, name, run_id)
    if not outcome.published:
        return outcome
    rows = read_published(spark, lake.catalog, lake.storage, table.dataset, [DAY])
    return sorted(tuple(r) for r in rows.select(*table.columns).collect())


def publish_inputs(lake, spark, run_id: str = "silver-1") -> None:
    for dataset, (rows, columns) in INPUTS.items():
        publish_rows(lake, spark, dataset, rows, columns, run_id)
