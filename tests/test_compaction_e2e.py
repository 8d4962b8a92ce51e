"""Compaction on a real local lake: rows unchanged, lineage intact, a writer during the
compaction never loses or doubles anything, a compaction killed with SIGKILL leaves readers a
complete version and is cleaned up by the next run, and the daily job and the report."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from dagster import DefaultScheduleStatus, materialize
from lake_harness import card, failure_message

from lake_assets.cli.main import main
from lake_assets.compaction.assets import COMPACTION_KEY
from lake_assets.compaction.planning import is_data_file, planned_files
from lake_assets.compaction.policy import CompactionPolicy, Selection
from lake_assets.compaction.rewrite import rewrite
from lake_assets.compaction.service import CompactionAuditFailed, CompactionPass, compaction_pass
from lake_assets.definitions import build_definitions
from lake_assets.lineage import partition_address, trace
from lake_assets.tables.locations import compacted_location, compaction_prefix
from resources.catalog import PublishedPartition, SQLiteCatalog

DS = "card_transactions"
SEALED = ["2025-01-02", "2025-01-03"]
OPEN = ["2025-01-04", "2025-01-05"]
# On this day the daily run promotes 2025-01-04..07: the two days before it are sealed.
TODAY = date(2025, 1, 8)
# Promotion writes two or three files per partition for these tiny inputs.
POLICY = CompactionPolicy(Selection(min_files=2))
POLICY_YAML = "selection:\n  min_files: 2\n"


def lines(numbers, day: str) -> str:
    return "".join(json.dumps(card(n, day)) + "\n" for n in numbers)


def small_partitions(lake) -> dict:
    """Four raw files, each with records of 2025-01-02, 01-03 and 01-05, promoted as one range
    (01-04 is published empty); the published versions by partition."""
    for i in range(4):
        content = "".join(
            lines(range(1000 * d + 10 * i, 1000 * d + 10 * i + 5), f"2025-01-0{d}")
            for d in (2, 3, 5)
        )
        lake.deliver(DS, "2025-01-05", f"cards-{i}.json", content)
    assert lake.profile(DS, "2025-01-05").success
    assert lake.promote(DS, "2025-01-02", "2025-01-05").success
    published = {p.partition: p for p in lake.catalog.partitions(DS)}
    for day in SEALED:
        assert len(data_files(lake, published[day].location)) >= 2, "precondition: small files"
    return published


def data_files(lake, location: str) -> dict[str, int]:
    return {i.key: i.size for i in lake.storage.list(location) if is_data_file(i.key)}


def compaction(lake, run_id: str, **resources) -> CompactionPass:
    return compaction_pass(lake.settings, POLICY, run_id, {**lake.resources, **resources})


def rows_of(spark, lake, location: str):
    """Every column the files hold, internal ones included."""
    return spark.read.parquet(lake.storage.uri(location))


def same_rows(left, right) -> bool:
    return left.exceptAll(right).isEmpty() and right.exceptAll(left).isEmpty()


def published_ids(spark, lake, day: str) -> list[str]:
    return sorted(r[0] for r in lake.rows(spark, DS, [day]).select("transaction_id").collect())


def staged_folders(lake) -> set[str]:
    return {
        info.key.split("event_date=")[0]
        for info in lake.storage.list(f"curated/{DS}/")
        if "/compaction=" in info.key
    }


def test_sealed_partitions_of_small_files_are_compacted_with_rows_and_lineage_intact(lake, spark):
    before = small_partitions(lake)
    source = lake.settings.source(DS)

    dry = compaction(lake, "dry").run(source, TODAY, dry_run=True)
    assert dry.sealed == SEALED
    assert [c.layout.published.partition for c in dry.candidates] == SEALED
    assert [c.planned_files for c in dry.candidates] == [1, 1]
    assert lake.catalog.partitions(DS) == list(before.values())  # not even sealed
    assert staged_folders(lake) == set() and lake.compaction_history.records() == []

    done = compaction(lake, "compact-1").run(source, TODAY)

    assert done.sealed == SEALED and done.busy is None
    assert [(r.partition, r.outcome) for r in done.records] == [(d, "compacted") for d in SEALED]
    for day, record in zip(SEALED, done.records, strict=True):
        old, new = before[day], lake.catalog.current(DS, day)
        assert new.location == compacted_location(DS, "compact-1", day)
        assert new.run_id == "compact-1" and new.sealed_at is not None
        assert (new.row_count, new.published_at, new.columns) == (
            old.row_count,
            old.published_at,
            old.columns,
        )
        assert same_rows(rows_of(spark, lake, old.location), rows_of(spark, lake, new.location))
        old_files, new_files = data_files(lake, old.location), data_files(lake, new.location)
        assert len(new_files) == 1
        assert (record.files_before, record.bytes_before) == (
            len(old_files),
            sum(old_files.values()),
        )
        assert (record.files_after, record.bytes_after) == (1, sum(new_files.values()))
        assert record.replaced_run_id == old.run_id and record.rows == old.row_count
        old_manifest = json.loads(lake.storage.get_bytes(old.location + "_manifest.json"))
        manifest = json.loads(lake.storage.get_bytes(new.location + "_manifest.json"))
        assert manifest["inputs"] == old_manifest["inputs"]
        assert manifest["files"] == [key.rsplit("/", 1)[-1] for key in new_files]
        assert manifest["compacted_from"]["run_id"] == old.run_id
        # Lineage: the compacted partition still traces through the old files to raw ones.
        tree = trace(lake.lineage.runs(), partition_address(DS, day))
        assert tree.run_id == f"compact-1/{day}" and tree.supersedes == old.run_id
        assert tree.leaves() == set(old_manifest["inputs"])
    # The replaced versions stay for readers that resolved them, until retention expires them.
    superseded = {s.location for s in lake.catalog.superseded(datetime.now(UTC))}
    assert {before[day].location for day in SEALED} <= superseded
    for day in OPEN:
        assert lake.catalog.current(DS, day) == before[day]
    assert lake.rows(spark, DS).count() == sum(p.row_count for p in before.values())

    again = compaction(lake, "compact-2").run(source, TODAY)
    assert (again.sealed, again.candidates, again.records) == ([], [], [])


class WriterFirstCatalog(SQLiteCatalog):
    """The lake's catalog, where another writer publishes a partition just before the
    compaction's switch of it, which is when a concurrent writer does the most harm."""

    def __init__(self, path: Path, writer):
        super().__init__(path)
        self.writer = writer

    def publish(self, published, expected_run_id=None):
        if "/compaction=" in published.location and self.writer is not None:
            writer, self.writer = self.writer, None
            writer()
        return super().publish(published, expected_run_id)


