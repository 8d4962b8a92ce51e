"""`lake contract try` on referential rules (ADR-0146): published rows whose key the reference
does not hold, counted per day against the reference's partition the lake checks them against
(the same day for a source; the newest for silver_orders, whose order-date partitions are built
per change day), and days whose reference partition is not published named as not tried. The
job itself on PySpark 3.5 is the `contract_trial` case of test_spark_jobs.py."""

from __future__ import annotations

import json
from datetime import date

import yaml
from dagster import DagsterInstance
from gold_inputs import CUSTOMER_COLUMNS, CUSTOMERS, publish_rows
from pyspark.sql import functions as F
from test_jobs_over_pipes import CARDS, customers_of, late_cards
from test_silver_orders import apply_day, change, deliver_changes, silver_lake
from test_spark_jobs import trial_contract

from lake_assets.cli.main import main
from lake_assets.contracts.rules import with_reference_found
from lake_assets.contracts.trial import TrialReport
from lake_assets.definitions import build_definitions


def test_a_card_whose_customer_the_days_snapshot_lacks_is_named_and_a_day_without_one_untried(
    lake, monkeypatch, capsys, tmp_path
):
    """The cards of `late_cards` (03-02: customers C000..C006; 03-03: C002, C003) against the
    customers snapshot of their own day: 03-02's lacks C006, 03-03's is not published yet."""
    late_cards(lake)
    customers_of(lake, "2026-03-02", range(6))
    monkeypatch.setenv("LAKE_ROOT", str(lake.root))
    monkeypatch.setenv("LAKE_CONTRACTS_DIR", str(lake.settings.contracts_dir))
    candidate = tmp_path / "cards.yaml"
    contract = trial_contract(customers="fail").model_dump(by_alias=True, mode="json")
    candidate.write_text(yaml.safe_dump(contract))

    assert main(["contract", "try", CARDS, "--contract", str(candidate)]) == 1
    tried = capsys.readouterr().out.splitlines()
    assert "  customer_exists (fail): 1 published rows break it: 2026-03-02 1; e.g. C006" in tried
    assert "  customer_exists: not tried on 2026-03-03 (customers has not published it)" in tried
    assert "  not tried (judged per day at promotion): steady_volume (volume)" in tried
    assert tried[-1] == (
        "STRICTER than what the lake published under: customer_exists: its days would fail. "
        "Start such a rule with action warn, or fix the data first."
    )

    assert main(["contract", "try", CARDS, "--contract", str(candidate), "--json"]) == 1
    as_json = json.loads(capsys.readouterr().out)
    assert as_json["partitions"]["2026-03-02"]["violations"]["customer_exists"] == 1
    assert "customer_exists" not in as_json["partitions"]["2026-03-03"]["violations"]
    assert as_json["references"]["customer_exists"] == {
        "dataset": "customers",
        "against": None,
        "untried": ["2026-03-03"],
        "orphan_keys": ["C006"],
    }
    assert as_json["rejecting"] == ["customer_exists"]

    # 03-03's snapshot holds every customer: the day is tried, and the rule holds on it.
    customers_of(lake, "2026-03-03", range(7))
    assert main(["contract", "try", CARDS, "--contract", str(candidate), "--days", "1"]) == 0
    tried = capsys.readouterr().out.splitlines()
    assert "  customer_exists (fail): holds on every published row" in tried
    assert not any("not tried on" in line for line in tried)


def watched(lake, instance):
    """The daily `references_watch` job run as its schedule runs it: its one evaluation."""
    job = build_definitions(lake.settings, lake.resources).resolve_job_def("references_watch")
    result = job.execute_in_process(instance=instance)
    [evaluation] = result.get_asset_check_evaluations()
    assert (evaluation.asset_key.path, evaluation.check_name) == (
        ["contracts", "silver_orders"],
        "references_still_hold",
    )
    return evaluation


