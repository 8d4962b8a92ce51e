"""A year-long backfill as one run equals the daily runs, and re-running it doubles nothing.
Its own file: the suite's longest test, so the pytest workers can balance around it."""

from __future__ import annotations

from datetime import date, timedelta

from lake_harness import failure_message
from test_backfill_and_contracts_e2e import profile_all, rows_of


def test_a_year_long_single_run_backfill_equals_the_daily_runs(lake, spark):
    days = [date(2025, 1, 1) + timedelta(days=n) for n in range(365)]
    for number, day in enumerate(days):
        lake.deliver_cards(day.isoformat(), range(number * 3, number * 3 + 3))
    profile_all(lake)

    year = lake.promote("card_transactions", "2025-01-01", "2025-12-31")
    assert year.success, failure_message(year)
    # One run, one step for the year (the unpartitioned checks of the asset, e.g. its generated
    # pipeline's drift check, run once beside it).
    steps = [r.step_key for r in year.all_events if r.is_step_start]
    assert steps.count("curated__card_transactions") == 1, steps
    published = lake.catalog.partitions("card_transactions")
    assert [p.partition for p in published] == [d.isoformat() for d in days]
    backfilled = rows_of(lake, spark)
    assert len(backfilled) == 365 * 3 and len({r[0] for r in backfilled}) == 365 * 3

    # The daily run is the same code over a one-day window: same rows, partition by partition.
    sample = ["2025-01-01", "2025-02-28", "2025-03-01", "2025-06-30", "2025-12-31"]
    for day in sample:
        assert lake.promote("card_transactions", day).success
    assert rows_of(lake, spark, sample) == [r for r in backfilled if r[4].isoformat() in sample]

    # Running the same range again republishes it: same rows, no duplicates.
    assert lake.promote("card_transactions", "2025-01-01", "2025-12-31").success
    assert rows_of(lake, spark) == backfilled
