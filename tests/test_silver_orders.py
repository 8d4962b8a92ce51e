"""silver/orders: the current state of every order, merged incrementally from order_events.

The seq rule and tombstones on tiny frames (merge_orders), then one lake: days of changes
applied through the derived-layer step the asset runs (plan, the registered job, a publish per
order-date slice)."""

from __future__ import annotations

import json
from datetime import date, datetime

import pytest
from dagster import AssetKey
from lake_harness import failure_message

from lake_assets.cli.runs import recorded_partition
from lake_assets.ingestion.publish import PartialPublish
from lake_assets.layers.gate import InputState
from lake_assets.layers.step import run_step
from lake_assets.lineage.emitter import recorder_for
from lake_assets.runtime.jobs import run_job
from lake_assets.silver.orders import APPLIED, current_orders, merge_orders
from lake_assets.silver.orders_schema import ORDER_COLUMNS
from lake_assets.silver.orders_table import (
    NO_ORDER_DATE,
    SILVER_ORDERS,
    changes_per_order_date,
    read_current_orders,
)
from lake_assets.tables.reader import published_uris

EVENTS = "order_events"
ORDERS_ASSET = AssetKey(["silver", "orders"])
CHANGE_DDL = (
    "order_id string, op string, seq bigint, changed_at timestamp, order_date date, "
    "customer_id string, status string, amount double, currency string"
)


def change(order: str, seq: int, op: str = "update", status: str = "paid", **fields) -> dict:
    """One order_events record as the Kafka sink writes it; a delete carries only its key."""
    day = fields.pop("day", "2026-03-02")
    record = {
        "order_id": order,
        "op": op,
        "seq": seq,
        "changed_at": f"{day}T{seq:02d}:00:00Z",
        "order_date": fields.pop("order_date", "2026-03-01"),
    }
    if op != "delete":
        record |= {"customer_id": "C00001", "status": status, "amount": 120.5, "currency": "MYR"}
    return record | fields


def frame(spark, records: list[dict]):
    """Change records as the curated order_events rows they become."""
    columns = [part.split()[0] for part in CHANGE_DDL.split(", ")]
    typed = [
        {
            **r,
            "changed_at": datetime.fromisoformat(r["changed_at"]),
            "order_date": date.fromisoformat(r["order_date"]) if r["order_date"] else None,
        }
        for r in records
    ]
    return spark.createDataFrame([tuple(r.get(c) for c in columns) for r in typed], CHANGE_DDL)


def states(merged) -> dict:
    return {
        r["order_id"]: (r["seq"], r["status"], r["deleted"], r[APPLIED]) for r in merged.collect()
    }


def test_the_highest_seq_wins_and_a_tombstone_keeps_a_deleted_order_deleted(spark):
    state = merge_orders(None, frame(spark, [change("O1", 3, status="shipped"), change("O2", 1)]))
    assert set(state.columns) == {*ORDER_COLUMNS, APPLIED}
    day = [
        change("O1", 2, status="paid"),  # older than the state: ignored
        change("O2", 4, op="delete"),
        change("O2", 2, status="shipped"),  # older than the delete, in the same day
        change("O3", 3, status="shipped"),  # out of order within the day
        change("O3", 1, op="insert", status="placed"),
        change("O3", 2, status="paid"),
    ]
    merged = merge_orders(state.drop(APPLIED), frame(spark, day)).cache()
    assert states(merged) == {
        "O1": (3, "shipped", False, False),
        "O2": (4, None, True, True),
        "O3": (3, "shipped", False, True),
    }
    late = frame(spark, [change("O2", 3, status="delivered", day="2026-03-03")])
    after = merge_orders(merged.drop(APPLIED), late)
    assert states(after)["O2"] == (4, None, True, False), "an older change resurrected O2"
    assert sorted(r["order_id"] for r in current_orders(after).collect()) == ["O1", "O3"]
    # Replaying the day changes nothing, and says so.
    replayed = merge_orders(merged.drop(APPLIED), frame(spark, day))
    assert {k: v[:3] for k, v in states(replayed).items()} == {
        k: v[:3] for k, v in states(merged).items()
    }
    assert not any(v[3] for v in states(replayed).values())


