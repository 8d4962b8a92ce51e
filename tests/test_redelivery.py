"""A re-sent file is recognised by its bytes: kept in raw, recorded as a duplicate, never promoted."""

from __future__ import annotations

import json
import threading
from dataclasses import replace

import pytest

from lake_assets.cli.main import main
from lake_assets.ingestion.intake import land_payload, pending_objects, profile_objects
from lake_assets.settings import ConfigError, load_sources

DAY = "2026-03-02"
CARDS_PREFIX = f"raw/source=card_transactions/ingest_date={DAY}/"


def cards(count: int, day: str = DAY) -> str:
    return "".join(
        json.dumps(
            {"transaction_id": f"T{i}", "amount": 1.5, "transaction_date": f"{day}T10:00:00Z"}
        )
        + "\n"
        for i in range(count)
    )


def _index_of(res) -> dict:
    return {"registry": res["registry"], "notifier": res["notifier"]}


def _index(res, source="card_transactions"):
    return {r.key: r for r in res["registry"].raw_files(source)}


def test_a_resent_file_is_published_once_and_recorded_as_a_duplicate(lake, spark):
    lake.deliver("card_transactions", DAY, "batch.json", cards(4))
    lake.deliver("card_transactions", DAY, "batch.json", cards(4))  # the producer's retry
    # A third copy written to raw by the producer itself, bypassing `lake ingest`.
    lake.storage.put_bytes(f"{CARDS_PREFIX}direct-batch.json", cards(4).encode())

    assert lake.profile("card_transactions", DAY).success
    assert lake.promote("card_transactions", DAY).success

    assert lake.rows(spark, "card_transactions").count() == 4
    raw = sorted(info.key for info in lake.storage.list(CARDS_PREFIX))
    assert len(raw) == 3  # every byte kept
    index = {r.key: r for r in lake.registry.raw_files("card_transactions")}
    [original] = [r for r in index.values() if r.status == "PROFILED"]
    duplicates = [r for r in index.values() if r.status == "DUPLICATE"]
    assert original.key == raw[0]  # the first landed
    assert [(d.duplicate_of, d.row_count, d.sha256) for d in duplicates] == [
        (original.key, 4, original.sha256)
    ] * 2
    alerts = [a for a in lake.notifier.alerts() if a.kind == "payload.duplicate"]
    assert sorted(a.detail["raw_key"] for a in alerts) == sorted(d.key for d in duplicates)
    assert {a.detail["duplicate_of"] for a in alerts} == {original.key}


def test_lake_ingest_says_a_file_is_a_duplicate(local_lake, tmp_path, capsys):
    settings, res = local_lake
    path = tmp_path / "batch.json"
    path.write_text(cards(3))
    ingest = ["ingest", "--source", "card_transactions", "--ingest-date", DAY]
    assert main([*ingest, str(path)]) == 0
    first = capsys.readouterr().out
    assert main([*ingest, str(path)]) == 0
    second = capsys.readouterr().out

    assert "duplicate" not in first
    [original] = [r for r in res["storage"].list(CARDS_PREFIX) if r.key in first]
    assert f"duplicate of {res['storage'].uri(original.key)}" in second
    assert "not promoted" in second
    assert main(["profile"]) == 0  # recorded at landing: profiling skips the copy
    assert "card_transactions: 1 profiled, 0 dead-lettered" in capsys.readouterr().out
    assert sorted(r.status for r in _index(res).values()) == ["DUPLICATE", "PROFILED"]
    assert all(r.row_count == 3 for r in _index(res).values())


