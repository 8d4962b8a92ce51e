"""The gold layer: its SQL's rows over tiny silver partitions built by the layers core, the
lineage sqlglot derives from that SQL, the declared schema and grain enforced, and a failed gate
that leaves the published gold version readable row for row. The job over Pipes on PySpark 3.5
is a case of test_spark_jobs.py."""

from __future__ import annotations

from dataclasses import replace

import pytest
from dagster import AssetKey, AssetMaterialization
from gold_inputs import (
    CARDS,
    CUSTOMER_COLUMNS,
    CUSTOMERS,
    DAY,
    FX,
    FX_COLUMNS,
    INPUTS,
    build,
    build_step,
    publish_inputs,
    publish_rows,
)

from lake_assets.gold.build import schema_mismatches
from lake_assets.gold.derived import GOLD_DERIVED_TABLES
from lake_assets.gold.lineage import column_lineage
from lake_assets.gold.tables import FACT_CARD_SPEND, GOLD_TABLES
from lake_assets.tables.reader import read_published

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
    # What the runs record is the same lineage.
    recorded = {t.dataset: dict(t.column_lineage) for t in GOLD_DERIVED_TABLES}
    assert recorded["gold_fact_card_spend"] == column_lineage(FACT_CARD_SPEND)


def test_the_sql_is_checked_against_the_declared_columns():
    declared = {"transaction_id": "string", "fx_rate": "double", "segment": "string"}
    selected = {"transaction_id": "string", "fx_rate": "string", "extra": "integer"}
    assert schema_mismatches("gold_x", declared, selected) == [
        "gold_x: declared column segment is not selected by its SQL",
        "gold_x.fx_rate: the SQL selects string, declared double",
        "gold_x: the SQL selects extra, which lake_assets/gold/tables.py does not declare",
    ]


def test_gold_tables_from_tiny_silver_partitions(lake, spark):
    publish_inputs(lake, spark)

    customers = build(lake, spark, "dim_customer")
    assert [(r[0], r[1], r[5]) for r in customers] == [
        ("SK1", "C00001", "retail"),
        ("SK2", "C00002", "premier"),
    ]
    spend = build(lake, spark, "fact_card_spend")
    # transaction, customer_sk, segment, currency, rate, carried forward, MYR
    assert [(r[0], r[3], r[5], r[11], r[12], r[13], r[14]) for r in spend] == [
        ("T1", "SK1", "retail", "MYR", 1.0, False, 10.0),
        ("T2", "SK1", "retail", "USD", 4.5, False, 9.0),
        ("T3", "SK2", "premier", "SGD", 3.25, True, 13.0),
        ("T4", None, None, "MYR", 1.0, False, 1.0),
    ]
    orders = build(lake, spark, "fact_orders")
    assert [(r[0], r[2], r[5], r[9]) for r in orders] == [
        ("O1", "SK2", "paid", 450.0),
        ("O2", "SK2", "cancelled", 50.0),
    ]
    kpis = build(lake, spark, "kpi_daily")
    # segment, spend MYR, card transactions, active customers, orders, order revenue MYR
    assert [r[1:] for r in kpis] == [
        ("premier", 13.0, 1, 1, 2, 450.0),
        ("retail", 19.0, 2, 1, 0, 0.0),
        ("unknown", 1.0, 1, 1, 0, 0.0),
    ]


def test_a_day_without_orders_builds_an_empty_fact_and_kpis_counting_none(lake, spark):
    """A change day that placed no order publishes its empty silver_orders slice (ADR-0169):
    gold builds the day from it rather than waiting for orders that never come."""
    for dataset, (rows, columns) in INPUTS.items():
        publish_rows(lake, spark, dataset, [] if dataset == "silver_orders" else rows, columns,
                     "silver-1")  # fmt: skip
    orders = build_step(lake, "fact_orders")
    assert orders.published is not None and orders.published.row_count == 0
    assert build_step(lake, "fact_card_spend").published is not None
    kpis = build(lake, spark, "kpi_daily")
    # segment, spend MYR, card transactions, active customers, orders, order revenue MYR
    assert [r[1:] for r in kpis] == [
        ("premier", 13.0, 1, 1, 0, 0.0),
        ("retail", 19.0, 2, 1, 0, 0.0),
        ("unknown", 1.0, 1, 1, 0, 0.0),
    ]


