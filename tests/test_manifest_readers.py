"""Every reader of a published version reads the files its manifest lists: a Parquet file planted
in a published folder by someone with bucket access is read by none of them."""

from __future__ import annotations

from dagster import materialize
from lake_harness import failure_message
from pyspark.sql import functions as F
from test_backfill_and_contracts_e2e import (
    REFERENTIAL,
    check_results,
    contract_lake,
    deliver,
    profile_all,
)
from test_history_e2e import apply, land, segments_on

from lake_assets.compaction.planning import TargetSchema
from lake_assets.compaction.policy import CompactionPolicy
from lake_assets.compaction.service import compaction_pass
from lake_assets.history.apply import WHOLE_TABLE, current_history, history_dataset
from lake_assets.marts.assets import build_spend_by_customer
from lake_assets.tables.reader import published_files
from partitions import daily_partitions

MON, TUE = "2026-03-02", "2026-03-03"
CARDS, CUSTOMERS = "card_transactions", "customers"


def plant_forged_row(spark, lake, tmp_path, copied, into, where: str, **values) -> None:
    """Copy one row of version `copied` (changed by `values`) as a Parquet file of its own into
    the folder of version `into`, as a writer with direct bucket access could."""
    files = [lake.storage.uri(key) for key in published_files(lake.storage, copied)]
    rows = spark.read.parquet(*files).where(where).limit(1)
    for column, value in values.items():
        rows = rows.withColumn(column, F.lit(value).cast(rows.schema[column].dataType))
    folder = tmp_path / f"forged-{into.dataset}-{into.partition}"
    rows.coalesce(1).write.parquet(folder.as_uri())
    [part] = folder.glob("*.parquet")
    lake.storage.put_bytes(into.location + "part-99999-forged.parquet", part.read_bytes())


def test_a_stray_file_in_a_published_folder_is_read_by_no_reader(tmp_path, spark):
    lake = contract_lake(tmp_path, extra=REFERENTIAL)
    land(lake, MON, {"C00001": "retail", "C00002": "sme"})
    land(lake, TUE, {"C00001": "premier"})  # C00002 deleted on Tuesday
    monday, tuesday = (lake.catalog.current(CUSTOMERS, d) for d in (MON, TUE))
    plant_forged_row(
        spark, lake, tmp_path, monday, tuesday, "customer_id = 'C00002'", snapshot_date=TUE
    )

    # The referential check: the forged customer does not make Tuesday's card valid.
    for day in (MON, TUE):
        records = [
            {
                "transaction_id": f"T-{day}-{c}",
                "customer_id": c,
                "amount": 10.0,
                "transaction_date": f"{day}T10:00:00Z",
            }
            for c in ("C00001", "C00002")
        ]
        deliver(lake, day, records, f"cards-{day}.json")
    profile_all(lake)
    result = lake.promote(CARDS, MON, TUE)
    checks = check_results(result)
    assert checks[("contract_customer_exists", TUE)].metadata["violating_rows"].value == 1
    assert checks[("contract_customer_exists", MON)].metadata["violating_rows"].value == 0
    assert lake.catalog.current(CARDS, TUE) is None

    # The mart counts the catalog's card rows, not a forged one beside them.
    cards = lake.catalog.current(CARDS, MON)
    plant_forged_row(spark, lake, tmp_path, cards, cards, "customer_id = 'C00001'")
    keys = ("settings", "storage", "catalog", "lineage", "spark_runner")
    built = materialize(
        [build_spend_by_customer(daily_partitions())],
        partition_key=MON,
        resources={k: lake.resources[k] for k in keys},
    )
    assert built.success
    mart = lake.catalog.current("spend_by_customer", MON)
    spend = spark.read.parquet(lake.storage.uri(mart.location))
    assert spend.agg(F.sum("transactions")).first()[0] == cards.row_count == 2

    # The history applies Tuesday's snapshot as published, and reads its own versions the same.
    applied = apply(lake, MON, TUE)
    assert applied.success, failure_message(applied)
    assert segments_on(lake, spark, TUE) == {"C00001": "premier"}
    history = lake.catalog.current(history_dataset(CUSTOMERS), WHOLE_TABLE)
    plant_forged_row(spark, lake, tmp_path, history, history, "customer_id = 'C00002'")
    stored = current_history(spark, lake.catalog, lake.storage, CUSTOMERS)
    assert stored.count() == history.row_count

    # A compaction rewrite (here a schema migration) copies the version's rows and no others.
    widened = {**tuesday.columns, "risk_score": "double"}
    migration = compaction_pass(lake.settings, CompactionPolicy(), "migrate-1", lake.resources)
    records = migration.migrate(CUSTOMERS, TargetSchema("widened", widened))
    assert [(r.partition, r.outcome) for r in records] == [(MON, "compacted"), (TUE, "compacted")]
    migrated = lake.catalog.current(CUSTOMERS, TUE)
    assert migrated.row_count == tuesday.row_count == 1
    ids = [r[0] for r in lake.rows(spark, CUSTOMERS, [TUE]).select("customer_id").collect()]
    assert ids == ["C00001"]
