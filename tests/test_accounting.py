"""Every received row is accounted for: found by promotion wherever it lands, and reconciled."""

from __future__ import annotations

import json
from datetime import date, timedelta

from lake_harness import card, failure_message

from lake_assets.ingestion.late_arrivals import late_arrivals
from lake_assets.tables.manifest import read_manifest


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


# --- the index keeps rows per event date ---------------------------------------------------


def test_profiling_counts_rows_per_date_and_the_index_keeps_every_date(tmp_path):
    from lake_assets.ingestion.event_dates import decode_runs, encode_runs, index_event_dates
    from lake_assets.ingestion.profiling import MAX_DATES, profile_file

    days = [(date(2025, 1, 1) + timedelta(days=i)).isoformat() for i in range(MAX_DATES + 50)]
    records = [{"at": f"{day}T10:00:00Z"} for day in days]
    records += [{"at": "2026-06-01T23:30:00-05:00"}] * 3  # June 2 in UTC
    records += [{"at": None}, {"at": "2026-02-30T10:00:00Z"}]
    path = tmp_path / "dump.json"
    path.write_text(_lines(records) + "not json\n")

    profile = profile_file(path, "json")
    assert len(profile.field("at").dates) == MAX_DATES  # the registry's profile stays small
    counted = dict(profile.date_rows["at"])
    assert counted["2026-06-02"] == 3 and counted["2025-01-01"] == 1
    assert len(counted) == MAX_DATES + 52

    runs = index_event_dates(profile.date_rows, "at")["at"]
    assert len(runs) == 2  # 450 consecutive days in one run, June 2 in another
    indexed = decode_runs(runs)
    assert "2026-02-30" not in indexed  # not a calendar date: promotion cannot read it either
    assert sum(indexed.values()) == MAX_DATES + 53
    assert encode_runs(tuple(sorted(indexed.items()))) == runs


# --- the reconciliation, on index records ----------------------------------------------------


def _source(delivery="events"):
    from lake_assets.settings import SourceConfig

    return SourceConfig("cards", "json", "booked_at", delivery=delivery)


def _version():
    from lake_assets.ingestion.schema_versions import FieldDiff, SchemaVersion

    return SchemaVersion(
        "cards", "v1", {"booked_at": "timestamp"}, FieldDiff(), "ACTIVE", "FULL", "t", "f"
    )


def _file(key, ingest_date, rows, status="PROFILED", malformed=0, landed=None):
    from lake_assets.ingestion.event_dates import encode_runs
    from lake_assets.ingestion.raw_zone import RawFile

    return RawFile(
        source_id="cards",
        key=key,
        etag="e",
        ingest_date=ingest_date,
        size=1,
        status=status,
        profiled_at="2026-03-09T00:00:00",
        landed_at=landed,
        version="v1",
        row_count=sum(rows.values()),
        malformed_rows=malformed,
        date_rows={"booked_at": encode_runs(tuple(sorted(rows.items())))},
    )


def test_every_row_is_in_exactly_one_place_and_a_lost_row_shows():
    from lake_assets.ingestion.late_arrivals import LateArrival
    from lake_assets.ingestion.reconciliation import PartitionCount, reconcile

    files = [
        _file("a", "2026-03-02", {"2026-03-02": 10}),
        _file("b", "2026-03-05", {"2026-03-02": 2, "2026-02-01": 4}, malformed=1),
        _file("c", "2026-03-06", {"2026-03-06": 7}),  # profiled, not yet promoted
        _file("dup", "2026-03-02", {"2026-03-02": 10}, status="DUPLICATE"),
        _file("aside", "2026-03-03", {"2026-03-03": 5}, status="SET_ASIDE", malformed=1),
        _file("gz", "2026-03-03", {}, status="DEAD_LETTER"),
    ]
    published = [
        PartitionCount("2026-03-02", 11, 1, ("a", "b")),
        PartitionCount("2026-03-05", 0, 1, ("b",)),  # b's malformed line
    ]
    late = [LateArrival("cards", "b", "2026-03-05", ("2026-02-01",), "t")]

    account = reconcile(_source(), [_version()], files, published, late, unprofiled_files=2)
    assert (account.received, account.published, account.quarantined) == (40, 11, 2)
    assert (account.held_late, account.not_yet_promoted) == (4, {"2026-03-06": 7})
    assert (account.duplicate, account.set_aside) == (10, 6)
    assert (account.dead_lettered_files, account.unprofiled_files) == (1, 2)
    assert account.balanced and account.difference == 0
    assert account.lines()[-1].endswith("difference 0: balanced")

    # A published row goes missing: the total and the partition say so.
    published[0] = PartitionCount("2026-03-02", 10, 1, ("a", "b"))
    lost = reconcile(_source(), [_version()], files, published, late)
    assert lost.difference == 1 and lost.partition_differences == {"2026-03-02": 1}
    assert not lost.balanced and "DOES NOT BALANCE" in lost.lines()[-2]
    # A file set aside after it was published is counted twice until the partition is rebuilt.
    files[0] = _file("a", "2026-03-02", {"2026-03-02": 10}, status="SET_ASIDE")
    doubled = reconcile(_source(), [_version()], files, published, late)
    assert doubled.difference == -9 and doubled.partition_differences == {"2026-03-02": -9}


