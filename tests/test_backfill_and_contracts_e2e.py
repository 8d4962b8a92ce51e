"""Backfills, late arrivals and data contracts end to end, through `materialize`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from dagster import AssetKey, RunRequest, SkipReason, build_schedule_context
from lake_harness import Lake, card, failure_message

from lake_assets.cli.main import main
from lake_assets.ingestion.asset_keys import curated_key_of
from lake_assets.ingestion.intake import pending_objects, profile_objects
from lake_assets.ingestion.late_arrivals import late_arrivals
from lake_assets.ingestion.lateness import recommend_lookback
from lake_assets.ingestion.promotion_cli import date_ranges
from lake_assets.ingestion.schedules import build_daily_promotion

DATA_COLUMNS = ["transaction_id", "customer_id", "amount", "transaction_date", "event_date"]


def profile_all(lake: Lake, source: str = "card_transactions") -> None:
    """Profile every landed payload directly (what the sensor-triggered runs would do)."""
    profile_objects(
        lake.storage,
        lake.registry,
        lake.notifier,
        lake.settings.source(source),
        pending_objects(lake.storage, lake.registry, source),
    )


def rows_of(lake: Lake, spark, partitions=None) -> list[tuple]:
    frame = lake.rows(spark, "card_transactions", partitions).select(*DATA_COLUMNS)
    return sorted(tuple(r) for r in frame.collect())


def test_a_record_arriving_feb_3_for_jan_15_lands_in_jan_15_exactly_once(
    tmp_path, spark, monkeypatch
):
    lake = Lake(tmp_path / "lake")
    lake.deliver_cards("2026-01-15", range(0, 4))
    profile_all(lake)
    assert lake.promote("card_transactions", "2026-01-12", "2026-01-15").success

    feb3 = [card(n, "2026-02-03") for n in range(10, 13)]
    feb3.append(card(20, "2026-02-01"))  # two days late: inside the 3-day lookback
    feb3.append(card(30, "2026-01-15"))  # nineteen days late: beyond it
    lake.deliver(
        "card_transactions", "2026-02-03", "feb3.json", "".join(json.dumps(r) + "\n" for r in feb3)
    )
    profile_all(lake)
    daily = lake.promote("card_transactions", "2026-01-31", "2026-02-03")  # the daily window
    assert daily.success, failure_message(daily)

    def partitions_of(transaction_id):
        rows = lake.rows(spark, "card_transactions").where(f"transaction_id = '{transaction_id}'")
        return [r["event_date"].isoformat() for r in rows.collect()]

    assert partitions_of("TXN-00020") == ["2026-02-01"]
    assert partitions_of("TXN-00030") == []  # held, not dropped
    [held] = late_arrivals(lake.storage, "card_transactions")
    assert held.pending and held.event_dates == ("2026-01-15",)
    assert [a.kind for a in lake.notifier.alerts()] == ["records.late_beyond_lookback"]

    monkeypatch.setenv("LAKE_ROOT", str(lake.root))
    monkeypatch.setenv("LAKE_CONTRACTS_DIR", str(lake.settings.contracts_dir))
    assert main(["late", "fold-in", "card_transactions"]) == 0
    assert partitions_of("TXN-00030") == ["2026-01-15"]
    assert lake.rows(spark, "card_transactions", ["2026-01-15"]).count() == 5
    assert not late_arrivals(lake.storage, "card_transactions")[0].pending
    assert main(["late", "fold-in", "card_transactions"]) == 0  # nothing left: a no-op
    assert partitions_of("TXN-00030") == ["2026-01-15"]


def test_the_lookback_window_promoted_again_counts_every_row_once(tmp_path, spark):
    """Each day's schedule promotes the window of its last days again (and an operator may
    rerun one): rows inside it are republished, never added twice, and a late one joins its
    day once."""
    from lake_assets.ingestion.reconciliation import reconcile_source

    lake = Lake(tmp_path / "lake")
    for offset, day in enumerate(("2026-02-01", "2026-02-02", "2026-02-03")):
        lake.deliver_cards(day, range(offset * 10, offset * 10 + 5))
    profile_all(lake)
    window = ("card_transactions", "2026-01-31", "2026-02-03")
    assert lake.promote(*window).success
    first = rows_of(lake, spark)
    assert len(first) == 15

    assert lake.promote(*window).success  # the same window again
    assert rows_of(lake, spark) == first

    late = card(99, "2026-02-01")  # delivered on Feb 3, inside the window
    lake.deliver("card_transactions", "2026-02-03", "late.json", json.dumps(late) + "\n")
    profile_all(lake)
    assert lake.promote(*window).success
    assert lake.promote(*window).success
    after = rows_of(lake, spark)
    assert sorted(set(after) - set(first)) == [r for r in after if r[0] == "TXN-00099"]
    assert len(after) == 16 and len({r[0] for r in after}) == 16
    account = reconcile_source(
        lake.settings.source("card_transactions"), lake.storage, lake.registry, lake.catalog
    )
    assert (account.received, account.published) == (16, 16) and account.balanced, account


def test_the_daily_schedule_promotes_the_lookback_window_as_one_range(tmp_path):
    lake = Lake(tmp_path / "lake")
    schedule = build_daily_promotion(lake.settings.source("card_transactions"), "2025-01-01")

    def tick():
        return schedule(
            build_schedule_context(
                scheduled_execution_time=datetime(2026, 2, 4, 2, tzinfo=UTC),
                resources=lake.resources,
            )
        )

    assert isinstance(tick(), SkipReason)  # nothing landed: nothing to promote
    lake.deliver_cards("2026-02-03", range(3))
    assert isinstance(tick(), RunRequest)  # promotion profiles what is not profiled yet
    profile_all(lake)
    request = tick()  # rows of the window not yet promoted
    assert request.tags["dagster/asset_partition_range_start"] == "2026-01-31"
    assert request.tags["dagster/asset_partition_range_end"] == "2026-02-03"
    assert (
        request.asset_selection is None
        or curated_key_of("card_transactions") in request.asset_selection
    )


def test_lookback_recommendation_covers_99_percent():
    assert recommend_lookback({0: 900, 1: 80, 2: 15, 9: 5}) == 2
    assert recommend_lookback({0: 98, 5: 2}) == 5
    assert date_ranges(["2026-01-03", "2026-01-01", "2026-01-02", "2026-01-09"]) == [
        ("2026-01-01", "2026-01-03"),
        ("2026-01-09", "2026-01-09"),
    ]


CONTRACT = """
dataset: card_transactions
owner: payments-data
version: 1
bootstrap_partitions: {bootstrap}
freshness: {{deadline_hours: 6}}
schema:
  - {{name: transaction_id, type: string, nullable: false}}
  - {{name: customer_id, type: string}}
  - {{name: amount, type: double}}
