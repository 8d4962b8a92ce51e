"""Compaction without Spark: sealing and selection, the cost model, the policy file, the history
stores (SQLite and DynamoDB on the moto server) with their lease, and cleaning up after a run
that died."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from lake_assets.compaction.cost import Payback, combined, compaction_cost, payback, query_cost
from lake_assets.compaction.model import CompactionRecord
from lake_assets.compaction.planning import (
    PartitionLayout,
    compactable,
    planned_files,
    seal_due,
    select,
)
from lake_assets.compaction.policy import (
    CompactionPolicy,
    MiB,
    Prices,
    Selection,
    load_policy,
)
from lake_assets.compaction.service import CompactionPass
from lake_assets.lineage.emitter import recorder_for
from lake_assets.settings import DEFAULT_COMPACTION_FILE, ConfigError
from lake_assets.tables.locations import compacted_location
from resources.aws.dynamo_compaction import DynamoCompactionHistory
from resources.catalog import PublishedPartition, SQLiteCatalog
from resources.compaction_history import CompactionBusy, CompactionHistory, SQLiteCompactionHistory
from resources.lineage_store import SQLiteLineageStore
from resources.storage import LocalStorage

DATASET = "card_transactions"
REGION = "eu-west-1"


def published(partition: str, run_id: str = "run-1", sealed_at: str | None = None, **changes):
    entry = PublishedPartition(
        dataset=DATASET,
        partition=partition,
        location=f"curated/{DATASET}/run={run_id}/_zone=published/event_date={partition}/",
        run_id=run_id,
        published_at="2025-01-10T02:00:00+00:00",
        row_count=10,
        schema_version="v1",
        columns={"amount": "double"},
        sealed_at=sealed_at,
    )
    return replace(entry, **changes)


# --- sealing and selection ---------------------------------------------------------------------


def test_partitions_seal_once_they_leave_the_lookback_window():
    # On 2025-01-10 the daily run promotes 01-06..01-09 (yesterday and the 3 days before).
    days = [f"2025-01-0{d}" for d in range(3, 10)]
    due = seal_due([published(d) for d in days], 3, date(2025, 1, 10), "2025-01-01")
    assert [p.partition for p in due] == ["2025-01-03", "2025-01-04", "2025-01-05"]
    already = [published("2025-01-03", sealed_at="2025-01-09T04:00:00+00:00")]
    assert seal_due(already, 3, date(2025, 1, 10), "2025-01-01") == []


def test_only_sealed_partitions_outside_the_window_and_not_yet_compacted_are_compactable():
    sealed = "2025-01-09T04:00:00+00:00"
    compacted = published(
        "2025-01-02", sealed_at=sealed, location=compacted_location(DATASET, "c-1", "2025-01-02")
    )
    partitions = [
        compacted,
        published("2025-01-03", sealed_at=sealed),
        published("2025-01-04"),  # left the window, not sealed yet
        # sealed under a 1-day lookback, reopened by a 7-day one
        published("2025-01-05", sealed_at=sealed),
    ]
    chosen = compactable(partitions, 7, date(2025, 1, 13), "2025-01-01")
    assert [p.partition for p in chosen] == ["2025-01-03"]


def layout(partition: str, sizes: list[int]) -> PartitionLayout:
    files = {f"{published(partition).location}part-{i}.parquet": s for i, s in enumerate(sizes)}
    return PartitionLayout(published(partition, sealed_at="x"), files)


def test_selection_by_average_size_file_count_and_reduction():
    policy = Selection(small_file_mib=128, min_files=5, target_file_mib=128)
    small = layout("2025-01-01", [MiB] * 10_000)  # 10,000 files of 1 MiB
    few = layout("2025-01-02", [MiB] * 4)  # too few files to bother
    big = layout("2025-01-03", [200 * MiB] * 6)  # already large files
    no_gain = layout("2025-01-04", [120 * MiB] * 5)  # 600 MiB need 5 files of 128 MiB anyway
    chosen = select([small, few, big, no_gain], policy)
    assert [(c.layout.published.partition, c.planned_files) for c in chosen] == [("2025-01-01", 79)]
    assert planned_files(0, 128 * MiB) == 1
    assert planned_files(128 * MiB + 1, 128 * MiB) == 2


# --- cost model --------------------------------------------------------------------------------


def test_query_cost_scans_at_least_10_mb_and_pays_per_object():
    prices = Prices()
    tiny = query_cost(files=1, total_bytes=1000, prices=prices)
    # 10 MiB minimum at $5 per TiB
    assert tiny.scan == pytest.approx(10 * MiB * 5 / 1024**4)
    assert tiny.requests == pytest.approx(2 * 0.0004 / 1000)
    assert tiny.opens == pytest.approx(4 * MiB * 5 / 1024**4)
    # 1 GiB in 10,000 files against the same bytes in 8 files
    many = query_cost(10_000, 1024**3, prices)
    few = query_cost(8, 1024**3, prices)
    assert many.scan == few.scan == pytest.approx(5 / 1024)
    assert many.requests == pytest.approx(20_000 * 0.0004 / 1000)
    assert many.total / few.total > 30


def test_compaction_cost_and_payback():
    prices = Prices(queries_per_day=4)
    hourly = 4 * 0.052624 + 16 * 0.0057785
    cost = compaction_cost(files_read=1000, files_written=4, seconds=90, prices=prices)
    assert cost == pytest.approx(90 / 3600 * hourly + (1000 * 2 * 0.0004 + 4 * 0.005) / 1000)
    record = CompactionRecord(
        run_id="c-1",
        dataset=DATASET,
        partition="2025-01-02",
        started_at="2025-01-10T04:00:00+00:00",
        outcome="compacted",
        replaced_run_id="run-1",
        location=compacted_location(DATASET, "c-1", "2025-01-02"),
        files_before=1000,
        bytes_before=500 * MiB,
        files_after=4,
        bytes_after=480 * MiB,
        duration_seconds=90,
    )
    result = payback(record, prices)
    assert result.cost == pytest.approx(cost)
    assert result.saving_per_query == pytest.approx(
        query_cost(1000, 500 * MiB, prices).total - query_cost(4, 480 * MiB, prices).total
    )
    assert result.break_even_queries == pytest.approx(cost / result.saving_per_query)
    assert result.payback_days(4) == pytest.approx(result.break_even_queries / 4)
    both = combined([result, result])
    assert both.cost == pytest.approx(2 * cost)
    assert both.break_even_queries == pytest.approx(result.break_even_queries)
    nothing_saved = Payback(result.after, result.after, cost)
    assert nothing_saved.break_even_queries is None and nothing_saved.payback_days(4) is None


# --- policy file -------------------------------------------------------------------------------


def test_the_shipped_policy_file_states_the_defaults():
    assert load_policy(DEFAULT_COMPACTION_FILE) == CompactionPolicy()


def test_a_policy_file_overrides_some_keys(tmp_path: Path):
    path = tmp_path / "compaction.yaml"
    path.write_text(
        "selection:\n  min_files: 20\ncost:\n  queries_per_day: 2.5\n  open_cost_mib: 0\n"
    )
    policy = load_policy(path)
    assert policy.selection == Selection(min_files=20)
    assert policy.prices == Prices(queries_per_day=2.5, open_cost_mib=0)


@pytest.mark.parametrize(
    "text, key, reason",
    [
        ("selection:\n  min_file: 3\n", "selection.min_file", "unknown key"),
        ("selection:\n  min_files: 2.5\n", "selection.min_files", "whole number"),
        ("cost:\n  athena_usd_per_tb: -5\n", "cost.athena_usd_per_tb", "0 or more"),
        ("cost:\n  queries_per_day: 0\n", "cost.queries_per_day", "greater than 0"),
        ("selection:\n  target_file_mib: 0\n", "selection.target_file_mib", "greater than 0"),
        ("cost:\n  vcpus: yes\n", "cost.vcpus", "must be a whole number, got True"),
        ("cost: 5\n", "cost", "expected a mapping"),
        ("select:\n  min_files: 2\n", "select", "unknown key"),
    ],
)
def test_policy_errors_name_file_key_and_reason(tmp_path: Path, text, key, reason):
    path = tmp_path / "compaction.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as raised:
        load_policy(path)
    assert raised.value.file == str(path) and raised.value.key == key
    assert reason in raised.value.reason


# --- history stores ----------------------------------------------------------------------------


@pytest.fixture(params=["local", "aws"])
def history(request, tmp_path) -> CompactionHistory:
    if request.param == "local":
        return SQLiteCompactionHistory(tmp_path / "compaction.db")
    endpoint = request.getfixturevalue("aws_endpoint")
    return DynamoCompactionHistory.create_table(
        "compaction-history", endpoint_url=endpoint, region=REGION
    )


def record(run_id: str, partition: str, started_at: str, **changes) -> CompactionRecord:
    fields = dict(
        run_id=run_id,
        dataset=DATASET,
        partition=partition,
        started_at=started_at,
        outcome="started",
        replaced_run_id="run-1",
        location=compacted_location(DATASET, run_id, partition),
        files_before=12,
        bytes_before=12 * MiB,
        rows=100,
    )
    return CompactionRecord(**{**fields, **changes})


def test_history_upserts_each_compaction_and_lists_in_start_order(history: CompactionHistory):
    first = record("c-1", "2025-01-03", "2025-01-10T04:00:01+00:00")
    second = record("c-1", "2025-01-02", "2025-01-10T04:00:00+00:00")
    other = record("c-2", "2025-01-02", "2025-01-11T04:00:00+00:00", dataset="customers")
    for entry in (first, second, other):
        history.record(entry)
    done = second.finished("compacted", files_after=1, bytes_after=10 * MiB, duration_seconds=2.5)
    history.record(done)

    assert history.records() == [done, first, other]
    assert history.records(DATASET) == [done, first]
    assert history.records("nothing") == []


def test_the_lease_admits_one_run_per_dataset(history: CompactionHistory):
    with history.lease(DATASET, "c-1"):
        with pytest.raises(CompactionBusy, match="c-1"):
            with history.lease(DATASET, "c-2"):
                pass
        with history.lease("customers", "c-2"):  # another dataset is free
            pass
    with history.lease(DATASET, "c-2"):  # released at the end of the block
        pass


def test_a_dynamo_lease_lapses_after_its_time(aws_endpoint):
    store = DynamoCompactionHistory.create_table(
        "compaction-history", endpoint_url=aws_endpoint, region=REGION, lease_seconds=0
    )
    with store.lease(DATASET, "c-killed"):
        # The holder is taken for dead once its lease expired, as after a SIGKILL.
        with store.lease(DATASET, "c-next"):
            pass
    assert store.records() == []  # the lease item is not a record


def test_dynamo_items_carry_readable_attributes(aws_endpoint):
    import boto3

    store = DynamoCompactionHistory.create_table(
        "compaction-history", endpoint_url=aws_endpoint, region=REGION
    )
    store.record(record("c-1", "2025-01-02", "2025-01-10T04:00:00+00:00"))
    [item] = boto3.client("dynamodb", endpoint_url=aws_endpoint, region_name=REGION).scan(
        TableName="compaction-history"
    )["Items"]
    assert item["dataset"] == {"S": DATASET}
    assert item["entry"] == {"S": "2025-01-10T04:00:00+00:00#2025-01-02#c-1"}
    assert item["outcome"] == {"S": "started"} and item["files_before"] == {"N": "12"}


# --- cleaning up after a dead run --------------------------------------------------------------


def test_a_dead_run_is_cleaned_up_or_recognised_as_published(tmp_path: Path):
    """Two runs died: one before its switch (its folder is deleted, `abandoned`), one right
    after it (the catalog points at its folder: `compacted`, the folder stays)."""
    storage = LocalStorage(tmp_path / "lake")
    catalog = SQLiteCatalog(tmp_path / "catalog.db")
    history = SQLiteCompactionHistory(tmp_path / "compaction.db")
    published_late = compacted_location(DATASET, "c-published", "2025-01-03")
    catalog.publish(published("2025-01-02"))
    catalog.publish(published("2025-01-03", run_id="c-published", location=published_late))
    storage.put_bytes(published_late + "part-0.parquet", b"x" * 300)
    storage.put_bytes(published_late + "_manifest.json", b"{}")
    orphan = compacted_location(DATASET, "c-dead", "2025-01-02")
    storage.put_bytes(orphan + "part-0.parquet", b"x" * 200)
    history.record(record("c-dead", "2025-01-02", "2025-01-10T04:00:00+00:00"))
    history.record(record("c-published", "2025-01-03", "2025-01-10T04:00:00+00:00"))
    work = CompactionPass(
        run_spark=lambda job, plan: pytest.fail("cleaning up needs no Spark"),
        storage=storage,
        catalog=catalog,
        history=history,
        recorder=recorder_for(SQLiteLineageStore(tmp_path / "lineage.db"), tmp_path, "file:///"),
        policy=CompactionPolicy(),
        run_id="c-next",
        earliest="2025-01-01",
        progress=lambda message: None,
    )

    with history.lease(DATASET, "c-next"):
        cleaned = work.clean_up_dead_runs(DATASET)

    assert {(r.run_id, r.outcome) for r in cleaned} == {
        ("c-dead", "abandoned"),
        ("c-published", "compacted"),
    }
    assert list(storage.list(orphan)) == []
    recovered = next(r for r in history.records() if r.run_id == "c-published")
    assert (recovered.files_after, recovered.bytes_after) == (1, 300)
    assert storage.exists(published_late + "part-0.parquet")


def test_record_round_trips_through_json():
    entry = record("c-1", "2025-01-02", "2025-01-10T04:00:00+00:00", reason="x")
    assert CompactionRecord.from_dict(json.loads(json.dumps(entry.to_dict()))) == entry
    with pytest.raises(ValueError, match="outcome"):
        record("c-1", "2025-01-02", "2025-01-10T04:00:00+00:00", outcome="done")