def deliver_changes(lake, day: str, records: list[dict]) -> None:
    """A day's change records landed as one file, profiled and promoted into order_events."""
    lines = "".join(json.dumps(r) + "\n" for r in records)
    lake.deliver(EVENTS, day, f"orders-{day}-{len(records)}.json", lines)
    for step in (lake.profile, lake.promote):
        result = step(EVENTS, day)
        assert result.success, failure_message(result)


def build(lake, spark, day: str, run_id: str, run=None):
    """The derived-layer step of silver/orders for change day `day`, as the asset runs it."""
    return run_step(
        SILVER_ORDERS,
        day,
        run_id,
        [InputState(EVENTS, day, published=True)],
        lake.catalog,
        lake.storage,
        recorder_for(lake.lineage, lake.settings.state_dir, lake.storage.uri("")),
        run or (lambda job, plan: run_job(spark, job, plan)),
    )


def apply_day(lake, spark, day: str, run_id: str, run=None) -> list[str]:
    """The order dates the step published for `day`."""
    outcome = build(lake, spark, day, run_id, run)
    assert not outcome.held_by, outcome.held_by
    return [p.partition for p in outcome.published_slices]


def versions(lake) -> dict[str, str]:
    """The run that wrote each slice's current version (a version is `<run>-<change day>`: a
    range run writes each day's slices apart)."""
    return {
        p.partition: p.run_id[: -len("-2026-03-03")]
        for p in lake.catalog.partitions("silver_orders")
    }


def test_a_day_rewrites_only_the_order_dates_it_touches_and_a_replay_nothing(lake, spark):
    mon, tue, wed = "2026-03-02", "2026-03-03", "2026-03-04"
    old, recent = "2026-02-20", "2026-03-01"
    deliver_changes(
        lake,
        mon,
        [
            change("O1", 1, op="insert", status="placed", order_date=old),
            change("O2", 1, op="insert", status="placed", order_date=recent),
            change("O3", 1, op="insert", status="placed", order_date=mon),
        ],
    )
    # Monday through the asset, as a run records it: each slice it published, rows and run id.
    run = lake.materialize([ORDERS_ASSET], mon)
    assert run.success, failure_message(run)
    recorded = [
        found
        for event in run.all_events
        if (found := recorded_partition(event, ORDERS_ASSET)) and found[0] == mon
    ]
    assert len(recorded) == 1
    metadata = recorded[0][1]
    assert metadata["slices_published"] == [old, recent, mon]
    assert (metadata["rows_in"], metadata["rows_out"]) == ({EVENTS: 3}, 3)
    assert metadata["run_id"] == run.run_id
    monday = run.run_id
    tuesday = [
        change("O2", 3, status="shipped", order_date=recent, day=tue),  # before seq 2 in the file
        change("O2", 2, status="paid", order_date=recent, day=tue),
        change("O3", 4, op="delete", order_date=mon, day=tue),
        change("O4", 1, op="insert", status="placed", order_date=tue, day=tue),
        change("O5", 1, op="insert", status="placed", order_date=None, day=tue),  # no slice
    ]
    deliver_changes(lake, tue, tuesday)
    published_changes = lake.catalog.current(EVENTS, tue)
    assert changes_per_order_date(lake.storage, published_changes) == {
        recent: 2,
        mon: 1,
        tue: 1,
        NO_ORDER_DATE: 1,
    }
    assert apply_day(lake, spark, tue, "run-tue") == [recent, mon, tue]
    # The old order date was neither read nor rewritten: its version is Monday's.
    assert versions(lake) == {old: monday, recent: "run-tue", mon: "run-tue", tue: "run-tue"}

    # Replaying Tuesday publishes nothing new anywhere.
    assert apply_day(lake, spark, tue, "run-tue-again") == []
    assert set(versions(lake).values()) == {monday, "run-tue"}

    # Wednesday: an older change of the deleted order (it must not resurrect it) and a newer
    # change of O4, applied by two runs at once: the slower one is refused for O4's slice.
    # No order is placed on Wednesday: its slice is published empty, so gold builds the day.
    wednesday = [
        change("O3", 2, status="paid", order_date=mon, day=wed),
        change("O4", 2, status="paid", order_date=tue, day=wed),
    ]
    deliver_changes(lake, wed, wednesday)

    def unplanned(job: str, plan: dict) -> dict:
        """A plan that misses a slice the changes touch (order_events republished since)."""
        del plan["slices"][tue]
        return run_job(spark, job, plan)

    with pytest.raises(ValueError, match=f"partitions the plan does not name: {tue}"):
        build(lake, spark, wed, "run-unplanned", unplanned)
    assert versions(lake) == {old: monday, recent: "run-tue", mon: "run-tue", tue: "run-tue"}

    def racing(job: str, plan: dict) -> dict:
        """The slow run's job, after the slow run read the slices and before it publishes:
        the fast run applies the whole day meanwhile."""
        assert plan["slices"][wed] == []  # no version yet
        assert sorted(plan["slices"]) == [mon, tue, wed]
        assert apply_day(lake, spark, wed, "run-fast") == [tue, wed]
        return run_job(spark, job, plan)

    with pytest.raises(PartialPublish, match=f"publishing {tue} failed"):
        build(lake, spark, wed, "run-slow", racing)
    assert versions(lake) == {
        old: monday,
        recent: "run-tue",
        mon: "run-tue",
        tue: "run-fast",
        wed: "run-fast",
    }
    empty = lake.catalog.current("silver_orders", wed)
    assert empty.row_count == 0
    assert len(published_uris(lake.storage, empty)) == 1  # the schema's file: readable
    assert lake.rows(spark, "silver_orders", [wed]).count() == 0
    # Applied again, Wednesday finds its slice published and opens nothing.
    assert apply_day(lake, spark, wed, "run-wed-again") == []
    rows = read_current_orders(spark, lake.catalog, lake.storage).collect()
    assert sorted((r["order_id"], r["status"], r["seq"]) for r in rows) == [
        ("O1", "placed", 1),
        ("O2", "shipped", 3),
        ("O4", "paid", 2),
    ]
    tombstone = lake.rows(spark, "silver_orders", [mon]).where("order_id = 'O3'").first()
    assert (tombstone["deleted"], tombstone["seq"]) == (True, 4)