def test_a_snapshot_day_delivered_again_replaces_the_earlier_file():
    from lake_assets.ingestion.reconciliation import PartitionCount, reconcile

    first = _file("first", "2026-03-02", {"2026-03-02": 60}, landed="2026-03-02T23:00:00")
    again = _file("again", "2026-03-05", {"2026-03-02": 60}, landed="2026-03-05T23:00:00")
    account = reconcile(
        _source("snapshot"),
        [_version()],
        [first, again],
        [PartitionCount("2026-03-02", 60, 0, ("again",))],
        [],
    )
    assert (account.received, account.replaced, account.not_yet_promoted) == (120, 60, {})
    assert account.balanced
    # Before the correction is promoted it is pending, and the earlier file still published.
    account = reconcile(
        _source("snapshot"),
        [_version()],
        [first, again],
        [PartitionCount("2026-03-02", 60, 0, ("first",))],
        [],
    )
    assert account.not_yet_promoted == {"2026-03-02": 60} and account.balanced


# --- the reconciliation, in a lake fed odd input ----------------------------------------------


def test_the_rows_of_a_lake_fed_odd_input_balance_exactly(lake, spark, monkeypatch, capsys):
    from dataclasses import replace

    from lake_assets.cli.main import main
    from lake_assets.ingestion.event_dates import encode_runs
    from lake_assets.ingestion.raw_zone import RawFile

    lake.deliver_cards("2026-03-02", range(0, 21), bad_amounts={3})  # a quarantined value
    # Delivered three days late with a malformed line, which belongs to March 5.
    body = _lines([card(n, "2026-03-02") for n in range(5, 7)]) + "{not json\n"
    lake.deliver("card_transactions", "2026-03-05", "late-with-junk.json", body)
    # 405 event dates: the 401 before the lookback window are held as a late arrival.
    days = [(date(2026, 3, 5) - timedelta(days=i)).isoformat() for i in range(405)]
    lake.deliver(
        "card_transactions",
        "2026-03-05",
        "dump.json",
        _lines(card(100 + n, day) for n, day in enumerate(days)),
    )
    lake.deliver("card_transactions", "2026-03-05", "batch.json.gz", b"\x1f\x8b\x08\x00\xff\xfe")
    # Promotion profiles what nobody profiled yet, then promotes the daily window of March 5.
    daily = lake.promote("card_transactions", "2026-03-02", "2026-03-05")
    assert daily.success, failure_message(daily)
    lake.deliver_cards("2026-03-06", range(600, 604))  # delivered, not yet promoted
    assert lake.profile("card_transactions", "2026-03-06").success
    lake.deliver_cards("2026-03-06", range(700, 702), name="unprofiled.json")
    # Files other tools keep out of promotion: a re-delivered copy and one an operator set aside.
    for status, rows in (("DUPLICATE", 5), ("SET_ASIDE", 3)):
        lake.registry.put_raw_file(
            RawFile(
                source_id="card_transactions",
                key=f"raw/source=card_transactions/ingest_date=2026-03-06/{status}.json",
                etag="x",
                ingest_date="2026-03-06",
                size=1,
                status=status,
                profiled_at="2026-03-06T10:00:00",
                row_count=rows,
                malformed_rows=1,
                date_rows={"transaction_date": encode_runs((("2026-03-06", rows),))},
            )
        )
    # A customer snapshot corrected by a second delivery of the same day.
    header = "customer_id,segment,snapshot_date\n"
    lake.deliver("customers", "2026-03-02", "c.csv", header + "C001,retail,2026-03-02\n")
    lake.deliver("customers", "2026-03-03", "c-fix.csv", header + "C001,private,2026-03-02\n")
    assert lake.promote("customers", "2026-03-02").success

    monkeypatch.setenv("LAKE_ROOT", str(lake.root))
    monkeypatch.setenv("LAKE_CONTRACTS_DIR", str(lake.settings.contracts_dir))
    from lake_assets.ingestion.reconciliation import reconcile_source

    def account(sid):
        source = lake.settings.source(sid)
        return reconcile_source(source, lake.storage, lake.registry, lake.catalog)

    cards = account("card_transactions")
    assert cards.received == 21 + 3 + 405 + 4 + 6 + 4
    # March 2: 20 of file one, 2 of the late file, 1 of the dump; March 3..5: one each of the dump.
    assert (cards.published, cards.quarantined) == (23 + 3, 1 + 1)
    assert cards.held_late == 401 and cards.not_yet_promoted == {"2026-03-06": 4}
    assert (cards.duplicate, cards.set_aside) == (6, 4)
    assert (cards.dead_lettered_files, cards.unprofiled_files) == (1, 1)
    assert cards.balanced, cards.lines()
    customers = account("customers")
    assert (customers.received, customers.published, customers.replaced) == (2, 1, 1)
    assert customers.balanced, customers.lines()
    assert main(["status"]) == 0
    assert capsys.readouterr().out.count("difference 0: balanced") == 5  # one per source

    # A published row lost (the catalog's count of March 3 lowered) shows as a difference.
    march3 = lake.catalog.current("card_transactions", "2026-03-03")
    lake.catalog.publish(replace(march3, row_count=0))
    lost = account("card_transactions")
    assert lost.difference == 1 and lost.partition_differences == {"2026-03-03": 1}
    assert main(["status"]) == 1
    out = capsys.readouterr().out
    assert "difference 1: DOES NOT BALANCE" in out and "2026-03-03: its raw files hold +1" in out