def test_an_orphan_of_the_customer_join_is_kept_counted_and_warned(lake, spark):
    """Seed 000, project 4: the join downstream produces nulls. T4's customer is unknown to
    silver: the fact keeps the row, and its build reports the orphan (a warn rule, no hold)."""
    publish_inputs(lake, spark)
    outcome = build_step(lake, "fact_card_spend")
    found = outcome.verdict.rules["customer_sk_found"]
    assert (found.violations, found.blocks) == (1, False)
    assert outcome.published is not None and outcome.published.row_count == 4
    orders = build_step(lake, "fact_orders")  # every order's customer is known
    assert orders.verdict.rules["customer_sk_found"].violations == 0
    with pytest.raises(ValueError, match="joined key 'segment' must be a declared nullable"):
        replace(FACT_CARD_SPEND, joined_keys=("segment", "customer_id"), columns={})


def test_broken_silver_inputs_hold_or_fail_the_build_naming_what_broke(lake, spark):
    """Either way gold never updates: the version built from good inputs stays current."""
    publish_inputs(lake, spark)
    assert len(build(lake, spark, "fact_card_spend", run_id="gold-1")) == len(CARDS)
    good = lake.catalog.current("gold_fact_card_spend", DAY)
    twice = CUSTOMERS + [(*CUSTOMERS[0][:1], "C00002", *CUSTOMERS[0][2:])]  # SK1 also C00002
    publish_rows(lake, spark, "silver_customer", twice, CUSTOMER_COLUMNS, "silver-2")
    held = build(lake, spark, "fact_card_spend", run_id="gold-2")
    assert held.held_by == ("one_row_per_transaction_id",)
    assert lake.catalog.current("gold_fact_card_spend", DAY) == good

    publish_rows(lake, spark, "silver_fx_rates", FX[:1], FX_COLUMNS, "silver-3")  # no SGD
    with pytest.raises(Exception, match=f"no FX rate for SGD on {DAY}"):
        build(lake, spark, "fact_card_spend", run_id="gold-3")
    assert lake.catalog.current("gold_fact_card_spend", DAY) == good


def test_a_failed_gate_leaves_the_published_gold_version_readable_row_for_row(lake, spark):
    publish_inputs(lake, spark)
    dim = AssetKey(["gold", "dim_customer"])
    assert lake.materialize([dim], DAY).success
    published = lake.catalog.current("gold_dim_customer", DAY)
    before = read_published(spark, lake.catalog, lake.storage, "gold_dim_customer").collect()

    # silver/customer's next attempt at the day is blocked by its contract; what it published
    # before stays in the catalog, but gold must not build from it.
    lake.instance.report_runless_asset_event(
        AssetMaterialization(
            AssetKey(["silver", "customer"]), partition=DAY, metadata={"blocked_by": ["x_rule"]}
        )
    )
    held = lake.materialize([dim], DAY)

    assert not held.success
    gate = held.get_asset_check_evaluations()[0]
    assert not gate.passed and "silver_customer[2026-03-02] was held back by x_rule" in (
        gate.description
    )
    assert lake.catalog.current("gold_dim_customer", DAY) == published
    after = read_published(spark, lake.catalog, lake.storage, "gold_dim_customer").collect()
    assert sorted(map(tuple, after)) == sorted(map(tuple, before)) and len(after) == 2


def test_a_null_in_a_not_null_gold_column_holds_the_day_and_keeps_the_good_version(lake, spark):
    """A column declared not null (`string!`) is a blocking rule of gold's output contract:
    a silver customer without a customer id holds dim_customer's day, naming the rule, and
    the version built from good inputs stays current, row for row."""
    publish_inputs(lake, spark)
    good_rows = build(lake, spark, "dim_customer", run_id="gold-1")
    good = lake.catalog.current("gold_dim_customer", DAY)
    no_id = [*CUSTOMERS, (*CUSTOMERS[0][:1], None, *CUSTOMERS[0][2:])]
    no_id[-1] = ("SK3", *no_id[-1][1:])
    publish_rows(lake, spark, "silver_customer", no_id, CUSTOMER_COLUMNS, "silver-2")

    held = build(lake, spark, "dim_customer", run_id="gold-2")

    assert held.held_by == ("customer_id_not_null",)
    assert held.verdict.rules["customer_id_not_null"].violations == 1
    assert lake.catalog.current("gold_dim_customer", DAY) == good
    rows = read_published(spark, lake.catalog, lake.storage, "gold_dim_customer", [DAY])
    assert (
        sorted(tuple(r) for r in rows.select(*GOLD_TABLES["dim_customer"].columns).collect())
        == good_rows
    )