def test_a_writer_publishing_during_compaction_wins_and_the_next_pass_retries(lake, spark):
    before = small_partitions(lake)
    source = lake.settings.source(DS)
    late = list(range(5000, 5003))

    def writer():  # a late fold-in: three more records for 2025-01-02, republished
        lake.deliver(DS, "2025-01-07", "late.json", lines(late, "2025-01-02"))
        assert lake.profile(DS, "2025-01-07").success
        assert lake.promote(DS, "2025-01-02").success

    catalog = WriterFirstCatalog(lake.catalog.path, writer)
    done = compaction(lake, "compact-1", catalog=catalog).run(source, TODAY)

    aborted, compacted = done.records
    assert (aborted.partition, aborted.outcome) == ("2025-01-02", "aborted")
    assert before["2025-01-02"].run_id in aborted.reason
    assert (compacted.partition, compacted.outcome) == ("2025-01-03", "compacted")
    assert list(lake.storage.list(aborted.location)) == []  # its rewrite is deleted
    current = lake.catalog.current(DS, "2025-01-02")
    assert current.run_id not in (before["2025-01-02"].run_id, "compact-1")
    assert current.sealed_at is None and current.row_count == before["2025-01-02"].row_count + 3
    expected = sorted(
        [card(n, "2025-01-02")["transaction_id"] for n in late]
        + [
            r[0]
            for r in rows_of(spark, lake, before["2025-01-02"].location)
            .select("transaction_id")
            .collect()
        ]
    )
    assert published_ids(spark, lake, "2025-01-02") == expected  # nothing lost or doubled
    assert [r.outcome for r in lake.compaction_history.records(DS)] == ["aborted", "compacted"]

    retry = compaction(lake, "compact-2").run(source, TODAY)
    assert retry.sealed == ["2025-01-02"]
    assert [(r.partition, r.outcome) for r in retry.records] == [("2025-01-02", "compacted")]
    assert published_ids(spark, lake, "2025-01-02") == expected


