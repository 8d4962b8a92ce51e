"""Every derived table runs on its inputs' data-ready events (ADR-0168): a rule derived from its
declared inputs unless config/dependencies.yaml targets it, so silver/orders runs when its
change day and the day's conformed customers are published, and each order-date slice it
publishes runs gold/fact_orders for that date."""

from __future__ import annotations

from datetime import UTC, datetime

from lake_assets.events.model import DataReady, DependencyRule, load_rules
from lake_assets.events.sensors import evaluate_tick
from lake_assets.graph import derived_table_rules, lake_rules
from lake_assets.layers.definitions import DERIVED_TABLES
from lake_assets.settings import load_settings
from resources.event_store import SQLiteEventStore
from resources.notifier import LocalNotifier


def test_every_derived_table_has_one_rule_from_config_or_its_inputs():
    settings = load_settings({})
    rules = lake_rules(settings)
    targets = [r.target for r in rules if not r.recheck_references]
    assert len(targets) == len(set(targets))
    by_target = {r.target: r for r in rules if not r.recheck_references}
    for table in DERIVED_TABLES:
        assert "/".join(table.asset) in by_target, table.dataset
    configured = {r.target: r for r in load_rules(settings.dependencies_file)}
    assert by_target["silver/customer"] == configured["silver/customer"]  # config kept
    # silver/orders reads its change day and, for its contract's referential rule (ADR-0167),
    # the day's conformed customers; gold reads each input's same day.
    orders = by_target["silver/orders"]
    assert (orders.inputs, orders.lookback) == (("order_events", "silver_customer"), {})
    assert by_target["gold/fact_orders"].inputs == (
        "silver_orders",
        "silver_fx_rates",
        "silver_customer",
    )
    assert by_target["gold/kpi_daily"].inputs == ("gold_fact_card_spend", "gold_fact_orders")
    # An input read optionally or over several days is a lookback, as config writes them.
    customer = next(t for t in DERIVED_TABLES if t.dataset == "silver_customer")
    [derived] = derived_table_rules([customer], [])
    assert (derived.inputs, derived.lookback) == (("customers",), {"crm_contacts": 3})
    assert derived_table_rules([customer], [configured["silver/customer"]]) == []


def test_silver_orders_runs_on_its_day_and_each_slice_it_publishes_runs_gold_for_its_date(
    tmp_path,
):
    rules = [r for r in lake_rules(load_settings({})) if r.target.startswith(("silver/o", "gold"))]
    store, notifier = SQLiteEventStore(tmp_path / "e.db"), LocalNotifier(tmp_path / "a.jsonl")
    cursor, launched = None, set()

    def publish(dataset: str, partition: str, at: datetime, content: str = "a") -> None:
        store.record(DataReady(dataset, partition, "v1", 1, "run", content, at.isoformat()))

    def tick(at: datetime) -> list[tuple[str, str]]:
        nonlocal cursor
        found = evaluate_tick(rules, store, notifier, cursor, at, launched=launched)
        cursor = found.cursor
        launched.update(r.run_key for r in found.run_requests)  # as the daemon does
        return sorted((r.partition_key, r.tags["lake/rule"]) for r in found.run_requests)

    tuesday = datetime(2026, 3, 3, 1, tzinfo=UTC)
    publish("order_events", "2026-03-02", tuesday)
    assert tick(tuesday) == []  # the day's customers are not published yet
    publish("silver_customer", "2026-03-02", tuesday)
    assert tick(tuesday) == [("2026-03-02", "gold_dim_customer"), ("2026-03-02", "silver_orders")]
    assert tick(tuesday) == []  # requested once
    # silver/orders rewrote the slices of two order dates: gold's facts of each date run once
    # their rates and customers are there, the KPIs once both facts are.
    for day in ("2026-03-01", "2026-03-02"):
        publish("silver_fx_rates", day, tuesday)
        publish("silver_customer", day, tuesday)
        publish("card_transactions", day, tuesday)
        publish("silver_orders", day, tuesday)
    assert ("2026-03-01", "gold_fact_orders") in tick(tuesday)
    publish("gold_fact_orders", "2026-03-01", tuesday)
    publish("gold_fact_card_spend", "2026-03-01", tuesday)
    assert tick(tuesday) == [("2026-03-01", "gold_kpi_daily")]
    # A late change re-publishes the Monday slice: its order date runs again, nothing else.
    wednesday = datetime(2026, 3, 4, 1, tzinfo=UTC)
    publish("silver_orders", "2026-03-01", wednesday, content="late change")
    assert tick(wednesday) == [("2026-03-01", "gold_fact_orders")]


def test_a_configured_rule_for_a_tables_asset_replaces_its_derived_one():
    orders = next(t for t in DERIVED_TABLES if t.dataset == "silver_orders")
    own = DependencyRule(
        name="orders_by_hand", target="silver/orders", inputs=("order_events",), timeout_hours=2
    )
    assert derived_table_rules([orders], [own]) == []
    [derived] = derived_table_rules([orders], [])
    assert (derived.name, derived.timeout_hours, derived.on_timeout) == (
        "silver_orders",
        24,
        "wait",
    )
