"""The new sources' contracts as promotion applies them: a day of the orders change stream
whose events contradict each other is held back whole, a good day beside it is published."""

from __future__ import annotations

import json
from datetime import date

from lake_harness import Lake, failure_message

from lake_assets.contracts.model import CONTRACTS_DIR
from lake_assets.demo.medallion_data import order_event_days

GOOD, BAD = date(2026, 3, 2), date(2026, 3, 3)


def _events(day: date) -> list[dict]:
    [events] = [
        [e for part in parts for e in part] for parts in order_event_days(day, 1, 4).values()
    ]
    return events


def test_a_repeated_order_sequence_holds_its_day_and_the_good_day_publishes(tmp_path, spark):
    lake = Lake(tmp_path / "lake", contracts=CONTRACTS_DIR)  # the repository's contracts
    good, bad = _events(GOOD), _events(BAD)
    # Two versions of one order claiming the same place in its history: silver could not know
    # which is the order, so the day must not reach it.
    bad.append({**bad[0], "status": "cancelled", "changed_at": f"{BAD}T23:59:00Z"})
    for day, events in ((GOOD, good), (BAD, bad)):
        lines = "".join(json.dumps(e) + "\n" for e in events)
        lake.deliver("order_events", day.isoformat(), f"order_events-0-{day:%d}.json", lines)
        assert lake.profile("order_events", day.isoformat()).success

    result = lake.promote("order_events", GOOD.isoformat(), BAD.isoformat())

    assert not result.success  # the blocking rule stops the run: nothing downstream runs
    assert "order_seq_unique" in failure_message(result)
    [check] = [
        e.event_specific_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
        and e.event_specific_data.check_name == "contract_order_seq_unique"
        and e.event_specific_data.partition == BAD.isoformat()
    ]
    assert check.passed is False
    assert check.metadata["violating_rows"].value == 2  # both copies
    assert "the partition is not published" in check.description
    assert lake.catalog.current("order_events", BAD.isoformat()) is None
    published = lake.catalog.current("order_events", GOOD.isoformat())
    assert published is not None and published.row_count == len(good)