rules:
  - name: amount_positive
    severity: error
    action: drop
    range: {{column: amount, min: 0.01}}
  - name: amount_small
    severity: warn
    range: {{column: amount, max: 1000}}
  - name: transaction_id_unique
    severity: error
    unique: {{columns: [transaction_id]}}
  - name: daily_volume
    severity: error
    volume: {{trailing_partitions: 3, max_change_pct: 50}}
{extra}
"""

REFERENTIAL = """
  - name: customer_exists
    severity: error
    referential_integrity:
      column: customer_id
      references: {dataset: customers, column: customer_id}
      grace_hours: 6
"""


def contract_lake(tmp_path, bootstrap: int = 7, extra: str = "") -> Lake:
    contracts = tmp_path / "contracts"
    contracts.mkdir()
    (contracts / "card_transactions.yaml").write_text(
        CONTRACT.format(bootstrap=bootstrap, extra=extra)
    )
    return Lake(tmp_path / "lake", contracts=contracts)


def check_results(result) -> dict[tuple[str, str], object]:
    """Each check's result per partition: {(check, partition): evaluation}."""
    return {
        (e.event_specific_data.check_name, e.event_specific_data.partition): e.event_specific_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }


def deliver(lake: Lake, day: str, records: list[dict], name: str = "cards.json") -> None:
    lake.deliver("card_transactions", day, name, "".join(json.dumps(r) + "\n" for r in records))


