"""The retention sweep: what killed runs leave (run folders, quarantine copies) is deleted past
the retention period; what the catalog still references, or a run still writes, is kept."""

from __future__ import annotations

import os
import time

from lake_harness import failure_message

from lake_assets.cli.main import main
from lake_assets.ingestion.retention import candidate_folders
from lake_assets.tables.manifest import read_manifest
from resources.storage import LocalStorage

DS, DAY = "card_transactions", "2026-03-02"
KILLED = [
    f"curated/{DS}/run=killed/",
    f"curated/{DS}/compaction=killed/",
    f"quarantine/{DS}/event_date={DAY}/run=killed/",
]
WRITING = [f"curated/{DS}/run=writing/", f"quarantine/{DS}/event_date={DAY}/run=writing/"]


def age(lake, folder: str, days: int = 10) -> None:
    then = time.time() - days * 86400
    for path in (lake.root / folder).rglob("*"):
        os.utime(path, (then, then))


def present(lake, folder: str) -> bool:
    return any(lake.storage.list(folder))


def test_killed_runs_leftovers_are_swept_past_the_retention_and_nothing_referenced(
    lake, spark, monkeypatch, capsys
):
    lake.deliver_cards(DAY, range(40), bad_amounts=(3,))
    lake.profile(DS, DAY)
    assert lake.promote(DS, DAY).success
    first = lake.catalog.current(DS, DAY)
    first_quarantine = read_manifest(lake.storage, first)["quarantine_location"]
    for folder in KILLED + WRITING:
        lake.storage.put_bytes(folder + "part-00000.parquet", b"left by a killed run")
    for folder in KILLED + [first.location, first_quarantine]:
        age(lake, folder)

    swept = lake.promote(DS, DAY)  # its expire step sweeps the dataset
    assert swept.success, failure_message(swept)

    second = lake.catalog.current(DS, DAY)
    assert [f for f in KILLED if present(lake, f)] == []
    # Kept: a run still writing, the version just superseded (a reader may be on it) and its
    # quarantine however old their files, and the current version.
    second_quarantine = read_manifest(lake.storage, second)["quarantine_location"]
    for folder in WRITING + [first.location, first_quarantine, second.location]:
        assert present(lake, folder), folder
    assert second_quarantine and present(lake, second_quarantine)
    assert lake.rows(spark, DS).count() == 39  # one row of 40 quarantined

    monkeypatch.setenv("LAKE_ROOT", str(lake.root))
    monkeypatch.setenv("LAKE_CONTRACTS_DIR", str(lake.settings.contracts_dir))
    assert main(["retention", "sweep"]) == 0
    assert "0 orphan folders deleted, 2 kept" in capsys.readouterr().out


def test_held_late_arrivals_are_not_run_folders(tmp_path):
    storage = LocalStorage(tmp_path)
    for key in (
        f"quarantine/{DS}/late/cards.json.json",
        f"quarantine/{DS}/event_date={DAY}/run=r1/part-0.parquet",
        f"curated/{DS}/run=r1/_SUCCESS",
        f"curated/{DS}/_loose_file",
    ):
        storage.put_bytes(key, b"{}")
    assert candidate_folders(storage, [DS]) == [
        f"curated/{DS}/run=r1/",
        f"quarantine/{DS}/event_date={DAY}/run=r1/",
    ]