def test_silver_orders_are_tried_against_the_newest_conformed_customers(
    tmp_path, spark, monkeypatch, capsys
):
    """config/contracts/silver_orders.yaml's `customer_known`, the contract in force: the orders
    of order date 03-01, built on change day 03-02 when silver_customer held their customers,
    are tried against silver_customer's newest day, what the next build checks them against;
    the same day, 03-01, was never published. Once that day lacks C00002, the order naming
    C00002 would hold the next build: `lake contract try` says so, and so does the morning's
    watch (ADR-0171), before a late change to that order holds a change day."""
    lake = silver_lake(tmp_path, spark)
    day = "2026-03-02"
    placed = [
        change("O1", 1, op="insert", status="placed", customer_id="C00001"),
        change("O2", 1, op="insert", status="placed", customer_id="C00002"),
    ]
    deliver_changes(lake, day, placed)
    assert "2026-03-01" in apply_day(lake, spark, day, "orders-1")
    for name, value in lake.env.items():
        monkeypatch.setenv(name, value)

    assert main(["contract", "try", "silver_orders"]) == 0
    held = capsys.readouterr().out.splitlines()
    assert (
        f"  customer_known (fail) against silver_customer {day}: holds on every published row"
    ) in held
    instance = DagsterInstance.ephemeral()  # one, as the deployment's: the check reads its last
    assert watched(lake, instance).passed

    without_c2 = [c for c in CUSTOMERS if c[1] != "C00002"]  # a CRM merge gone wrong
    publish_rows(lake, spark, "silver_customer", without_c2, CUSTOMER_COLUMNS, "silver-2")
    assert main(["contract", "try", "silver_orders"]) == 1
    broken = capsys.readouterr().out.splitlines()
    assert (
        f"  customer_known (fail) against silver_customer {day}: 1 published rows break it: "
        "2026-03-01 1; e.g. C00002"
    ) in broken
    assert broken[-1].startswith(
        "STRICTER than what the lake published under: customer_known: its days would fail."
    )
    warned = watched(lake, instance)
    assert (warned.passed, warned.severity.value) == (False, "WARN")
    assert warned.description == (
        f"customer_known (fail) against silver_customer {day}: 1 published rows break it: "
        "2026-03-01 1; e.g. C00002"
    )
    by_rule = warned.metadata["by_rule"].value["customer_known"]
    assert (warned.metadata["orphans"].value, by_rule["orphan_keys"]) == (1, ["C00002"])
    # The alert topic hears of it once: the next morning finds the same orphans, and warns again.
    [alert] = lake.notifier.alerts()
    assert (alert.kind, alert.detail["rules"]) == ("layers.references_lost", [warned.description])
    assert alert.subject == (
        "1 published rows of silver_orders name keys their references no longer hold"
    )
    assert not watched(lake, instance).passed
    assert len(lake.notifier.alerts()) == 1


def test_a_rule_tried_on_some_days_holds_on_those_and_one_tried_on_none_only_says_so():
    """The report alone: a referential rule that holds where its reference was published says
    so of the days tried; one whose reference published none of the days claims nothing."""
    contract = trial_contract(customers="fail")
    days = {
        "2026-03-02": {"rows": 9, "violations": {}},
        "2026-03-03": {"rows": 2, "violations": {}},
    }
    check = {"dataset": "customers", "against": None, "orphan_keys": []}

    some = TrialReport(
        CARDS, contract, days, {"customer_exists": {**check, "untried": ["2026-03-03"]}}
    )
    assert (
        "  customer_exists (fail): holds on every published row of the days tried" in some.lines()
    )

    none = TrialReport(CARDS, contract, days, {"customer_exists": {**check, "untried": list(days)}})
    about = [line for line in none.lines() if "customer_exists" in line]
    assert about == [
        "  customer_exists: not tried on 2026-03-02, 2026-03-03 (customers has not published them)"
    ]


def test_a_month_of_reference_days_is_not_forced_into_a_broadcast(spark):
    """The same-day trial reads up to a month of the reference's partitions (the automatic
    trial of ADR-0172 reads 30): Spark may shuffle them rather than broadcast a month of a large
    master. With broadcasts off, the check shuffles both sides and finds the same keys; the
    build's one-day check still forces its broadcast."""
    rule = trial_contract(customers="fail").rule("customer_exists")
    d2, d3 = date(2026, 3, 2), date(2026, 3, 3)
    schema = "customer_id string, event_date date"
    rows = spark.createDataFrame([("C1", d2), ("C2", d2), ("C1", d3)], schema)
    reference = spark.createDataFrame([("C1", d2), ("C2", d3)], schema)
    threshold = "spark.sql.autoBroadcastJoinThreshold"
    previous = spark.conf.get(threshold)
    spark.conf.set(threshold, "-1")
    try:
        found = with_reference_found(rows, rule, reference, "found", "event_date", broadcast=False)
        assert "BroadcastExchange" not in plan_of(found)
        assert sorted(tuple(r) for r in found.collect()) == [
            ("C1", d2, True),
            ("C1", d3, False),
            ("C2", d2, False),
        ]
        forced = with_reference_found(rows, rule, reference, "found", "event_date")
        assert "BroadcastExchange" in plan_of(forced)
    finally:
        spark.conf.set(threshold, previous)


def test_rows_read_as_a_union_of_schema_versions_are_checked(spark):
    """Published partitions of two schema versions are read as a union (tables.frames
    .read_resolved). Spark pushed the check's projection, which holds the correlated EXISTS,
    down through that union and lost the subquery's column ("key not found: _ri_key"): `lake
    contract try card_transactions` failed on the runbooks' demo lake. Both joins now count."""
    rule = trial_contract(customers="fail").rule("customer_exists")
    d2, d3 = date(2026, 3, 2), date(2026, 3, 3)
    schema = "customer_id string, event_date date"
    rows = spark.createDataFrame([("C1", d2), ("C2", d2)], schema).unionByName(
        spark.createDataFrame([("C1", d3)], schema)
    )
    reference = spark.createDataFrame([("C1", d2), ("C2", d3)], schema)
    for broadcast in (True, False):
        found = with_reference_found(rows, rule, reference, "found", "event_date", broadcast)
        orphans = found.groupBy("event_date").agg(F.count(F.when(~F.col("found"), True)))
        assert sorted(tuple(r) for r in orphans.collect()) == [(d2, 1), (d3, 1)], broadcast


def plan_of(frame) -> str:
    return frame._jdf.queryExecution().executedPlan().toString()
