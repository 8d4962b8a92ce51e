"""Demo deliveries of the pushed medallion sources: the orders change stream and vendor FX rates.

Deterministic for a given seed, and small (about a hundred change events a day), with the
realities silver must handle:
- order_events: inserts, updates (each carrying the whole order) and deletes (carrying only the
  key), the events of one order shuffled across a day's part files as a Kafka sink drops them,
  changes to orders placed on earlier days, and one older change delivered the day AFTER a
  newer change of its order (silver must never let it overwrite the newer state);
- fx_rates: one CSV per Malaysian business day for each base currency to MYR, none on
  Saturdays, Sundays and a declared public holiday, rates a random walk from plausible levels.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path

from lake_assets.demo.demo_data import DemoDelivery, write_csv

# Levels near recent reference rates: 1 base currency = this many MYR.
FX_LEVELS = {
    "USD": 4.21,
    "SGD": 3.25,
    "EUR": 4.88,
    "GBP": 5.61,
    "THB": 0.1295,
    "IDR": 0.000262,
}
FX_DAILY_VOLATILITY = 0.004  # a 0.4% standard deviation per business day
ORDER_CURRENCIES = ("MYR", "MYR", "MYR", "MYR", "SGD", "USD")
# The statuses an open order moves through; a placed or paid order may be cancelled instead.
NEXT_STATUS = {"placed": "paid", "paid": "shipped", "shipped": "delivered"}
CLOSED = ("delivered", "cancelled")
PART_FILES = 3  # the sink's files per day (one per Kafka partition flushed)


# --- fx_rates ----------------------------------------------------------------------------------


def business_start(start: date) -> date:
    """`start`, or the Friday before it when it falls on a weekend. Vendor FX rates exist on
    business days only and silver carries the last one forward: a window opening on a weekend
    would have no rate to carry on its first days (silver_fx_rates fails: FxGapTooLong)."""
    return start - timedelta(days=max(0, start.weekday() - 4))


def demo_start(today: date, days: int) -> date:
    """The first day of a demo of the `days` days before `today`: `business_start` of it, then
    a business day further back at a time until the window holds a day to stage the FX failure
    on (`staged_days`). A Friday's wrong rate, carried over the weekend, would fail three silver
    days and spend the SLO's whole budget, where the demo shows it burning fast."""
    start = business_start(today - timedelta(days=days))
    while not staged_days(start, (today - start).days):
        start = business_start(start - timedelta(days=1))
    return start


def staged_days(start: date, days: int) -> list[date]:
    """The window's days whose rate no later day of it carries: rate days that are the window's
    last or are followed by another rate day. A wrong rate on one fails one silver day."""
    rates = window_fx_rates(start, days)
    last = start + timedelta(days=days - 1)
    return [day for day in rates if day == last or day + timedelta(days=1) in rates]


def window_fx_rates(start: date, days: int) -> dict[date, list[dict]]:
    """The vendor's rates of a demo window: its business days but the holiday it declares."""
    holiday = declared_holiday(start, days)
    return fx_rate_days(start, days, frozenset({holiday} - {None}))


def declared_holiday(start: date, days: int) -> date | None:
    """The public holiday the demo declares inside its window (a cuti peristiwa, as Malaysia
    declares at short notice): the window's second weekday, so a rate precedes the gap; None
    when the window has fewer than three weekdays."""
    weekdays = [d for d in _days(start, days) if d.weekday() < 5]
    return weekdays[1] if len(weekdays) >= 3 else None


def fx_rate_days(
    start: date, days: int, holidays: frozenset[date] = frozenset(), seed: int = 11
) -> dict[date, list[dict]]:
    """The vendor's rates per business day of the window (weekends and `holidays` have none):
    each base currency to MYR, a multiplicative random walk from FX_LEVELS."""
    rng = random.Random(seed)
    level = dict(FX_LEVELS)
    files = {}
    for day in _days(start, days):
        if day.weekday() >= 5 or day in holidays:
            continue
        for currency in level:
            level[currency] *= 1 + rng.gauss(0, FX_DAILY_VOLATILITY)
        files[day] = [
            {
                "rate_date": day.isoformat(),
                "base_currency": currency,
                "quote_currency": "MYR",
                "rate": float(f"{rate:.6g}"),  # six significant digits, as vendors publish
            }
            for currency, rate in level.items()
        ]
    return files


# --- order_events ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Order:
    order_id: str
    customer_id: str
    order_date: date
    amount: float
    currency: str
    status: str = "placed"
    seq: int = 1


def _event(order: Order, op: str, at: datetime) -> dict:
    """A change event as the sink writes it: deletes carry only the key and order_date."""
    whole = op != "delete"
    return {
        "order_id": order.order_id,
        "op": op,
        "seq": order.seq,
        "changed_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "order_date": order.order_date.isoformat(),
        "customer_id": order.customer_id if whole else None,
        "status": order.status if whole else None,
        "amount": order.amount if whole else None,
        "currency": order.currency if whole else None,
    }