def test_contract_rules_drop_warn_and_block_per_partition(tmp_path, spark):
    lake = contract_lake(tmp_path)
    day1 = [card(n, "2026-03-02") for n in range(10)]
    day1[0]["amount"] = -5.0  # drop: quarantined with the rule's name
    day1[1]["amount"] = 5000.0  # warn: published, reported
    day2 = [card(n, "2026-03-03") for n in range(10, 20)]
    day2[1]["transaction_id"] = day2[0]["transaction_id"]  # fail: the partition is blocked
    deliver(lake, "2026-03-02", day1)
    deliver(lake, "2026-03-03", day2, "day2.json")
    profile_all(lake)

    result = lake.promote("card_transactions", "2026-03-02", "2026-03-03")
    assert not result.success  # the blocking check failed, so nothing downstream runs
    checks = check_results(result)
    unique = "contract_transaction_id_unique"
    assert checks[(unique, "2026-03-03")].passed is False
    assert checks[(unique, "2026-03-03")].metadata["violating_rows"].value == 2
    assert checks[(unique, "2026-03-02")].passed is True
    assert checks[("contract_amount_positive", "2026-03-02")].metadata["violating_rows"].value == 1
    assert checks[("contract_amount_small", "2026-03-02")].metadata["violating_rows"].value == 1
    assert checks[("contract_daily_volume", "2026-03-02")].metadata["phase"].value == "observing"

    assert lake.catalog.current("card_transactions", "2026-03-03") is None  # blocked
    assert lake.catalog.current("card_transactions", "2026-03-02").row_count == 9
    [dropped] = spark.read.parquet(lake.storage.uri("quarantine/card_transactions/")).collect()
    assert dropped["_reject_reasons"] == "violates contract rules: amount_positive"
    assert dropped["transaction_id"] == "TXN-00000"


def test_volume_rules_observe_during_bootstrap_then_enforce(tmp_path, spark):
    lake = contract_lake(tmp_path, bootstrap=3)
    for offset in range(3):
        day = f"2026-03-0{offset + 2}"
        deliver(lake, day, [card(offset * 100 + n, day) for n in range(10)], f"{day}.json")
    deliver(lake, "2026-03-05", [card(900 + n, "2026-03-05") for n in range(2)], "small.json")
    profile_all(lake)
    for day in ("2026-03-02", "2026-03-03", "2026-03-04"):
        checks = check_results(lake.promote("card_transactions", day))
        assert checks[("contract_daily_volume", day)].metadata["phase"].value == "observing"
    result = lake.promote("card_transactions", "2026-03-05")
    volume = check_results(result)[("contract_daily_volume", "2026-03-05")]
    assert volume.passed is False
    assert volume.metadata["phase"].value == "enforcing"
    assert lake.catalog.current("card_transactions", "2026-03-05") is None


QUALITY_SCORE = """
  - name: mostly_publishable
    severity: error
    quality_score: {min_share: 0.8}
"""