def silver_lake(tmp_path, spark):
    """A lake under silver's shipped contracts alone (bronze's would hold the orders first),
    its silver_customer of 2026-03-02 published (gold_inputs.CUSTOMERS)."""
    import shutil

    from gold_inputs import CUSTOMER_COLUMNS, CUSTOMERS, publish_rows
    from lake_harness import Lake

    from lake_assets.settings import DEFAULT_CONTRACTS_DIR

    contracts = tmp_path / "contracts"
    contracts.mkdir()
    for name in ("silver_orders.yaml", "silver_customer.yaml"):
        shutil.copy(DEFAULT_CONTRACTS_DIR / name, contracts / name)
    lake = Lake(tmp_path / "lake", contracts)
    publish_rows(lake, spark, "silver_customer", CUSTOMERS, CUSTOMER_COLUMNS, "silver-1")
    return lake


def test_an_order_whose_customer_silver_no_longer_holds_holds_the_day_under_the_shipped_contract(
    tmp_path, spark
):
    """config/contracts/silver_orders.yaml's `customer_known` (ADR-0167), through Dagster: the
    day's conformed customers lack C00007, whom an order names; the day is held naming the
    rule and its one orphan (a tombstone's null customer is none), nothing is published; once
    silver_customer holds C00007, the same day publishes."""
    from gold_inputs import CUSTOMER_COLUMNS, CUSTOMERS, customer, publish_rows

    lake = silver_lake(tmp_path, spark)
    mon = "2026-03-02"
    deliver_changes(
        lake,
        mon,
        [
            change("O1", 1, op="insert", status="placed", customer_id="C00001"),
            change("O2", 1, op="insert", status="placed", customer_id="C00007"),
            change("O3", 2, op="delete", order_date=mon),
        ],
    )
    held = lake.materialize([ORDERS_ASSET], mon)
    assert not held.success
    check = next(
        c for c in held.get_asset_check_evaluations() if c.check_name == "contract_customer_known"
    )
    assert not check.passed
    assert "2026-03-02: 1 violating rows, customer_id not in silver_customer: C00007;" in (
        check.description
    )
    assert lake.catalog.partitions("silver_orders") == []
    with_seven = [*CUSTOMERS, customer(7, "retail")]  # C00007
    publish_rows(lake, spark, "silver_customer", with_seven, CUSTOMER_COLUMNS, "silver-2")
    built = lake.materialize([ORDERS_ASSET], mon)
    assert built.success, failure_message(built)
    assert sorted(p.partition for p in lake.catalog.partitions("silver_orders")) == [
        "2026-03-01",
        mon,
    ]
