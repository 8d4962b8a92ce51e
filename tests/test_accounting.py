"""Every received row is accounted for: found by promotion wherever it lands, and reconciled."""

from __future__ import annotations

import json
from datetime import date, timedelta

from lake_harness import card, failure_message

from lake_assets.ingestion.late_arrivals import late_arrivals
from lake_assets.ingestion.publish import read_manifest


def _lines(records) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def test_a_malformed_line_in_a_file_delivered_after_its_event_date_is_quarantined(lake, spark):
    # Records of March 2 delivered on March 5 (inside the lookback), with one unparseable line:
    # the line has no event date, so it belongs to the file's ingest date, March 5.
    body = _lines([card(n, "2026-03-02") for n in range(3)]) + "{not json\n"
    lake.deliver("card_transactions", "2026-03-05", "late-with-junk.json", body)
    assert lake.profile("card_transactions", "2026-03-05").success

    # The daily run of March 5 alone covers the ingest date but not the event date.
    result = lake.promote("card_transactions", "2026-03-05")
    assert result.success, failure_message(result)
    march5 = lake.catalog.current("card_transactions", "2026-03-05")
    assert read_manifest(lake.storage, march5)["rows_quarantined"] == 1
    [bad] = spark.read.parquet(lake.storage.uri("quarantine/card_transactions/")).collect()
    assert "malformed record" in bad["_reject_reasons"]

    assert lake.promote("card_transactions", "2026-03-02").success
    assert lake.catalog.current("card_transactions", "2026-03-02").row_count == 3


def test_a_file_spanning_more_than_400_event_dates_feeds_every_one_of_them(lake, spark):
    last = date(2026, 4, 5)
    days = [(last - timedelta(days=i)).isoformat() for i in range(460)][::-1]
    lake.deliver(
        "card_transactions",
        last.isoformat(),
        "history-dump.json",
        _lines(card(n, day) for n, day in enumerate(days)),
    )
    assert lake.profile("card_transactions", last.isoformat()).success

    daily = lake.promote("card_transactions", "2026-04-02", last.isoformat())
    assert daily.success, failure_message(daily)
    assert lake.catalog.current("card_transactions", "2026-04-02").row_count == 1
    # Everything older than the lookback is held as late, up to the 457th date.
    [held] = late_arrivals(lake.storage, "card_transactions")
    assert len(held.event_dates) == 456 and held.event_dates[-1] == "2026-04-01"

    assert lake.promote("card_transactions", "2026-04-01").success
    assert lake.catalog.current("card_transactions", "2026-04-01").row_count == 1


def test_a_promotion_profiles_raw_objects_nobody_profiled_yet(lake, spark):
    header = "customer_id,segment,snapshot_date\n"
    lake.deliver("customers", "2026-03-02", "c.csv", header + "C001,retail,2026-03-02\n")
    assert lake.profile("customers", "2026-03-02").success
    assert lake.promote("customers", "2026-03-02").success

    # A correction of March 2 lands on March 3 and nobody runs `lake profile`.
    lake.deliver("customers", "2026-03-03", "c-fixed.csv", header + "C001,private,2026-03-02\n")
    result = lake.promote("customers", "2026-03-02")
    assert result.success, failure_message(result)

    [row] = lake.rows(spark, "customers", ["2026-03-02"]).collect()
    assert row["segment"] == "private"
    assert all(r.status == "PROFILED" for r in lake.registry.raw_files("customers"))