def test_a_day_mostly_quarantined_is_held_whole_by_its_quality_score(tmp_path, spark):
    """Seed 004's "data quality score < threshold": drop rules alone would publish what is left
    of a bad day; the score rule holds it, and the day's reconciliation still balances."""
    from lake_assets.ingestion.reconciliation import reconcile_source

    lake = contract_lake(tmp_path, extra=QUALITY_SCORE)
    day1 = [card(n, "2026-03-02") for n in range(10)]
    day1[0]["amount"] = -5.0  # 9 of 10 publishable: passes at 0.8
    day2 = [card(n, "2026-03-03") for n in range(10, 20)]
    for record in day2[:4]:
        record["amount"] = -1.0  # 6 of 10: held
    deliver(lake, "2026-03-02", day1)
    deliver(lake, "2026-03-03", day2, "day2.json")
    profile_all(lake)

    result = lake.promote("card_transactions", "2026-03-02", "2026-03-03")
    assert not result.success  # a blocking check failed
    checks = check_results(result)
    assert checks[("contract_mostly_publishable", "2026-03-02")].passed is True
    held = checks[("contract_mostly_publishable", "2026-03-03")]
    assert held.passed is False
    assert held.metadata["detail"].text == (
        "score 0.600: 6 of 10 rows publishable, 4 quarantined (minimum 0.8)"
    )
    assert lake.catalog.current("card_transactions", "2026-03-02").row_count == 9
    assert lake.catalog.current("card_transactions", "2026-03-03") is None
    scores = {
        m.partition: m.metadata["quality_score"].value
        for m in result.asset_materializations_for_node(
            curated_key_of("card_transactions").to_python_identifier()
        )
        if m.partition
    }
    assert scores == {"2026-03-02": 0.9, "2026-03-03": 0.6}
    account = reconcile_source(
        lake.settings.source("card_transactions"), lake.storage, lake.registry, lake.catalog
    )
    assert (account.received, account.published, account.quarantined) == (20, 9, 1)
    assert account.not_yet_promoted == {"2026-03-03": 10} and account.balanced, account


NULL_KEY_FAILS = """
  - name: transaction_id_present
    severity: error
    not_null: {column: transaction_id}
"""


def test_a_null_key_quarantines_its_row_and_a_declared_fail_rule_holds_the_day(tmp_path, spark):
    """Seed 004's "pipelines fail if required fields are null": a non-nullable key quarantines
    the row by default (the schema's implicit drop rule); a contract that wants the day to stop
    declares the not_null rule with action fail (the default of severity error), as the shipped
    card_transactions contract does (ADR-0187), and the day is held, its rows accounted as not
    yet promoted."""
    from lake_assets.ingestion.reconciliation import reconcile_source

    lake = contract_lake(tmp_path, extra=NULL_KEY_FAILS)
    day1 = [card(n, "2026-03-02") for n in range(10)]
    day2 = [card(n, "2026-03-03") for n in range(10, 20)]
    day2[3]["transaction_id"] = None
    deliver(lake, "2026-03-02", day1)
    deliver(lake, "2026-03-03", day2, "day2.json")
    profile_all(lake)

    result = lake.promote("card_transactions", "2026-03-02", "2026-03-03")
    assert not result.success
    checks = check_results(result)
    present = checks[("contract_transaction_id_present", "2026-03-03")]
    assert present.passed is False and present.metadata["violating_rows"].value == 1
    assert checks[("contract_transaction_id_present", "2026-03-02")].passed is True
    assert lake.catalog.current("card_transactions", "2026-03-03") is None
    assert lake.catalog.current("card_transactions", "2026-03-02").row_count == 10
    account = reconcile_source(
        lake.settings.source("card_transactions"), lake.storage, lake.registry, lake.catalog
    )
    assert account.not_yet_promoted == {"2026-03-03": 10} and account.balanced, account


