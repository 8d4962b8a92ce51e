"""The demo's orders change stream and FX rates have the realities silver is built for. Pure:
no Spark, no Dagster."""

from __future__ import annotations

import csv
from collections import defaultdict
from datetime import date

import pytest

from lake_assets.demo.medallion_data import (
    FX_LEVELS,
    business_start,
    declared_holiday,
    demo_start,
    fx_rate_days,
    generate_medallion,
    order_event_days,
    staged_days,
)

START = date(2026, 11, 26)  # a Thursday: the window holds a weekend
WHOLE_ORDER = {"customer_id", "status", "amount", "currency"}


def test_fx_rates_only_on_business_days_every_currency_to_myr_near_its_level():
    holiday = declared_holiday(START, 6)
    assert holiday == date(2026, 11, 27)  # the second weekday: Thursday's rate precedes the gap
    rates = fx_rate_days(START, 6, frozenset({holiday}))
    assert sorted(rates) == [date(2026, 11, 26), date(2026, 11, 30), date(2026, 12, 1)]
    for day, rows in rates.items():
        assert [(r["rate_date"], r["base_currency"], r["quote_currency"]) for r in rows] == [
            (day.isoformat(), currency, "MYR") for currency in FX_LEVELS
        ]
        for row in rows:  # a random walk of a few days stays within a few percent
            assert abs(row["rate"] / FX_LEVELS[row["base_currency"]] - 1) < 0.05, row
    assert fx_rate_days(START, 6, frozenset({holiday})) == rates  # deterministic
    assert declared_holiday(date(2026, 11, 28), 3) is None  # Sat..Mon: no gap to declare


def test_a_demo_window_opens_on_a_business_day_so_its_first_day_has_a_rate():
    saturday, sunday, monday = date(2026, 11, 28), date(2026, 11, 29), date(2026, 11, 30)
    assert [business_start(d) for d in (saturday, sunday, monday)] == [
        date(2026, 11, 27),
        date(2026, 11, 27),
        monday,
    ]
    assert date(2026, 11, 27) in fx_rate_days(business_start(saturday), 7)


def test_order_events_carry_the_changes_silver_must_apply_in_sequence():
    days = order_event_days(START, 4, placed_per_day=15)
    assert days == order_event_days(START, 4, placed_per_day=15)  # deterministic
    delivered_on = {}  # (order_id, seq) -> ingest day
    events = []
    for day, parts in days.items():
        assert len(parts) == 3 and all(parts)  # several part files a day
        assert 15 <= sum(map(len, parts)) <= 300
        for part in parts:
            for event in part:
                delivered_on[event["order_id"], event["seq"]] = day
                events.append(event)
    assert len(delivered_on) == len(events)  # (order_id, seq) is unique
    assert {e["op"] for e in events} == {"insert", "update", "delete"}
    for event in events:
        carried = {k for k in WHOLE_ORDER if event[k] is not None}
        assert carried == (set() if event["op"] == "delete" else WHOLE_ORDER), event

    by_order = defaultdict(list)
    for event in events:
        by_order[event["order_id"]].append(event)
    for changes in by_order.values():  # each order's history: seq 1, 2, ... in time order
        in_time = sorted(changes, key=lambda e: e["changed_at"])
        assert [e["seq"] for e in in_time] == list(range(1, len(changes) + 1))
    # Changes to orders placed on earlier days.
    assert any(e["changed_at"][:10] > e["order_date"] for e in events)
    # Shuffled: some order's events are not in seq order within the day's files.
    first_day = [e for part in days[START] for e in part]
    assert any(
        a["order_id"] == b["order_id"] and a["seq"] > b["seq"]
        for i, a in enumerate(first_day)
        for b in first_day[i + 1 :]
    )
    # Exactly one older change arrives the day after a newer change of its order.
    late = [
        (order_id, seq)
        for (order_id, seq), day in delivered_on.items()
        if any(
            later_seq > seq and later_day < day
            for (other, later_seq), later_day in delivered_on.items()
            if other == order_id
        )
    ]
    assert len(late) == 1
    [(order_id, seq)] = late
    [event] = [e for e in events if (e["order_id"], e["seq"]) == (order_id, seq)]
    assert (event["op"], event["changed_at"][:10]) == ("update", START.isoformat())
    assert delivered_on[order_id, seq] == date(2026, 11, 27)


def test_the_files_land_per_ingest_day_with_no_fx_file_on_a_weekend(tmp_path):
    deliveries = generate_medallion(tmp_path, START, 4)
    fx_days = [d.ingest_date for d in deliveries if d.source_id == "fx_rates"]
    assert fx_days == [
        "2026-11-26",
        "2026-11-27",
    ]  # Thu, Fri; Sat, Sun none (two weekdays: no holiday)
    with open(tmp_path / "2026-11-26" / "fx_rates_20261126.csv") as handle:
        assert next(csv.reader(handle)) == ["rate_date", "base_currency", "quote_currency", "rate"]
    orders = [d for d in deliveries if d.source_id == "order_events"]
    assert len(orders) == 12 and all(d.path.parent.name == d.ingest_date for d in orders)


@pytest.mark.parametrize(
    "today, days, start, staged",
    [
        # A Sunday's two days are Friday and Saturday: Friday's rate is carried over Saturday,
        # so the window opens on Thursday, whose rate Friday's replaces.
        ("2026-12-06", 2, "2026-12-03", "2026-12-03"),
        # A Monday's: back to Thursday too (Friday's is carried over the weekend).
        ("2026-12-07", 2, "2026-12-03", "2026-12-03"),
        # A Tuesday's open on Friday (the weekend's first day), Monday is the last.
        ("2026-12-08", 2, "2026-12-04", "2026-12-07"),
        # The six days of `make demo` on a Sunday: Monday, the holiday Tuesday, then Wednesday
        # to Friday; Thursday is the latest whose rate nothing carries.
        ("2026-12-06", 6, "2026-11-30", "2026-12-03"),
    ],
)
def test_a_demo_window_holds_a_day_to_stage_its_fx_failure_on(today, days, start, staged):
    """One silver day fails the treasury band whatever weekday `make demo` runs on: a Friday's
    wrong rate, carried over the weekend, would fail three and spend the SLO's budget outright
    (the dashboard test expects it burning fast)."""
    first = demo_start(date.fromisoformat(today), days)
    assert first.isoformat() == start
    length = (date.fromisoformat(today) - first).days
    assert max(staged_days(first, length)).isoformat() == staged