def test_a_writer_running_beside_compaction_never_loses_or_doubles_rows(lake, spark):
    before = small_partitions(lake)
    lake.deliver(DS, "2025-01-07", "late.json", lines(range(5000, 5003), "2025-01-02"))
    assert lake.profile(DS, "2025-01-07").success
    passes = []
    compacting = threading.Thread(
        target=lambda: passes.append(
            compaction(lake, "compact-1").run(lake.settings.source(DS), TODAY)
        )
    )

    compacting.start()
    written = lake.promote(DS, "2025-01-02")
    compacting.join()

    assert len(passes) == 1
    if not written.success:
        # The compaction switched the partition after the writer read it: the writer's publish
        # is refused (ADR-0042), nothing of it published, and its re-run publishes.
        assert (
            "published no partitions; publishing 2025-01-02 failed "
            "(card_transactions[2025-01-02] is at run compact-1"
        ) in failure_message(written)
        assert lake.catalog.current(DS, "2025-01-02").run_id == "compact-1"
        assert lake.promote(DS, "2025-01-02").success
    expected = sorted(
        [card(n, "2025-01-02")["transaction_id"] for n in range(5000, 5003)]
        + [
            r[0]
            for r in rows_of(spark, lake, before["2025-01-02"].location)
            .select("transaction_id")
            .collect()
        ]
    )
    # Whichever finished first, the writer's rows are published, each once.
    assert published_ids(spark, lake, "2025-01-02") == expected
    # And no rewrite is left behind that no reader can reach.
    referenced = {p.location for p in lake.catalog.partitions(DS)} | {
        s.location for s in lake.catalog.superseded(datetime.now(UTC))
    }
    for record in passes[0].records:
        assert record.outcome in ("compacted", "aborted")
        assert (record.location in referenced) == (record.outcome == "compacted")
        assert bool(data_files(lake, record.location)) == (record.outcome == "compacted")


def wait_for(find, process: subprocess.Popen, log: Path, timeout: float = 240):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = find()
        if found:
            return found
        if process.poll() is not None:
            pytest.fail(f"`lake compact` ended ({process.returncode}):\n{log.read_text()}")
        time.sleep(0.02)
    pytest.fail(f"`lake compact` staged nothing in {timeout} s:\n{log.read_text()}")


def test_a_compaction_killed_mid_way_leaves_a_complete_version_and_the_next_run_cleans_up(
    lake, spark, tmp_path
):
    before = small_partitions(lake)
    for published in before.values():  # sealed beforehand, so the killed run writes no seal
        lake.catalog.seal(published, datetime.now(UTC).isoformat())
    sealed = {p.partition: p for p in lake.catalog.partitions(DS)}
    published_before = sorted(lake.rows(spark, DS).collect())
    policy = tmp_path / "compaction.yaml"
    policy.write_text(POLICY_YAML)
    env = {
        **os.environ,
        "LAKE_ROOT": str(lake.root),
        "LAKE_CONTRACTS_DIR": str(lake.settings.contracts_dir),
        "LAKE_COMPACTION_FILE": str(policy),
    }
    log = tmp_path / "compact.log"
    # Holding the catalog's write lock stops the run at its first switch, after it has staged
    # a whole partition: the kill lands mid-way every time, not only when the timing is lucky.
    catalog_lock = sqlite3.connect(lake.catalog.path, isolation_level=None)
    catalog_lock.execute("BEGIN IMMEDIATE")
    try:
        with log.open("w") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "lake_assets.cli", "compact", "--dataset", DS],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: Python and its Spark JVM
            )
        pattern = f"curated/{DS}/compaction=*/event_date=*/_manifest.json"
        wait_for(lambda: sorted(lake.root.glob(pattern)), process, log)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    finally:
        catalog_lock.execute("ROLLBACK")
        catalog_lock.close()

    assert process.returncode == -signal.SIGKILL
    assert {p.partition: p for p in lake.catalog.partitions(DS)} == sealed
    assert sorted(lake.rows(spark, DS).collect()) == published_before
    [killed] = lake.compaction_history.records(DS)
    assert killed.outcome == "started" and data_files(lake, killed.location)

    done = compaction(lake, "compact-rerun").run(lake.settings.source(DS), TODAY)

    assert [(r.run_id, r.outcome) for r in done.cleaned] == [(killed.run_id, "abandoned")]
    assert list(lake.storage.list(killed.location)) == []
    assert staged_folders(lake) == {compaction_prefix(DS, "compact-rerun")}
    assert [(r.partition, r.outcome) for r in done.records] == [(d, "compacted") for d in SEALED]
    assert sorted(lake.rows(spark, DS).collect()) == published_before
    for day in SEALED:
        new = lake.catalog.current(DS, day).location
        assert same_rows(rows_of(spark, lake, sealed[day].location), rows_of(spark, lake, new))
    history = {r.run_id: r.outcome for r in lake.compaction_history.records(DS)}
    assert history == {killed.run_id: "abandoned", "compact-rerun": "compacted"}


