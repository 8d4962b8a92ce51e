"""Seed 000, project 4: a fact published while its reference was late is checked again when the
reference arrives, and nothing downstream builds from it meanwhile (ADR-0132)."""

from __future__ import annotations

from datetime import UTC, datetime

from dagster import AssetKey, build_sensor_context
from lake_harness import card
from test_backfill_and_contracts_e2e import (
    REFERENTIAL,
    check_results,
    contract_lake,
    deliver,
    profile_all,
)
from test_contracts import RI_RULE

from lake_assets.contracts.gate import AWAITING, CHECKED_AGAINST, judge_partitions
from lake_assets.contracts.model import Contract
from lake_assets.events.sensors import build_dependency_sensor
from lake_assets.graph import checked_graph
from lake_assets.layers.assets import input_states
from lake_assets.layers.definitions import DERIVED_TABLES
from lake_assets.layers.gate import InputState, gate
from partitions import daily_partitions

CARDS = "card_transactions"
FACT = next(t for t in DERIVED_TABLES if t.dataset == "gold_fact_card_spend")


def _contract() -> Contract:
    return Contract.model_validate(
        {
            "dataset": CARDS,
            "owner": "tests",
            "version": 1,
            "schema": [{"name": "customer_id", "type": "string"}],
            "rules": [RI_RULE],
        }
    )


def _cards_requests(lake):
    """A tick of the dependency sensor over the graph's rules (the derived rechecks with them):
    the runs it requests of the cards' curated asset."""
    rules = checked_graph(lake.settings, daily_partitions(lake.settings.partitions_start)).rules
    sensor = build_dependency_sensor(rules)

    def tick() -> list:
        context = build_sensor_context(instance=lake.instance, resources=lake.resources)
        curated = [AssetKey(["curated", CARDS])]
        return [r for r in sensor(context).run_requests if r.asset_selection == curated]

    return tick


def test_orphans_in_grace_or_held_back_await_the_reference_and_hold_what_reads_them():
    now = datetime(2026, 3, 3, 1, tzinfo=UTC)  # 2026-03-02's grace runs to 06:00 on the 3rd
    days = ["2026-03-01", "2026-03-02"]
    orphans = {day: {"customer_exists": 2} for day in days}
    unpublished = {("customer_exists", day): None for day in days}
    verdicts = judge_partitions(_contract(), days, orphans, {}, {}, unpublished, now)
    # In grace: published, awaiting; past it: held back, and awaiting too (the reference may
    # arrive yet). A partition without orphans awaits nothing.
    assert verdicts["2026-03-02"].blocked_by == [] and verdicts["2026-03-02"].awaiting == [
        "customer_exists"
    ]
    assert (
        verdicts["2026-03-01"].blocked_by == verdicts["2026-03-01"].awaiting == ["customer_exists"]
    )
    clean = judge_partitions(_contract(), days, {}, {}, {}, unpublished, now)
    assert all(v.awaiting == [] for v in clean.values())

    awaiting = InputState(CARDS, "2026-03-02", True, awaiting=("customer_exists",))
    others = [InputState(i.dataset, "2026-03-02", True) for i in FACT.inputs[1:]]
    [reason] = gate(FACT, "2026-03-02", [awaiting, *others]).held_by
    assert reason.startswith("card_transactions[2026-03-02] was published before customer_exists")
    assert gate(FACT, "2026-03-02", [InputState(CARDS, "2026-03-02", True), *others]).builds


def test_a_fact_published_in_grace_is_promoted_again_when_its_reference_arrives(tmp_path, spark):
    lake = contract_lake(tmp_path, extra=REFERENTIAL)
    today = datetime.now(UTC).date().isoformat()
    deliver(lake, today, [card(1, today), card(2, today)])  # customers C001 and C002
    profile_all(lake)
    tick = _cards_requests(lake)

    assert lake.promote(CARDS, today).success
    materialization = lake.instance.get_latest_materialization_event(
        AssetKey(["curated", CARDS])
    ).asset_materialization
    assert materialization.partition == today
    assert materialization.metadata[AWAITING].value == ["customer_exists"]
    # Published in grace, its orphans unchecked: gold's fact does not build from it.
    held = gate(FACT, today, input_states(lake.instance, lake.catalog, FACT, today)).held_by
    assert any("card_transactions" in r and "before customer_exists could" in r for r in held)

    # The snapshot arrives without C002: the customers publish asks for the cards again.
    header = "customer_id,full_name,snapshot_date\n"
    lake.deliver("customers", today, "c.csv", header + f"C001,Aisyah,{today}\n")
    profile_all(lake, "customers")
    assert lake.promote("customers", today).success
    [request] = tick()
    assert request.partition_key == today

    again = lake.promote(CARDS, today)
    customer_exists = check_results(again)[("contract_customer_exists", today)]
    assert customer_exists.passed is False and customer_exists.metadata["phase"].value == "enforced"
    # Held back now: the grace version stays published and announced as the latest (the
    # held-back run announces nothing), and what reads it stays held.
    assert lake.catalog.current(CARDS, today).row_count == 2
    grace_version = lake.catalog.current(CARDS, today).run_id
    assert lake.resources["events"].latest(CARDS, today).run_id == grace_version
    states = input_states(lake.instance, lake.catalog, FACT, today)
    assert states[0].blocked_by == ("customer_exists",)
    assert any(
        r.startswith("card_transactions[") and "held back by customer_exists" in r
        for r in gate(FACT, today, states).held_by
    )
    assert tick() == []  # the same snapshot again: nothing new to check


def test_a_fact_checked_against_a_snapshot_redelivered_without_a_customer_is_checked_again(
    tmp_path, spark
):
    """The fact passed against the day's snapshot; the snapshot is then re-delivered without
    one of its customers (a correction). The cards' day is promoted again and held back."""
    lake = contract_lake(tmp_path, extra=REFERENTIAL)
    day, header = "2026-03-02", "customer_id,full_name,snapshot_date\n"
    lake.deliver("customers", day, "c1.csv", header + f"C001,Aisyah,{day}\nC002,Wei,{day}\n")
    profile_all(lake, "customers")
    assert lake.promote("customers", day).success
    first = lake.catalog.current("customers", day).run_id
    deliver(lake, day, [card(1, day), card(2, day)])  # customers C001 and C002
    profile_all(lake)
    tick = _cards_requests(lake)

    assert lake.promote(CARDS, day).success
    assert lake.catalog.current(CARDS, day).row_count == 2
    checked = lake.instance.get_latest_materialization_event(AssetKey(["curated", CARDS]))
    assert checked.asset_materialization.metadata[CHECKED_AGAINST].value == {"customers": first}
    assert tick() == []  # checked against what is published: nothing to do

    lake.deliver("customers", day, "c2.csv", header + f"C001,Aisyah,{day}\n")
    profile_all(lake, "customers")
    assert lake.promote("customers", day).success
    assert lake.catalog.current("customers", day).row_count == 1
    [request] = tick()
    assert request.partition_key == day
    again = lake.promote(CARDS, day)
    assert check_results(again)[("contract_customer_exists", day)].passed is False
    states = input_states(lake.instance, lake.catalog, FACT, day)
    assert states[0].blocked_by == ("customer_exists",)
