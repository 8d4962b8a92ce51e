"""The gold layer: its SQL's rows over tiny silver partitions, the lineage sqlglot derives from
that SQL, and the declared schema's check. The job over Pipes on PySpark 3.5 is a case of
test_spark_jobs.py."""

from __future__ import annotations

import pytest
from gold_inputs import (
    CUSTOMER_COLUMNS,
    CUSTOMERS,
    DAY,
    FX,
    FX_COLUMNS,
    publish_inputs,
    publish_rows,
)

from lake_assets.gold.build import gold_job
from lake_assets.gold.lineage import column_lineage
from lake_assets.gold.plan import gold_plan
from lake_assets.gold.schema import schema_violations
from lake_assets.gold.tables import FACT_CARD_SPEND, GOLD_TABLES
from lake_assets.tables.locations import published_location
from lake_assets.tables.publish import publish
from resources.catalog import PublishedPartition

SILVER_AND_BRONZE = {"silver_customer", "silver_orders", "silver_fx_rates", "card_transactions"}


def test_every_gold_column_has_lineage_to_silver_or_bronze_columns():
    for table in GOLD_TABLES.values():
        lineage = column_lineage(table)
        assert list(lineage) == list(table.columns), table.name
        for column, inputs in lineage.items():
            assert inputs, f"{table.dataset}.{column} has no lineage"
            assert {i["input"].split(".")[0] for i in inputs} <= SILVER_AND_BRONZE, inputs
    spend = column_lineage(GOLD_TABLES["kpi_daily"])["card_spend_myr"]
    assert {i["input"]: i["transformation"] for i in spend} == {
        "card_transactions.amount": "AGGREGATION",
        "card_transactions.currency": "AGGREGATION",
        "card_transactions.event_date": "AGGREGATION",  # names the day of a missing rate
        "silver_fx_rates.rate": "AGGREGATION",
    }
    assert column_lineage(FACT_CARD_SPEND)["segment"] == [
        {"input": "silver_customer.segment", "transformation": "IDENTITY", "masking": False}
    ]


def test_the_declared_schema_is_checked_on_what_was_written():
    written = {
        "columns": {**{n: c.type for n, c in FACT_CARD_SPEND.columns.items()}, "extra": "string"},
        "nulls": {"amount_myr": 2, "transaction_id": 0},
        "duplicate_keys": 1,
    }
    written["columns"]["fx_rate"] = "string"
    del written["columns"]["segment"]
    assert schema_violations(FACT_CARD_SPEND, written) == [
        "gold_fact_card_spend: declared column segment was not written",
        "gold_fact_card_spend.fx_rate: written as string, declared double",
        "gold_fact_card_spend: column extra is written but not declared (config/gold/"
        "fact_card_spend.sql selects it; declare it in lake_assets/gold/tables.py)",
        "gold_fact_card_spend.amount_myr: 2 null row(s) in a column declared not null",
        "gold_fact_card_spend: 1 row(s) beyond one per (transaction_id), the table's grain",
    ]


def build(lake, spark, name: str, run_id: str = "gold-1") -> tuple[dict, list]:
    """One gold table's job for DAY, published as the asset would; its result and rows."""
    table = GOLD_TABLES[name]
    location = published_location(table.dataset, run_id, DAY)
    plan = gold_plan(lake.catalog, lake.storage, table, DAY, lake.storage.uri(location))
    result = gold_job(spark, plan)
    assert schema_violations(table, result) == []
    entry = PublishedPartition(table.dataset, DAY, location, run_id, "2026-03-03T00:00:00+00:00",
                               result["rows"], "derived", result["columns"])  # fmt: skip
    publish(lake.catalog, lake.storage, entry, result["files"], "")
    rows = spark.read.parquet(plan["output_uri"]).select(*table.columns).collect()
    return result, sorted(tuple(r) for r in rows)


def test_gold_tables_from_tiny_silver_partitions(lake, spark):
    publish_inputs(lake, spark)

    _, customers = build(lake, spark, "dim_customer")
    assert [(r[0], r[1], r[5]) for r in customers] == [
        ("SK1", "C00001", "retail"),
        ("SK2", "C00002", "premier"),
    ]
    _, spend = build(lake, spark, "fact_card_spend")
    # transaction, customer_sk, segment, currency, rate, carried forward, MYR
    assert [(r[0], r[3], r[5], r[11], r[12], r[13], r[14]) for r in spend] == [
        ("T1", "SK1", "retail", "MYR", 1.0, False, 10.0),
        ("T2", "SK1", "retail", "USD", 4.5, False, 9.0),
        ("T3", "SK2", "premier", "SGD", 3.25, True, 13.0),
        ("T4", None, None, "MYR", 1.0, False, 1.0),
    ]
    _, orders = build(lake, spark, "fact_orders")
    assert [(r[0], r[2], r[5], r[9]) for r in orders] == [
        ("O1", "SK2", "paid", 450.0),
        ("O2", "SK2", "cancelled", 50.0),
    ]
    _, kpis = build(lake, spark, "kpi_daily")
    # segment, spend MYR, card transactions, active customers, orders, order revenue MYR
    assert [r[1:] for r in kpis] == [
        ("premier", 13.0, 1, 1, 2, 450.0),
        ("retail", 19.0, 2, 1, 0, 0.0),
        ("unknown", 1.0, 1, 1, 0, 0.0),
    ]


def test_broken_silver_inputs_fail_the_build_naming_what_broke(lake, spark):
    publish_inputs(lake, spark)
    twice = CUSTOMERS + [(*CUSTOMERS[0][:1], "C00002", *CUSTOMERS[0][2:])]  # SK1 also C00002
    publish_rows(lake, spark, "silver_customer", twice, CUSTOMER_COLUMNS, "silver-2")
    table = GOLD_TABLES["fact_card_spend"]
    plan = gold_plan(lake.catalog, lake.storage, table, DAY, lake.storage.uri("runs/dup/"))
    assert schema_violations(table, gold_job(spark, plan)) == [
        "gold_fact_card_spend: 1 row(s) beyond one per (transaction_id), the table's grain"
    ]

    publish_rows(lake, spark, "silver_fx_rates", FX[:1], FX_COLUMNS, "silver-3")  # no SGD
    with pytest.raises(Exception, match=f"no FX rate for SGD on {DAY}"):
        build(lake, spark, "fact_card_spend")