def test_a_customer_deleted_from_todays_snapshot_blocks_the_fact_partition(tmp_path, spark):
    lake = contract_lake(tmp_path, extra=REFERENTIAL)
    header = "customer_id,full_name,snapshot_date\n"
    lake.deliver(
        "customers",
        "2026-03-02",
        "c1.csv",
        header + "C001,Aisyah,2026-03-02\nC002,Wei,2026-03-02\n",
    )
    lake.deliver(
        "customers", "2026-03-03", "c2.csv", header + "C001,Aisyah,2026-03-03\n"
    )  # C002 deleted
    profile_all(lake, "customers")
    assert lake.promote("customers", "2026-03-02", "2026-03-03").success
    for day in ("2026-03-02", "2026-03-03"):
        records = [card(1, day), card(2, day)]
        records[0]["customer_id"], records[1]["customer_id"] = "C001", "C002"
        records[1]["transaction_id"] = f"TXN-{day}"
        deliver(lake, day, records, f"{day}.json")
    profile_all(lake)

    result = lake.promote("card_transactions", "2026-03-02", "2026-03-03")
    customer_exists = check_results(result)[("contract_customer_exists", "2026-03-03")]
    assert customer_exists.passed is False
    assert customer_exists.metadata["violating_rows"].value == 1
    [missing] = customer_exists.metadata["missing_keys"].records
    assert (missing.data["deleted_since_previous_snapshot"], missing.data["never_seen"]) == (1, 0)
    assert check_results(result)[("contract_customer_exists", "2026-03-02")].passed is True
    assert lake.catalog.current("card_transactions", "2026-03-02").row_count == 2
    assert lake.catalog.current("card_transactions", "2026-03-03") is None


def test_a_dimension_merely_late_does_not_fail_the_fact_inside_the_grace_window(tmp_path, spark):
    lake = contract_lake(tmp_path, extra=REFERENTIAL)
    today = datetime.now(UTC).date().isoformat()
    deliver(lake, today, [card(1, today), card(2, today)])
    deliver(lake, "2026-03-02", [card(3, "2026-03-02")], "old.json")
    profile_all(lake)
    # No customers snapshot at all: today's partition is within its grace window, an old one is not.
    fresh = lake.promote("card_transactions", today)
    assert fresh.success, failure_message(fresh)
    assert (
        check_results(fresh)[("contract_customer_exists", today)].metadata["phase"].value == "grace"
    )
    old = lake.promote("card_transactions", "2026-03-02")
    assert check_results(old)[("contract_customer_exists", "2026-03-02")].passed is False
    assert lake.catalog.current("card_transactions", "2026-03-02") is None


def test_quarantine_replay_publishes_rows_that_now_pass_once(tmp_path, spark, monkeypatch):
    lake = contract_lake(tmp_path)
    records = [card(n, "2026-03-02") for n in range(6)]
    records[0]["amount"] = -1.0
    deliver(lake, "2026-03-02", records)
    profile_all(lake)
    assert lake.promote("card_transactions", "2026-03-02").success
    assert lake.catalog.current("card_transactions", "2026-03-02").row_count == 5

    # The upstream fix: refunds are legitimate, the contract drops the rule.
    path = lake.settings.contracts_dir / "card_transactions.yaml"
    path.write_text(path.read_text().replace("min: 0.01", "min: -10000"))
    monkeypatch.setenv("LAKE_ROOT", str(lake.root))
    monkeypatch.setenv("LAKE_CONTRACTS_DIR", str(lake.settings.contracts_dir))
    for _ in range(2):  # replaying twice still publishes each row once
        assert main(["quarantine", "replay", "card_transactions", "--partition", "2026-03-02"]) == 0
    fresh = Lake(lake.root, contracts=lake.settings.contracts_dir)
    assert fresh.catalog.current("card_transactions", "2026-03-02").row_count == 6
    ids = [r["transaction_id"] for r in fresh.rows(spark, "card_transactions").collect()]
    assert sorted(ids) == sorted({r["transaction_id"] for r in records})


def test_contract_load_errors_stop_the_definitions_with_file_key_and_reason(tmp_path):
    from lake_assets.definitions import build_definitions
    from lake_assets.settings import ConfigError

    bad_regex = (
        "  - name: bad\n    severity: error\n    regex: {column: customer_id, pattern: '('}\n"
    )
    lake = contract_lake(tmp_path, extra=bad_regex)
    with pytest.raises(ConfigError, match=r"card_transactions.yaml: rules\[4\].*bad"):
        build_definitions(lake.settings, lake.resources)