def test_the_daily_job_compacts_and_the_report_prices_it(
    lake, spark, tmp_path, monkeypatch, capsys
):
    small_partitions(lake)
    policy = tmp_path / "compaction.yaml"
    policy.write_text(POLICY_YAML)
    settings = replace(lake.settings, compaction_file=policy)
    resources = {**lake.resources, "settings": settings}
    defs = build_definitions(settings, resources)
    schedule = defs.resolve_schedule_def("compaction_schedule")
    assert schedule.job_name == "compaction"
    assert schedule.default_status == DefaultScheduleStatus.RUNNING

    result = materialize(
        list(defs.assets), selection=[COMPACTION_KEY], resources=resources, instance=lake.instance
    )

    assert result.success
    [event] = result.get_asset_materialization_events()
    metadata = {k: v.value for k, v in event.materialization.metadata.items()}
    compacted = [r for r in lake.compaction_history.records(DS) if r.outcome == "compacted"]
    # Today every partition has left the window: all are sealed, the ones with files compacted.
    assert metadata["partitions_sealed"] == 4
    assert metadata["partitions_compacted"] == len(compacted) == 3
    assert metadata["files_before"] == sum(r.files_before for r in compacted)
    assert metadata["files_after"] == 3
    assert metadata["query_cost_after_usd"] < metadata["query_cost_before_usd"]
    assert metadata["estimated_saving_per_day_usd"] > 0 and metadata["payback_days"] > 0

    monkeypatch.setenv("LAKE_ROOT", str(lake.root))
    monkeypatch.setenv("LAKE_CONTRACTS_DIR", str(lake.settings.contracts_dir))
    monkeypatch.setenv("LAKE_COMPACTION_FILE", str(policy))
    assert main(["compaction", "report"]) == 0
    report = capsys.readouterr().out
    assert report.count(" compacted: ") == 3 and "break-even" in report
    assert "total: 3 partitions" in report
    assert main(["compact", "--dry-run"]) == 0
    dry = capsys.readouterr().out
    assert f"{DS}: would seal 0, 0 to compact" in dry


def test_the_rewrite_packs_files_near_the_target_size(spark, tmp_path):
    source = tmp_path / "small"
    frame = spark.range(24_000).selectExpr("id", "cast(id * 7 % 1000 as double) as amount")
    frame.repartition(12).write.parquet(source.as_uri())
    sizes = [p.stat().st_size for p in source.glob("*.parquet")]
    target = sum(sizes) // 3 + 1

    files = [p.as_uri() for p in sorted(source.glob("*.parquet"))]
    written = rewrite(spark, files, (tmp_path / "packed").as_uri(), target)

    assert len(sizes) == 12 and len(written.files) in (3, 4)  # planned 3, next-fit may add one
    assert planned_files(sum(sizes), target) == 3
    assert written.rows == 24_000
    assert same_rows(
        spark.read.parquet(source.as_uri()), spark.read.parquet(tmp_path.as_uri() + "/packed")
    )


def test_a_rewrite_that_does_not_reconcile_is_not_published(lake, spark):
    location = f"curated/{DS}/run=run-1/_zone=published/event_date=2025-01-02/"
    spark.range(30).selectExpr("cast(id as string) as transaction_id").repartition(3).write.parquet(
        lake.storage.uri(location)
    )
    entry = PublishedPartition(
        dataset=DS,
        partition="2025-01-02",
        location=location,
        run_id="run-1",
        published_at="2025-01-03T02:00:00+00:00",
        row_count=31,  # one more than the files hold
        schema_version="v1",
        columns={"transaction_id": "string"},
        sealed_at="2025-01-08T04:00:00+00:00",
    )
    files = [key.rsplit("/", 1)[-1] for key in data_files(lake, location)]
    manifest = {"files": files, "rows_quarantined": 0, "quarantine_location": None}
    lake.storage.put_bytes(
        location + "_manifest.json", json.dumps({**manifest, "inputs": []}).encode()
    )
    lake.catalog.publish(entry)

    with pytest.raises(CompactionAuditFailed, match="holds 30 rows"):
        compaction(lake, "compact-1").run(lake.settings.source(DS), TODAY)

    assert lake.catalog.current(DS, "2025-01-02") == entry
    [failed] = lake.compaction_history.records(DS)
    assert failed.outcome == "failed" and "CompactionAuditFailed" in failed.reason
    assert list(lake.storage.list(failed.location)) == []