def test_concurrent_landings_of_one_file_yield_exactly_one_original(local_lake, tmp_path):
    settings, res = local_lake
    source = settings.source("card_transactions")
    path = tmp_path / "batch.json"
    path.write_text(cards(3))
    start = threading.Barrier(4)
    landed = []

    def land():
        start.wait()
        landed.append(land_payload(res["storage"], source, path, DAY, **_index_of(res)))

    threads = [threading.Thread(target=land) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    originals = [info for info in landed if info.duplicate_of is None]
    assert len(originals) == 1
    assert {info.duplicate_of for info in landed} == {None, originals[0].key}
    summary = profile_objects(
        res["storage"],
        res["registry"],
        res["notifier"],
        source,
        pending_objects(res["storage"], res["registry"], "card_transactions"),
    )
    assert summary.count("PROFILED") == 1
    statuses = sorted(r.status for r in _index(res).values())
    assert statuses == ["DUPLICATE", "DUPLICATE", "DUPLICATE", "PROFILED"]
    assert all(r.row_count == 3 for r in _index(res).values())


def test_a_duplicate_of_a_not_yet_profiled_original_gets_its_row_count(local_lake, tmp_path):
    settings, res = local_lake
    source = settings.source("card_transactions")
    # The copy lands on an earlier ingest date's folder than the original, so it sorts first.
    original = res["storage"].put_bytes(f"{CARDS_PREFIX}a.json", cards(2).encode())
    copy = res["storage"].put_bytes(
        "raw/source=card_transactions/ingest_date=2026-03-01/b.json", cards(2).encode()
    )
    profile_objects(res["storage"], res["registry"], res["notifier"], source, [original])
    profile_objects(res["storage"], res["registry"], res["notifier"], source, [copy])

    assert _index(res)[copy.key].status == "DUPLICATE"
    assert _index(res)[copy.key].row_count == 2
    assert _index(res)[copy.key].duplicate_of == original.key


def test_a_source_that_resends_identical_files_opts_out(local_lake, tmp_path):
    settings, res = local_lake
    keep = replace(settings.source("card_transactions"), redelivery="keep")
    path = tmp_path / "batch.json"
    path.write_text(cards(3))
    first = land_payload(res["storage"], keep, path, DAY, **_index_of(res))
    second = land_payload(res["storage"], keep, path, DAY, **_index_of(res))
    profile_objects(res["storage"], res["registry"], res["notifier"], keep, [first, second])

    assert first.duplicate_of is None and second.duplicate_of is None
    assert [r.status for r in _index(res).values()] == ["PROFILED", "PROFILED"]


def test_an_identical_snapshot_is_a_duplicate_and_a_different_one_a_correction(
    local_lake, tmp_path
):
    settings, res = local_lake
    source = settings.source("customers")
    day = "2026-03-03"
    snapshot = "customer_id,name,snapshot_date\nC1,Aminah,2026-03-03\n"
    landed = []
    for n, text in enumerate([snapshot, snapshot, snapshot.replace("Aminah", "Aminah Ali")]):
        path = tmp_path / f"customers-{n}.csv"
        path.write_text(text)
        landed.append(land_payload(res["storage"], source, path, day, **_index_of(res)))
    profile_objects(res["storage"], res["registry"], res["notifier"], source, landed)

    index = _index(res, "customers")
    assert [index[info.key].status for info in landed] == ["PROFILED", "DUPLICATE", "PROFILED"]
    assert index[landed[1].key].duplicate_of == landed[0].key


def test_redelivery_policy_is_validated(tmp_path):
    path = tmp_path / "sources.yaml"
    path.write_text(
        "sources:\n  s:\n    format: json\n    event_time_field: t\n    redelivery: sometimes\n"
    )
    with pytest.raises(ConfigError, match=r"sources\.s\.redelivery.*keep"):
        load_sources(path)


def test_a_snapshot_sent_again_after_a_correction_is_the_latest_state_again(local_lake, tmp_path):
    from datetime import UTC, datetime, timedelta

    from lake_assets.ingestion.promotion_plan import plan_promotion

    settings, res = local_lake
    source = settings.source("customers")
    day = "2026-03-03"
    first = "customer_id,name,snapshot_date\nC1,Aminah,2026-03-03\n"
    landed = []
    for n, text in enumerate([first, first.replace("Aminah", "Aminah Ali"), first]):
        path = tmp_path / f"customers-{n}.csv"
        path.write_text(text)
        at = datetime(2026, 3, 3, 23, tzinfo=UTC) + timedelta(hours=n)
        landed.append(land_payload(res["storage"], source, path, day, at, **_index_of(res)))
    profile_objects(res["storage"], res["registry"], res["notifier"], source, landed)

    plan = plan_promotion(
        "customers",
        source.event_time_field,
        source.format,
        [day],
        res["registry"].versions("customers"),
        res["registry"].raw_files("customers"),
        res["storage"].uri,
        delivery="snapshot",
    )
    # The third delivery re-asserts the first: promoted from the original object, once.
    assert plan.input_keys == [landed[0].key]
    assert landed[2].duplicate_of == landed[0].key