def _changes_of_a_day(
    rng: random.Random, day: date, open_orders: dict[str, Order], placed: int, number: int
) -> tuple[list[dict], int]:
    """The day's events: `placed` new orders, and each open order (placed today or earlier)
    moving on, cancelled or deleted with some chance. Events of one order keep their seq order
    in time; `open_orders` is updated in place. Returns the events and the last order number."""
    events = []
    for _ in range(placed):
        number += 1
        order = Order(
            order_id=f"O{number:07d}",
            customer_id=f"C{rng.randrange(1, 60):05d}",  # C00060 closes for a day: never used
            order_date=day,
            amount=round(rng.uniform(20, 1_500), 2),
            currency=rng.choice(ORDER_CURRENCIES),
        )
        open_orders[order.order_id] = order
        events.append((order, "insert"))
    for order_id in sorted(open_orders):
        order = open_orders[order_id]
        for _ in range(rng.choice((0, 1, 1, 2))):  # changes today
            chance = rng.random()
            if chance < 0.04:  # a test order or a duplicate purchase, removed at the source
                op, order = "delete", replace(order, seq=order.seq + 1)
            elif chance < 0.1 and order.status in ("placed", "paid"):
                op, order = "update", replace(order, status="cancelled", seq=order.seq + 1)
            else:
                op, order = (
                    "update",
                    replace(order, status=NEXT_STATUS[order.status], seq=order.seq + 1),
                )
            events.append((order, op))
            if op == "delete" or order.status in CLOSED:
                del open_orders[order_id]
                break
            open_orders[order_id] = order
    # Times increase with seq per order: an order's events of the day get sorted instants.
    midnight = datetime(day.year, day.month, day.day)
    count = {order.order_id: 0 for order, _ in events}
    for order, _ in events:
        count[order.order_id] += 1
    instants = {oid: sorted(rng.sample(range(86_400), n)) for oid, n in count.items()}
    stamped = [
        _event(order, op, midnight + timedelta(seconds=instants[order.order_id].pop(0)))
        for order, op in events
    ]
    return stamped, number


def order_event_days(
    start: date, days: int, placed_per_day: int = 40, seed: int = 13
) -> dict[date, list[list[dict]]]:
    """Each ingest day's part files of change events, shuffled as the sink drops them. One
    update is held back a day: it arrives the day after its order's next change."""
    rng = random.Random(seed)
    open_orders: dict[str, Order] = {}
    number = 0
    late: list[dict] = []
    delivered = {}
    for day in _days(start, days):
        events, number = _changes_of_a_day(rng, day, open_orders, placed_per_day, number)
        if day == start and days > 1:
            late = [_held_back(events)]  # delivered with the next day's files
            events = [e for e in events if e is not late[0]]
        elif late:
            events, late = events + late, []
        rng.shuffle(events)
        size = -(-len(events) // PART_FILES)  # ceiling: every part file holds something
        delivered[day] = [events[i : i + size] for i in range(0, len(events), size)]
    return delivered


def _held_back(events: list[dict]) -> dict:
    """An update followed by a newer change of its order the same day: the older one is late."""
    for event in events:
        if event["op"] == "update" and any(
            e["order_id"] == event["order_id"] and e["seq"] > event["seq"] for e in events
        ):
            return event
    raise ValueError("no order changed twice on the day: nothing to hold back")


# --- files -------------------------------------------------------------------------------------


def generate_medallion(out_dir: Path, start: date, days: int) -> list[DemoDelivery]:
    """Write each day's order_events part files and fx_rates file under out_dir/<ingest date>/
    and list them in delivery order."""
    fx = window_fx_rates(start, days)
    deliveries = []
    offset = 0
    for day, parts in order_event_days(start, days).items():
        folder = out_dir / day.isoformat()
        folder.mkdir(parents=True, exist_ok=True)
        for part, events in enumerate(parts):
            # Named after the sink's objects (topic, partition, start offset), without the `+`
            # signs an S3 event notification would encode.
            path = folder / f"order_events-{part}-{offset:010d}.json"
            path.write_text("".join(json.dumps(e) + "\n" for e in events))
            deliveries.append(DemoDelivery("order_events", day.isoformat(), path))
            offset += len(events)
        if day in fx:
            path = write_csv(folder / f"fx_rates_{day:%Y%m%d}.csv", fx[day])
            deliveries.append(DemoDelivery("fx_rates", day.isoformat(), path))
    return deliveries


def _days(start: date, days: int) -> list[date]:
    return [start + timedelta(days=n) for n in range(days)]
