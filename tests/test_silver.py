"""silver/customer and silver/fx_rates: the pure rules (merges, survivorship config) without
Spark, the job functions on a few rows each with the session's Spark."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from lake_assets.config import ConfigError
from lake_assets.silver.conformance import load_fx_calendar, load_survivorship
from lake_assets.silver.crm_merges import MergeCycle, surviving_contacts

PREFER = load_survivorship().prefer
CALENDAR = load_fx_calendar()


def test_merge_chains_fold_into_their_last_contact():
    merged = {"K1": "K2", "K2": "K3", "K3": None, "K4": None, "K5": "K9"}
    assert surviving_contacts(merged) == {
        "K1": "K3",
        "K2": "K3",
        "K3": "K3",
        "K4": "K4",
        "K5": "K9",  # merged into a contact the state does not hold: that one survives
        "K9": "K9",
    }


def test_a_merge_cycle_is_an_error_naming_its_contacts():
    with pytest.raises(MergeCycle) as error:
        surviving_contacts({"K7": "K8", "K8": "K6", "K6": "K8", "K1": None})
    assert error.value.contacts == ["K6", "K8"]
    assert "K6 -> K8 -> K6" in str(error.value)


def test_survivorship_config_errors_name_file_key_and_reason(tmp_path):
    path = tmp_path / "customer.yaml"
    path.write_text("prefer: {" + ", ".join(f"{a}: {s}" for a, s in PREFER.items()) + "}\n")
    assert load_survivorship(path).prefer == PREFER
    path.write_text(path.read_text().replace("segment: master", "segment: crm"))
    with pytest.raises(ConfigError) as error:
        load_survivorship(path)
    assert (error.value.key, error.value.reason) == (
        "prefer.segment",
        "crm does not carry segment; only master does",
    )


def contact(cid, ref, day, first="Ana", city="Ipoh", merged_into=None, email=None):
    stamp = datetime.fromisoformat(f"{day}T09:00:00")
    return (
        cid,
        ref,
        first,
        "Lee",
        json.dumps([email] if email else []),
        None,
        city,
        "01000",
        "MY",
        "customer",
        merged_into,
        stamp,
        stamp,
    )


CRM_DDL = (
    "contact_id string, customer_ref string, name__first string, name__last string, "
    "emails string, phone string, address__city string, address__postcode string, "
    "address__country string, lifecycle_stage string, merged_into string, "
    "updated_at timestamp, _ingested_at timestamp"
)
MASTER_DDL = (
    "customer_id string, full_name string, email string, phone string, segment string, "
    "date_of_birth date, risk_score bigint, snapshot_date date"
)


def conform(spark, master_rows, state, day):
    from lake_assets.silver.customer import conformed_customers, crm_customers, survivors_frame

    master = spark.createDataFrame(master_rows, MASTER_DDL)
    crm = crm_customers(state, survivors_frame(spark, state))
    rows = conformed_customers(master, crm, PREFER, day).collect()
    return {r["customer_id"]: r.asDict() for r in rows}


def test_customers_conformed_across_days_and_a_merge(spark):
    from lake_assets.silver.customer import crm_state, customer_sk_of

    dob = date(1990, 1, 2)
    master = [
        ("C00001", "Ana Lee", "ana@bank.my", "011", "retail", dob, 20, date(2026, 3, 2)),
        ("C00002", "Bo Tan", "bo@bank.my", None, "sme", dob, 30, date(2026, 3, 2)),
    ]
    day1 = spark.createDataFrame(
        [
            contact("K1", "C00001", "2026-03-01", email="ana@crm.my"),
            contact("K2", None, "2026-03-01", first=None, city="Kuala Lumpur"),
        ],
        CRM_DDL,
    )
    state1 = crm_state(None, day1)
    first = conform(spark, master, state1, "2026-03-01")
    ana = first["C00001"]
    # Survivorship: master wins the name, the CRM the e-mail and the city.
    assert (ana["full_name"], ana["email"], ana["city"]) == ("Ana Lee", "ana@crm.my", "Ipoh")
    assert ana["segment"] == "retail" and ana["risk_score"] == 20
    assert json.loads(ana["crm_contact_ids"]) == ["K1"]
    assert first["C00002"]["email"] == "bo@bank.my"  # no CRM contact: the master's value
    assert first["C00002"]["crm_contact_ids"] == "[]"

    # Day 2: the CRM merges K1 into K2 (the survivor, no customer_ref of its own) and K2 moves.
    day2 = spark.createDataFrame(
        [
            contact("K1", "C00001", "2026-03-02", email="ana@crm.my", merged_into="K2"),
            contact("K2", None, "2026-03-02", first=None, city="Penang"),
        ],
        CRM_DDL,
    )
    second = conform(spark, master, crm_state(state1, day2), "2026-03-02")
    ana2 = second["C00001"]
    assert json.loads(ana2["crm_contact_ids"]) == ["K1", "K2"]
    assert ana2["city"] == "Penang"  # the survivor's value first
    assert ana2["email"] == "ana@crm.my"  # the survivor has none: the merged contact's
    # The key: the same customer keeps it on every day and across the merge, and it is what
    # the documented formula gives.
    for day in (first, second):
        assert {c: r["customer_sk"] for c, r in day.items()} == {
            c: customer_sk_of(c) for c in ("C00001", "C00002")
        }
    assert second["C00001"]["as_of_date"] == date(2026, 3, 2)


def test_crm_state_keeps_the_latest_version_of_each_contact(spark):
    from lake_assets.silver.customer import crm_state

    base = crm_state(None, spark.createDataFrame([contact("K1", None, "2026-03-02")], CRM_DDL))
    late_older = spark.createDataFrame([contact("K1", None, "2026-03-01", city="X")], CRM_DDL)
    newer = spark.createDataFrame([contact("K1", None, "2026-03-03", city="Y")], CRM_DDL)
    assert crm_state(base, late_older).first()["address__city"] == "Ipoh"
    assert crm_state(base, newer).first()["address__city"] == "Y"


FX_DDL = "rate_date date, base_currency string, quote_currency string, rate double, _ingested_at timestamp"


def fx_rows(spark, days):
    stamp = datetime(2026, 3, 1)
    rows = [
        (date.fromisoformat(d), c, "MYR", 1.0 + i, stamp)
        for d in days
        for i, c in enumerate(CALENDAR.currencies)
    ]
    return spark.createDataFrame(rows, FX_DDL)


def calendar_day(rates, day, max_gap=CALENDAR.max_gap_days):
    from lake_assets.silver.fx_rates import fx_calendar_rows

    rows = fx_calendar_rows(rates, day, list(CALENDAR.currencies), "MYR", max_gap).collect()
    return sorted(
        (r["base_currency"], r["carried_forward"], str(r["source_rate_date"])) for r in rows
    )


def test_fx_carries_over_a_weekend_and_a_holiday_and_fails_past_the_max_gap(spark):
    from lake_assets.silver.fx_rates import FxGapTooLong

    # Friday 2026-03-06 published; the weekend and Monday 03-09 (a holiday) have no file.
    rates = fx_rows(spark, ["2026-03-05", "2026-03-06", "2026-03-10"])
    currencies = sorted(CALENDAR.currencies)
    assert calendar_day(rates, "2026-03-06") == [(c, False, "2026-03-06") for c in currencies]
    for day in ("2026-03-07", "2026-03-08", "2026-03-09"):
        assert calendar_day(rates, day) == [(c, True, "2026-03-06") for c in currencies]
    assert calendar_day(rates, "2026-03-10") == [(c, False, "2026-03-10") for c in currencies]

    # USD stops being published after 03-05: carried two days is fine, four is not.
    partial = rates.where("base_currency != 'USD' OR rate_date <= '2026-03-05'")
    assert ("USD", True, "2026-03-05") in calendar_day(partial, "2026-03-07", max_gap=3)
    with pytest.raises(FxGapTooLong) as error:
        calendar_day(partial, "2026-03-09", max_gap=3)
    assert error.value.last_rates == {"USD": "2026-03-05"}
    assert "USD (last rate 2026-03-05)" in str(error.value)


def test_rules_with_a_lookback_rerun_the_days_that_read_a_changed_partition(tmp_path):
    from lake_assets.events.model import DataReady, DependencyRule
    from lake_assets.events.sensors import evaluate_tick
    from resources.event_store import SQLiteEventStore
    from resources.notifier import LocalNotifier

    fx = DependencyRule(
        name="silver_fx_rates",
        target="silver/fx_rates",
        lookback={"fx_rates": 3},
        timeout_hours=24,
    )
    customer = DependencyRule(
        name="silver_customer",
        target="silver/customer",
        inputs=("customers",),
        lookback={"crm_contacts": 1},
        timeout_hours=24,
    )
    store, notifier = SQLiteEventStore(tmp_path / "e.db"), LocalNotifier(tmp_path / "a.jsonl")
    cursor, launched = None, set()

    def publish(dataset, partition, at, content="a"):
        store.record(DataReady(dataset, partition, "v1", 1, "run", content, at.isoformat()))

    def tick(at):
        nonlocal cursor
        found = evaluate_tick([fx, customer], store, notifier, cursor, at, launched=launched)
        cursor = found.cursor
        launched.update(r.run_key for r in found.run_requests)  # as the daemon does
        return sorted((r.partition_key, r.tags["lake/rule"]) for r in found.run_requests)

    friday = datetime(2026, 3, 6, 18, tzinfo=UTC)
    publish("fx_rates", "2026-03-06", friday)
    publish("crm_contacts", "2026-03-06", friday)
    publish("customers", "2026-03-06", friday)
    # A day runs once it has ended (its partition exists): nothing for Friday on Friday.
    assert tick(friday) == []
    saturday = datetime(2026, 3, 7, 0, 5, tzinfo=UTC)
    assert tick(saturday) == [("2026-03-06", "silver_customer"), ("2026-03-06", "silver_fx_rates")]
    publish("customers", "2026-03-07", datetime(2026, 3, 7, 6, tzinfo=UTC))
    assert tick(datetime(2026, 3, 7, 6, tzinfo=UTC)) == []
    # Saturday carries Friday's rate once Saturday is over; a late CRM change for Friday
    # re-conforms Friday and Saturday (its lookback); Sunday waits for its own end.
    sunday = datetime(2026, 3, 8, 9, tzinfo=UTC)
    publish("crm_contacts", "2026-03-06", sunday, content="late")
    publish("customers", "2026-03-08", sunday)
    assert tick(sunday) == [
        ("2026-03-06", "silver_customer"),
        ("2026-03-07", "silver_customer"),
        ("2026-03-07", "silver_fx_rates"),
    ]
    assert tick(sunday) == []


def test_a_republished_state_reruns_the_days_built_on_it_one_base_at_a_time(tmp_path):
    """A CRM day corrected after its lookback re-ran only the days that read it (p..p+L): the
    later states, each built on a base from before the correction, never saw it, nor did
    silver_customer (ADR-0202). The rules' base re-runs the day each republished state is the
    base of, so the correction travels to today."""
    from lake_assets.events.model import DataReady, load_rules
    from lake_assets.events.sensors import evaluate_tick
    from resources.event_store import SQLiteEventStore
    from resources.notifier import LocalNotifier

    rules = [r for r in load_rules() if r.name in ("silver_crm_contacts", "silver_customer")]
    store, notifier = SQLiteEventStore(tmp_path / "e.db"), LocalNotifier(tmp_path / "a.jsonl")
    cursor, launched = None, set()

    def tick(at):
        nonlocal cursor
        found = evaluate_tick(rules, store, notifier, cursor, at, launched=launched)
        cursor = found.cursor
        launched.update(r.run_key for r in found.run_requests)
        return sorted((r.partition_key, r.tags["lake/rule"]) for r in found.run_requests)

    def publish(dataset, day, at, content="a"):
        store.record(DataReady(dataset, day, "v1", 1, "run", content, at.isoformat()))

    days = [f"2026-03-0{d}" for d in range(2, 7)]
    before = datetime(2026, 3, 19, tzinfo=UTC)
    for day in days:
        publish("customers", day, before)
    assert tick(before) == [(day, "silver_customer") for day in days]
    now = datetime(2026, 3, 20, 9, tzinfo=UTC)
    publish("crm_contacts", "2026-03-02", now, content="fixed")  # a replay, past its lookback
    both = ("silver_crm_contacts", "silver_customer")
    assert tick(now) == [(day, rule) for day in days[:4] for rule in both]
    # The state of 03-02 is published again: the days built on it (03-06) run, and so on.
    later = now + timedelta(hours=1)
    publish("silver_crm_contacts", "2026-03-02", later, content="corrected")
    assert tick(later) == [("2026-03-06", rule) for rule in both]
    # A day built on a state of the future waits for its own day to end.
    publish("silver_crm_contacts", "2026-03-18", later, content="corrected")
    assert tick(later) == []
    assert tick(datetime(2026, 3, 23, 0, 5, tzinfo=UTC)) == [("2026-03-22", "silver_crm_contacts")]


def test_the_rules_lookbacks_match_what_the_silver_tables_read():
    from lake_assets.events.model import load_rules
    from lake_assets.silver.customer_table import (
        CRM_LOOKBACK_DAYS,
        SILVER_CRM_CONTACTS,
        SILVER_CUSTOMER,
        STATE_BASE,
    )
    from lake_assets.silver.fx_rates_table import RATES

    lookbacks = {r.name: r.lookback for r in load_rules()}
    assert lookbacks["silver_fx_rates"] == {"fx_rates": CALENDAR.max_gap_days + 1}
    assert RATES.lookback_days == CALENDAR.max_gap_days + 1
    crm = {"crm_contacts": CRM_LOOKBACK_DAYS}
    assert lookbacks["silver_customer"] == lookbacks["silver_crm_contacts"] == crm
    bases = {r.name: r.base for r in load_rules()}
    state = {"silver_crm_contacts": STATE_BASE.base_days}
    assert bases["silver_customer"] == bases["silver_crm_contacts"] == state
    assert STATE_BASE in SILVER_CUSTOMER.inputs and STATE_BASE in SILVER_CRM_CONTACTS.inputs