def test_partition_deadline_check_flags_an_overdue_partition_then_an_on_time_one(tmp_path):
    from dagster import DagsterInstance

    from lake_assets.contracts.checks import latest_due_partition
    from lake_assets.contracts.verdicts import partition_deadline
    from lake_assets.definitions import build_definitions
    from resources.catalog import PublishedPartition

    lake = contract_lake(tmp_path)
    job = build_definitions(lake.settings, lake.resources).resolve_job_def("partition_deadlines")

    def evaluate():
        result = job.execute_in_process(instance=DagsterInstance.ephemeral())
        [check] = [
            e.event_specific_data
            for e in result.all_events
            if e.event_type_value == "ASSET_CHECK_EVALUATION"
        ]
        return check

    overdue = evaluate()
    due_day = latest_due_partition(datetime.now(UTC), 6)
    assert overdue.passed is False and overdue.metadata["status"].text == "overdue"
    assert overdue.metadata["partition"].text == due_day.isoformat()

    on_time = partition_deadline(due_day, 6) - timedelta(hours=1)
    lake.catalog.publish(
        PublishedPartition(
            "card_transactions",
            due_day.isoformat(),
            "curated/x/",
            "r1",
            on_time.isoformat(),
            5,
            "v1",
        )
    )
    assert evaluate().passed is True


def test_publishing_both_inputs_triggers_the_mart_once(lake, spark):
    from dagster import build_sensor_context, materialize

    from lake_assets.events.model import load_rules
    from lake_assets.events.sensors import build_dependency_sensor
    from lake_assets.history.assets import history_key_of
    from lake_assets.marts.assets import SPEND_BY_CUSTOMER, build_spend_by_customer
    from partitions import daily_partitions

    day = "2026-03-02"
    lake.deliver_cards(day, range(0, 6))
    header = "customer_id,segment,snapshot_date\n"
    lake.deliver(
        "customers", day, "c.csv", header + "".join(f"C00{n},retail,{day}\n" for n in range(7))
    )
    profile_all(lake)
    profile_all(lake, "customers")
    sensor = build_dependency_sensor(load_rules(lake.settings.dependencies_file))

    def tick():
        context = build_sensor_context(instance=lake.instance, resources=lake.resources)
        return sensor(context).run_requests

    assert lake.promote("card_transactions", day).success
    assert tick() == []  # customers not ready yet: the rule waits
    assert lake.promote("customers", day).success
    # The mart's inputs are both ready; the customers history needs customers alone (and
    # silver/customer, a rule of its own, conforms the snapshot).
    requests = {tuple(r.asset_selection): r for r in tick()}
    assert set(requests) == {
        (SPEND_BY_CUSTOMER,),
        (history_key_of("customers"),),
        (AssetKey(["silver", "customer"]),),
    }
    request = requests[(SPEND_BY_CUSTOMER,)]
    assert request.partition_key == day
    assert lake.promote("customers", day).success  # same content republished: no new event
    again = tick()
    assert {r.run_key for r in again} <= {r.run_key for r in requests.values()}, (
        "a republish must not be a new run"
    )

    result = materialize(
        [build_spend_by_customer(daily_partitions())],
        partition_key=day,
        resources={
            k: lake.resources[k]
            for k in ("settings", "storage", "catalog", "lineage", "spark_runner")
        },
    )
    assert result.success
    published = lake.catalog.current("spend_by_customer", day)
    assert published.row_count == 6  # six distinct customers in the card data

    # Lineage runs through the mart to the raw files of both inputs, with column lineage.
    from lake_assets.lineage.graph import trace

    runs = lake.lineage.runs()
    leaves = trace(runs, f"spend_by_customer[{day}]").leaves()
    assert {k.split("/")[1] for k in leaves} == {"source=card_transactions", "source=customers"}
    [mart_run] = [r for r in runs if r.job == "marts/spend_by_customer" and r.state == "COMPLETE"]
    assert mart_run.column_lineage["spend"][0]["transformation"] == "AGGREGATION"
