"""silver/orders: the current state of every order, merged incrementally from order_events.

The seq rule and tombstones on tiny frames (merge_orders), then one lake: days of changes
applied through the plan, the registered job and the publish the asset runs, slice by slice."""

from __future__ import annotations

from datetime import date, datetime

from lake_assets.silver.orders import APPLIED, ORDER_COLUMNS, current_orders, merge_orders

EVENTS = "order_events"
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
