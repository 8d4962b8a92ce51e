"""Small CUR deliveries for the CUR source's tests (test_cost_cur.py, the cost_cur job case of
test_spark_jobs.py): a generated month, a few costs made exact half-nano ties (where rounding
half-even differs from half-up), timestamps naive as AWS writes them."""

from __future__ import annotations

from decimal import Decimal

import pyarrow as pa

from lake_assets.cost.cur_data import generate_month
from lake_assets.cost.cur_delivery import delivery_objects

MONTH = "2026-11"
TIMESTAMPS = (
    "bill_billing_period_start_date",
    "line_item_usage_start_date",
    "line_item_usage_end_date",
)
# Dollar amounts exactly halfway between two nano-dollars: half-even rounds 0.5 and 2.5 down.
TIES = [float(Decimal(k) / Decimal(2 * 10**9)) for k in (1, 3, 5, 2_000_000_001, 123_456_789_013)]


def tiny_world(seed: int = 1, runs: int = 12, month: str = MONTH):
    """A small generated month (cur_data.generate_month): its CUR as generated and the drivers
    of the runs that caused it."""
    return generate_month(month, runs=runs, seed=seed, lines_per_run=3)


def tiny_cur(seed: int = 1, runs: int = 12, month: str = MONTH) -> pa.Table:
    cur = tiny_world(seed, runs, month).cur
    for column in ("line_item_unblended_cost", "line_item_net_unblended_cost"):
        costs = cur[column].to_numpy().copy()
        costs[: len(TIES)] = TIES
        cur = cur.set_column(cur.schema.get_field_index(column), column, pa.array(costs))
    for column in TIMESTAMPS:  # naive, UTC by convention, as a Data Export writes them
        naive = cur[column].cast(pa.timestamp("ms"))
        cur = cur.set_column(cur.schema.get_field_index(column), column, naive)
    return cur


def tiny_delivery(
    delivery_id: str,
    seed: int = 1,
    delivered_at: str = "2026-12-01T06:00:00+00:00",
    files_at: str | None = None,
):
    """A tiny month's CUR and its delivery's objects (keys relative to the export prefix; the
    manifest names the data files by URI under `files_at` when given, as AWS's do)."""
    cur = tiny_cur(seed)
    return cur, delivery_objects(cur, MONTH, delivery_id, delivered_at, files_at=files_at)


def costs_in_nanos(cur: pa.Table) -> list[int]:
    from lake_assets.cost.model import to_nanos

    return [to_nanos(x) for x in cur["line_item_unblended_cost"].to_pylist()]
