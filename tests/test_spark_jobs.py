"""Every registered Spark job on PySpark 3.5 (EMR 7.x's Spark, the `.venv-spark35` that `make test`
builds): promotion through the Pipes subprocess runner (the entry point and its channels under
3.5), every other job after it in one 3.5 session (tests/jobs_in_one_session.py), as the local
runner shares its session. On PySpark 4.x (this environment) promotion, the history, the mart,
lateness and compaction run through the same entry point on the fake EMR Serverless
(test_emr_serverless.py, test_emr_jobs.py), the silver and gold jobs in-process in their own
tests, so none is run a second time here.

One table names, per job, how to make a tiny plan and what its result and rows must be; a job
registered in lake_assets/runtime/jobs.py without an entry here fails the suite.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pytest
from cur_inputs import costs_in_nanos, tiny_cur, tiny_delivery
from dagster import DagsterInstance, MaterializeResult, asset, materialize
from gold_inputs import CUSTOMERS, publish_inputs, publish_rows
from gold_inputs import DAY as GOLD_DAY
from lake_harness import Lake
from test_history import MON, TUE, History
from test_jobs_over_pipes import CARDS, customers_of, late_cards, mart_inputs
from test_silver import CALENDAR, CRM_DDL, FX_DDL, PREFER, contact
from test_silver_orders import change, deliver_changes
from test_spark_runner import promotion_of

from lake_assets.contracts.model import Contract, contract_file, load_contract
from lake_assets.contracts.trial import reference_checks, trial_plan
from lake_assets.gold.derived import GOLD_DERIVED_TABLES
from lake_assets.history.apply import (
    history_as_of,
    merge_plan,
    plan_snapshots,
)
from lake_assets.ingestion.lateness import lateness_plan
from lake_assets.layers.step import step_plan
from lake_assets.runtime.jobs import JOBS
from lake_assets.runtime.rows import take_rows
from lake_assets.settings import REPO_ROOT
from lake_assets.silver.customer import CUSTOMER_COLUMNS, STATE_COLUMNS, customer_sk_of
from lake_assets.silver.fx_rates import FX_COLUMNS
from lake_assets.silver.orders_table import SILVER_ORDERS
from lake_assets.tables.locations import CUR_EXPORT_PREFIX
from lake_assets.tables.reader import published_uris, resolve_published
from resources import LOCAL_SPARK_CONFIG
from resources.spark_runner import PipesSubprocessRunner
from resources.storage import LocalStorage

SPARK35_PYTHON = REPO_ROOT / ".venv-spark35" / "bin" / "python"
DAY = "2026-03-02"


@dataclass(frozen=True)
class JobCase:
    """How to run one job on tiny data: `plan(lake, spark)` lays out its inputs in a temporary
    lake and returns the job's plan; `check(result, plan, lake, spark)` asserts the result and the rows
    the job wrote."""

    plan: Callable
    check: Callable


# --- promote: casts, quarantine, contract rules, the audit's read-back ------------------------


def _card(number: int, **fields) -> dict:
    return {
        "transaction_id": f"TXN-{number:05d}",
        "customer_id": f"C{number:05d}",
        "amount": 12.5,
        "currency": "MYR",
        "merchant": {"name": "Grab", "country": "MY"},
        "transaction_date": f"{DAY}T{number % 24:02d}:15:00Z",
        **fields,
    }


def _promotion_plan(lake, spark) -> dict:
    cards = [_card(n) for n in range(30)]
    cards[3]["amount"] = "N/A"  # does not read as a double: quarantined with its reason
    cards[4]["transaction_date"] = "not a time"  # no event time: quarantined on its ingest date
    cards[5]["amount"] = -5.0  # violates a drop rule of the contract: quarantined
    cards[6]["transaction_id"] = cards[7]["transaction_id"]  # violates a uniqueness rule
    lake.deliver(
        "card_transactions", DAY, "cards.json", "".join(json.dumps(c) + "\n" for c in cards)
    )
    assert lake.profile("card_transactions", DAY).success
    job = promotion_of(lake, DAY, "promote")
    contract = load_contract(contract_file("card_transactions"))
    job["plan"]["contract"] = contract.model_dump(by_alias=True, mode="json")
    return job


def _check_promotion(result: dict, plan: dict, lake, spark) -> None:
    partition = result["partitions"][DAY]
    assert result["rows_read"] == 30
    assert (partition["rows_published"], partition["rows_quarantined"]) == (27, 3)
    assert (result["observed_published"], result["observed_quarantined"]) == (27, 3)
    assert result["written_schema"]["amount"] == "double"
    assert result["written_schema"]["transaction_date"] == "timestamp"
    assert result["violations"][DAY] == {
        "customer_exists": 30,  # the plan names no customers snapshot
        "amount_positive": 1,
        "schema.not_null.amount": 1,
        "schema.not_null.transaction_date": 1,
        "transaction_id_unique": 2,
    }
    written = spark.read.parquet(plan["output_uri"])
    # Over every row written with an event time, quarantined ones too (3 and 5, not 4).
    hours = sorted(
        (row["_ingested_at"] - row["transaction_date"]).total_seconds() / 3600
        for row in written.collect()
        if row["transaction_date"] is not None
    )
    assert len(hours) == 29
    ranks = {"p50": 0.5, "p95": 0.95, "p99": 0.99}
    assert result["lateness_hours"] == {
        name: pytest.approx(hours[math.ceil(q * len(hours)) - 1]) for name, q in ranks.items()
    }
    quarantined = written.where("_zone = 'quarantined'").orderBy("transaction_id").collect()
    assert [(r["transaction_id"], r["_reject_reasons"]) for r in quarantined] == [
        (
            "TXN-00003",
            "amount: cannot read N/A as double; violates contract rules: schema.not_null.amount",
        ),
        (
            "TXN-00004",
            "transaction_date: cannot read not a time as timestamp; missing or unreadable event "
            "time transaction_date; violates contract rules: schema.not_null.transaction_date",
        ),
        ("TXN-00005", "violates contract rules: amount_positive"),
    ]
    assert json.loads(quarantined[0]["_raw_record"])["amount"] == "N/A"
    published = written.where("_zone = 'published'")
    assert published.count() == 27
    assert published.where("amount IS NULL OR transaction_date IS NULL").count() == 0
    assert {f.name for f in published.schema.fields} >= {"event_date", "_ingested_at"}


# --- the history: apply, its interval check, as-of ----------------------------------------------


def _snapshots(lake, spark) -> History:
    """Monday's and Tuesday's customer snapshots, published: C2 leaves, C1 changes segment."""
    history = History(lake.root.parent / "history", spark)
    history.deliver(MON, {"C1": "retail", "C2": "sme", "C3": "retail"})
    history.deliver(TUE, {"C1": "premier", "C3": "retail"})
    return history


def _applied(lake, spark) -> History:
    history = _snapshots(lake, spark)
    history.apply(MON, TUE)  # in-process: the cases below read the version it publishes
    return history


class _Planned(Exception):
    """Stops an orchestrator function once its runner has the plan."""


def _plan_handed_to_the_runner(ask) -> dict:
    """The plan an orchestrator function (`ask(run)`) hands its runner, as it makes it."""
    plans = []

    def run(job: str, plan: dict) -> dict:
        plans.append(plan)
        raise _Planned

    with pytest.raises(_Planned):
        ask(run)
    return plans[0]


def _apply_plan(lake, spark) -> dict:
    history = _snapshots(lake, spark)
    planned = plan_snapshots(history.catalog, history.storage, history.source, [MON, TUE])
    location = "runs/history_apply/version=1/"
    return merge_plan(history.catalog, history.storage, history.source, planned, "a/1", location)


def _check_apply(result: dict, plan: dict, lake, spark) -> None:
    assert result["counts"] == {"rows": 4, "recorded": 4, "superseded": 0}
    assert result["ambiguous"] == {"rows": 0, "examples": []}
    assert result["overlapping_versions"] == 0
    written = spark.read.parquet(plan["output_uri"])
    assert sorted(uri.rsplit("/", 1)[-1] for uri in written.inputFiles()) == result["files"]
    assert set(result["columns"]) == set(written.columns)
    versions = written.selectExpr(
        "customer_id", "segment", "CAST(valid_from AS STRING)", "CAST(valid_to AS STRING)"
    )
    assert sorted(tuple(r) for r in versions.collect()) == [
        ("C1", "premier", TUE, None),
        ("C1", "retail", MON, TUE),
        ("C2", "sme", MON, TUE),
        ("C3", "retail", MON, None),
    ]


def _as_of_plan(lake, spark) -> dict:
    history = _applied(lake, spark)
    return _plan_handed_to_the_runner(
        lambda run: history_as_of(
            run, history.catalog, history.storage, history.source, TUE, history.clock
        )
    )


def _check_as_of(result: dict, plan: dict, lake, spark) -> None:
    # The rows stay out of the result (it travels over Pipes): written to the plan's folder,
    # read back as JSON values, dates and instants as text, as `lake` prints them.
    assert (result["rows"], result["rows_at"]) == (2, plan["output_uri"])
    rows = take_rows(LocalStorage(lake.root.parent / "history"), result)
    assert [(r["customer_id"], r["segment"], r["valid_from"]) for r in rows] == [
        ("C1", "premier", TUE),
        ("C3", "retail", MON),
    ]
    assert all(isinstance(r["recorded_at"], str) for r in rows)


# --- compaction, the mart, lateness ------------------------------------------------------------


def _rewrite_plan(lake, spark) -> dict:
    day = "2025-01-02"
    for i in range(3):
        lake.deliver_cards(day, range(10 * i, 10 * i + 5), name=f"cards-{i}.json")
    assert lake.profile(CARDS, day).success
    assert lake.promote(CARDS, day).success
    published = lake.catalog.current(CARDS, day)
    return {
        "source_uris": published_uris(lake.storage, published),
        "target_uri": lake.storage.uri("runs/compaction/"),
        "target_file_bytes": 128 * 2**20,
        "columns": {**published.columns, "amount": "double"},  # a migration's plan: cast
    }


def _check_rewrite(result: dict, plan: dict, lake, spark) -> None:
    assert len(plan["source_uris"]) >= 2, "precondition: small files"
    assert list(result["files"].values()) == [15]
    written = spark.read.parquet(plan["target_uri"])
    assert dict(written.dtypes)["amount"] == "double"
    before = spark.read.parquet(*plan["source_uris"]).select(written.columns)
    assert sorted(written.selectExpr("transaction_id").collect()) == sorted(
        before.selectExpr("transaction_id").collect()
    )


def _mart_plan(lake, spark) -> dict:
    mart_inputs(lake, DAY)
    return {
        "cards": resolve_published(lake.catalog, lake.storage, CARDS, [DAY]),
        "customers": resolve_published(lake.catalog, lake.storage, "customers", [DAY]),
        "output_uri": lake.storage.uri("runs/spend_by_customer/"),
    }


def _check_mart(result: dict, plan: dict, lake, spark) -> None:
    written = spark.read.parquet(plan["output_uri"])
    assert (result["rows"], result["transactions"]) == (7, 9)
    assert sorted(uri.rsplit("/", 1)[-1] for uri in written.inputFiles()) == result["files"]
    rows = sorted(
        tuple(r) for r in written.select("customer_id", "segment", "transactions").collect()
    )
    # Cards 0-8 of customers C000-C006 (card n of C00{n % 7}): every one counted once.
    assert rows == [
        ("C000", "premier", 2),
        ("C001", "retail", 2),
        ("C002", "premier", 1),
        ("C003", "retail", 1),
        ("C004", "premier", 1),
        ("C005", "retail", 1),
        ("C006", "premier", 1),
    ]


def _lateness_plan(lake, spark) -> dict:
    late_cards(lake)
    return lateness_plan(resolve_published(lake.catalog, lake.storage, CARDS), "transaction_date")


def _check_lateness(result: dict, plan: dict, lake, spark) -> None:
    assert result["rows"] == 11
    assert result["rows_by_days_late"] == [[0, 6], [1, 2], [2, 3]]
    assert {k: round(v, 1) for k, v in result["hours"].items()} == {
        "p50": 21.8,
        "p95": 47.8,
        "p99": 47.8,
    }


def trial_contract(min_amount: float = 0.01, customers: str | None = None) -> Contract:
    """A contract of the published cards (`late_cards`: 11 rows of amount 12.5, customer ids
    C000..C006, ids TXN-00000..TXN-00010), its amount rule at `min_amount`; with `customers`
    (an action), a referential rule `customer_exists` on the customers snapshot too."""
    known = {"name": "customer_exists", "severity": "error", "action": customers,
             "referential_integrity": {"column": "customer_id",
                                       "references": {"dataset": "customers",
                                                      "column": "customer_id"}}}  # fmt: skip
    return Contract.model_validate({
        "dataset": CARDS,
        "owner": "payments-data",
        "version": 1,
        "schema": [
            {"name": "transaction_id", "type": "string", "nullable": False},
            {"name": "customer_id", "type": "string", "nullable": False},
            {"name": "amount", "type": "double", "nullable": False},
            {"name": "transaction_date", "type": "timestamp", "nullable": False},
        ],
        "rules": [
            {"name": "amount_at_least", "severity": "error", "action": "drop",
             "range": {"column": "amount", "min": min_amount}},
            {"name": "customer_is_c00", "severity": "warn",
             "regex": {"column": "customer_id", "pattern": "^C00[0-2]$"}},
            {"name": "one_per_customer", "severity": "warn",
             "unique": {"columns": ["customer_id"]}},
            {"name": "steady_volume", "severity": "error", "action": "fail",
             "volume": {"max_change_pct": 50.0, "trailing_partitions": 7}},
            *([known] if customers else []),
        ],
    })  # fmt: skip


def _trial_plan(lake, spark) -> dict:
    """The cards of `late_cards`, and customers C000..C005 published for 03-02 alone."""
    late_cards(lake)
    customers_of(lake, "2026-03-02", range(6))
    contract = trial_contract(20.0, customers="fail")
    days = ["2026-03-02", "2026-03-03"]
    references = reference_checks(lake.catalog, lake.storage, contract, days, sliced=False)
    resolved = resolve_published(lake.catalog, lake.storage, CARDS)
    return trial_plan(resolved, contract, references)


def _check_trial(result: dict, plan: dict, lake, spark) -> None:
    # Published by event day: 03-02 cards 0-8 (customers 0,1,2,3,4,5,6,0,1), 03-03 cards 9-10
    # (customers 2,3); every amount 12.5, below the tried 20. C006 is not among 03-02's
    # customers; 03-03 has no customers to check its cards against.
    assert result["partitions"] == {
        "2026-03-02": {
            "rows": 9,
            "violations": {
                "amount_at_least": 9,
                "customer_is_c00": 4,
                "customer_exists": 1,
                "one_per_customer": 4,
            },
        },
        "2026-03-03": {"rows": 2, "violations": {"amount_at_least": 2, "customer_is_c00": 1}},
    }
    assert result["references"] == {
        "customer_exists": {
            "dataset": "customers",
            "against": None,
            "untried": ["2026-03-03"],
            "orphan_keys": ["C006"],
        }
    }


# --- silver: the CRM state, the conformed customer, the FX calendar ----------------------------


def _written(lake, spark, name: str, rows: list, ddl: str) -> dict:
    """`rows` as a published partition of the lake (SILVER_DAY's folder), resolved as
    tables.reader resolves one: its files' URIs."""
    folder = f"inputs/{name}/event_date={SILVER_DAY}/"
    frame = spark.createDataFrame(rows, ddl)
    frame.write.parquet(lake.storage.uri(folder))
    uris = [
        lake.storage.uri(i.key) for i in lake.storage.list(folder) if i.key.endswith(".parquet")
    ]
    columns = {n: {"bigint": "integer"}.get(t, t) for n, t in frame.dtypes}
    return {"dataset": name, "columns": columns, "groups": [{"columns": columns, "uris": uris}]}


def _silver_plan(lake, job: str, columns: dict, **extra) -> dict:
    return {
        "partition": SILVER_DAY,
        "output_uri": lake.storage.uri(f"runs/{job}/"),
        "columns": columns,
        "contract": None,
        **extra,
    }


SILVER_DAY = "2026-03-07"


def _crm_changes(lake, spark) -> dict:
    rows = [
        contact("K1", "C00001", "2026-03-06"),
        contact("K1", "C00001", SILVER_DAY, merged_into="K2"),
        contact("K2", None, SILVER_DAY, city="Penang"),
    ]
    return _written(lake, spark, "crm_contacts", rows, CRM_DDL)


def _crm_state_plan(lake, spark) -> dict:
    changes = _crm_changes(lake, spark)
    return _silver_plan(lake, "crm", STATE_COLUMNS, crm_base=None, crm_changes=changes)


def _check_crm_state(result: dict, plan: dict, lake, spark) -> None:
    written = {r["contact_id"]: r for r in spark.read.parquet(plan["output_uri"]).collect()}
    assert result["rows"] == 2 and written["K1"]["merged_into"] == "K2"


def _customer_plan(lake, spark) -> dict:
    # A master snapshot without e-mail and phone columns: they are null, not an error.
    master = [(c, "Ana Lee", "retail", 10, date(2026, 3, 7)) for c in ("C00001", "C00002")]
    ddl = "customer_id string, full_name string, segment string, risk_score bigint, snapshot_date date"
    return _silver_plan(
        lake,
        "customer",
        CUSTOMER_COLUMNS,
        inputs={"customers": _written(lake, spark, "customers", master, ddl)},
        crm_base=None,
        crm_changes=_crm_changes(lake, spark),
        prefer=dict(PREFER),
    )


def _check_customer(result: dict, plan: dict, lake, spark) -> None:
    written = {r["customer_id"]: r for r in spark.read.parquet(plan["output_uri"]).collect()}
    assert (result["rows"], result["crm_unmatched"]) == (2, 0)
    assert written["C00001"]["crm_contact_ids"] == '["K1","K2"]'
    assert written["C00001"]["city"] == "Penang"
    assert written["C00002"]["customer_sk"] == customer_sk_of("C00002")
    assert written["C00002"]["email"] is None and written["C00001"]["risk_score"] == 10


def _fx_plan(lake, spark) -> dict:
    rates = [(date(2026, 3, 6), c, "MYR", 4.0, datetime(2026, 3, 6)) for c in CALENDAR.currencies]
    return _silver_plan(
        lake,
        "fx",
        FX_COLUMNS,
        rates=_written(lake, spark, "fx_rates", rates, FX_DDL),
        currencies=list(CALENDAR.currencies),
        quote_currency="MYR",
        max_gap_days=5,
    )


def _check_fx(result: dict, plan: dict, lake, spark) -> None:
    assert (result["rows"], result["carried"]) == (6, 6)  # Saturday: every rate Friday's


def _gold_plan(lake, spark) -> dict:
    publish_inputs(lake, spark)
    table = next(t for t in GOLD_DERIVED_TABLES if t.dataset == "gold_fact_card_spend")
    return step_plan(table, GOLD_DAY, "gold-run", lake.catalog, lake.storage).plan


def _check_gold(result: dict, plan: dict, lake, spark) -> None:
    # T4's customer is unknown to silver: kept, and counted by the warn rule (ADR-0147).
    assert result["rows"] == 4 and result["violations"] == {"customer_sk_found": 1}
    written = spark.read.parquet(plan["output_uri"]).select("transaction_id", "amount_myr")
    assert sorted(tuple(r) for r in written.collect()) == [
        ("T1", 10.0),
        ("T2", 9.0),
        ("T3", 13.0),
        ("T4", 1.0),
    ]


# --- silver orders: a day of changes merged into order-date slices ------------------------------


EARLIER = "2026-02-27"


def _orders_plan(lake, spark) -> dict:
    """With the shipped contract: its referential rule joins the day's silver_customer, where
    C00009 is missing (ADR-0167). No order is placed on DAY: its slice is written empty
    (ADR-0169)."""
    changes = [
        change("O1", 2, status="paid"),  # before its insert in the file: seq decides
        change("O1", 1, op="insert", status="placed"),
        change("O2", 1, op="delete", order_date=EARLIER),
        change("O3", 1, op="insert", status="placed", customer_id="C00009"),
    ]
    deliver_changes(lake, DAY, changes)
    publish_rows(lake, spark, "silver_customer", CUSTOMERS, CUSTOMER_COLUMNS, "silver-1")
    contract = load_contract(contract_file(SILVER_ORDERS.dataset))
    shipped = SILVER_ORDERS.with_contract(
        {SILVER_ORDERS.dataset: contract}, lambda dataset: ("silver", "customer")
    )
    return step_plan(shipped, DAY, "run-1", lake.catalog, lake.storage).plan


def _check_orders(result: dict, plan: dict, lake, spark) -> None:
    touched = result["touched"]
    assert {d: (s["rows"], s["tombstones"], s["rewritten"]) for d, s in touched.items()} == {
        EARLIER: (1, 1, True),
        "2026-03-01": (2, 0, True),
    }
    slices = result["slices"]
    assert {d: (s["rows"], len(s["files"]), s["violations"]) for d, s in slices.items()} == {
        EARLIER: (1, 1, {}),  # a tombstone names no customer
        "2026-03-01": (2, 1, {"customer_known": 1}),
        DAY: (0, 1, {}),  # the schema's file
    }
    assert spark.read.parquet(f"{plan['output_uri']}/event_date={DAY}").count() == 0
    assert slices["2026-03-01"]["orphan_keys"] == {"customer_known": ["C00009"]}
    written = spark.read.parquet(plan["output_uri"])
    assert sorted(
        tuple(r) for r in written.select("order_id", "status", "seq", "deleted").collect()
    ) == [
        ("O1", "paid", 2, False),
        ("O2", None, 1, True),
        ("O3", "placed", 1, False),
    ]


# --- cost_cur: a CUR delivery curated, costs in nano-dollars as Python rounds them -------------


def _cur_plan(lake, spark) -> dict:
    _, objects = tiny_delivery("d-0001")
    [data] = [key for key in objects if key.endswith(".parquet")]
    lake.storage.put_bytes(CUR_EXPORT_PREFIX + data, objects[data])
    return {
        "files": [lake.storage.uri(CUR_EXPORT_PREFIX + data)],
        "delivery_id": "d-0001",
        "output_uri": lake.storage.uri("runs/cost_cur/"),
    }


def _check_cur(result: dict, plan: dict, lake, spark) -> None:
    delivered = tiny_cur()
    written = spark.read.parquet(plan["output_uri"])
    assert result["rows"] == written.count() == delivered.num_rows
    assert result["cost_nanos"] == sum(costs_in_nanos(delivered))
    assert set(result["nulls"].values()) == {0}
    rows = written.select("identity_line_item_id", "cost_nanos", "usage_hour").collect()
    nanos_of = dict(
        zip(delivered["identity_line_item_id"].to_pylist(), costs_in_nanos(delivered), strict=True)
    )
    assert {r["identity_line_item_id"]: r["cost_nanos"] for r in rows} == nanos_of  # ties too
    hours = {
        i: t.strftime("%Y-%m-%dT%H")  # naive delivered times are UTC
        for i, t in zip(
            delivered["identity_line_item_id"].to_pylist(),
            delivered["line_item_usage_start_date"].to_pylist(),
            strict=True,
        )
    }
    assert {r["identity_line_item_id"]: r["usage_hour"] for r in rows} == hours
    assert dict(written.schema["resource_tags"].dataType.jsonValue()) == {
        "type": "map", "keyType": "string", "valueType": "string", "valueContainsNull": True,
    }  # fmt: skip


# --- cost_allocate: the hand-made month of tests/cost_inputs.py, to the nano --------------------


def _allocation_plan(lake, spark) -> dict:
    from cost_inputs import MONTH, TEAMS, write_inputs

    from lake_assets.cost.policy import load_policy

    cur, drivers = write_inputs(spark, lake.storage.uri("inputs/cost"))
    return {
        "month": MONTH,
        "cur": cur,
        "drivers": drivers,
        "policy": load_policy(REPO_ROOT / "config" / "cost" / "allocation.yaml").model_dump(
            mode="json"
        ),
        "teams": TEAMS,
        "output_uri": lake.storage.uri("runs/cost_ledger/"),
    }


def _check_allocation(result: dict, plan: dict, lake, spark) -> None:
    from cost_inputs import LINES

    written = spark.read.parquet(plan["output_uri"])
    assert result["bill_nanos"] == sum(line["cost_nanos"] for line in LINES)
    assert sum(result["team_nanos"].values()) == result["bill_nanos"]
    assert result["rows"] == written.count()
    hour = written.where("hour = '2026-11-03T04'").select("team", "cost_nanos").collect()
    assert sorted((r["team"], r["cost_nanos"]) for r in hour) == [
        ("a", 750_000_001),
        ("b", 250_000_000),
    ]
    assert result["team_nanos"]["shared"] == 1_500_000_000  # idle capacity, its own line


JOB_CASES: dict[str, JobCase] = {
    "promote": JobCase(_promotion_plan, _check_promotion),
    "history_apply": JobCase(_apply_plan, _check_apply),
    "history_as_of": JobCase(_as_of_plan, _check_as_of),
    "compaction_rewrite": JobCase(_rewrite_plan, _check_rewrite),
    "spend_by_customer": JobCase(_mart_plan, _check_mart),
    "lateness": JobCase(_lateness_plan, _check_lateness),
    "contract_trial": JobCase(_trial_plan, _check_trial),
    "silver_crm_contacts": JobCase(_crm_state_plan, _check_crm_state),
    "silver_customer": JobCase(_customer_plan, _check_customer),
    "silver_fx_rates": JobCase(_fx_plan, _check_fx),
    "gold_table": JobCase(_gold_plan, _check_gold),
    "orders_merge": JobCase(_orders_plan, _check_orders),
    "cost_cur": JobCase(_cur_plan, _check_cur),
    "cost_allocate": JobCase(_allocation_plan, _check_allocation),
}


# --- the runner under each interpreter --------------------------------------------------------


def test_every_registered_job_has_a_case():
    missing = sorted(set(JOBS) - set(JOB_CASES))
    assert not missing, f"add a JobCase to JOB_CASES for the registered Spark jobs {missing}"


@pytest.fixture(scope="session")
def spark35_python() -> str:
    """The PySpark 3.5 interpreter. Missing, it skips the tests on a developer's machine (with
    the command that builds it) and fails them in CI, where `make test` must have built it."""
    if not SPARK35_PYTHON.exists():
        reason = f"{SPARK35_PYTHON} is missing: run `make .venv-spark35/.installed`"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    version = subprocess.run(
        [SPARK35_PYTHON, "-c", "import pyspark; print(pyspark.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert version.startswith("3.5."), f"{SPARK35_PYTHON} has pyspark {version}, not 3.5"
    return str(SPARK35_PYTHON)


def _runner(python: str) -> PipesSubprocessRunner:
    """The job code of this checkout (the 3.5 environment has no copy), on the session settings
    the local profile uses: they reach the job's own session as spark-submit --confs."""
    return PipesSubprocessRunner(
        env={"PYTHONPATH": str(REPO_ROOT)}, python=python, spark_conf=LOCAL_SPARK_CONFIG
    )


def _run_through_pipes(runner: PipesSubprocessRunner, job: str, plan: dict) -> tuple[dict, str]:
    """Runs `job` from an asset, the way the orchestrator's assets call their runner; returns
    its result and what the job logged about its session."""
    results = {}

    @asset
    def spark_job(context) -> MaterializeResult:
        results[job] = runner.run(context, job, plan)
        return MaterializeResult()

    instance = DagsterInstance.ephemeral()
    run = materialize([spark_job], instance=instance)
    assert run.success
    logged = [entry.user_message for entry in instance.all_logs(run.run_id)]
    return results[job], next(line for line in logged if "running Spark job" in line)


# The job run through Pipes on 3.5: the entry point, its channels and its session under 3.5.
# Every other job runs on 3.5 in one session (tests/jobs_in_one_session.py): a JVM per job
# proves nothing more about the job's code and cost most of this file's time (ADR-0052).
THROUGH_PIPES = "promote"
SHUFFLE = LOCAL_SPARK_CONFIG["spark.sql.shuffle.partitions"]


def test_a_job_runs_through_pipes_on_spark_35(spark35_python, lake, spark):
    case = JOB_CASES[THROUGH_PIPES]
    plan = case.plan(lake, spark)
    result, session = _run_through_pipes(_runner(spark35_python), THROUGH_PIPES, plan)
    assert "on Spark 3.5." in session, session
    assert f"(shuffle partitions {SHUFFLE}, call-site capture false)" in session, session
    case.check(result, plan, lake, spark)


@pytest.fixture(scope="module")
def on_spark_35(spark35_python, tmp_path_factory, spark) -> dict:
    """Every other job's plan, laid out in a tiny lake of its own, run on PySpark 3.5 in one
    session; per job, (its outcome, its plan, its lake)."""
    jobs = sorted(set(JOB_CASES) - {THROUGH_PIPES})
    lakes = {job: Lake(tmp_path_factory.mktemp(job) / "lake") for job in jobs}
    plans = {job: JOB_CASES[job].plan(lakes[job], spark) for job in jobs}
    folder = tmp_path_factory.mktemp("one-session")
    (folder / "plans.json").write_text(json.dumps([[job, plans[job]] for job in jobs]))
    runner = _runner(spark35_python)
    finished = subprocess.run(
        [runner.python, str(Path(__file__).with_name("jobs_in_one_session.py"))]
        + [str(folder / "plans.json"), str(folder / "results.json")],
        env={**os.environ, **runner.env},
        capture_output=True,
        text=True,
    )
    assert finished.returncode == 0, finished.stderr[-5000:]
    outcomes = json.loads((folder / "results.json").read_text())
    assert outcomes["spark"].startswith("3.5."), outcomes["spark"]
    assert outcomes["shuffle"] == SHUFFLE
    return {job: (outcomes[job], plans[job], lakes[job]) for job in jobs}


@pytest.mark.parametrize("job", sorted(set(JOB_CASES) - {THROUGH_PIPES}))
def test_job_runs_on_spark_35(job, on_spark_35, spark):
    outcome, plan, lake = on_spark_35[job]
    assert "error" not in outcome, outcome["error"]
    JOB_CASES[job].check(outcome["result"], plan, lake, spark)
