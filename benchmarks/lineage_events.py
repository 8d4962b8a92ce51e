"""Lineage and event-driven orchestration (issue 4), each against a plain baseline in one run.

- trace: `lake lineage trace` over a store holding 100,000 file events (a year of daily
  partitions, each built from raw batches, with reruns that supersede earlier runs), against
  a plain breadth-first walk of the same edges that ignores supersession.
- dedup: 10,000 data-ready events, each delivered three times, through the event store's
  conditional write, against a bare SQLite `INSERT OR IGNORE` of the same keys.
- publish to run request: the time from recording the last input's data-ready event to the
  sensor's run request (the sensor's own interval, 60 s by default, comes on top).
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections import deque
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from benchmarks.timing import alternate, print_table, timed
from lake_assets.events.model import DataReady, DependencyRule
from lake_assets.events.sensors import evaluate_tick
from lake_assets.lineage import LineageRun, partition_address
from lake_assets.lineage.graph import trace
from resources.event_store import SQLiteEventStore
from resources.lineage_store import SQLiteLineageStore
from resources.notifier import LocalNotifier

FILE_EVENTS = 100_000
EVENTS, DELIVERIES = 10_000, 3


def _lineage_runs(file_events: int) -> list[LineageRun]:
    """Daily partitions from raw files, every tenth day republished: `file_events` file refs."""
    runs, refs, day = [], 0, date(2025, 1, 1)
    stamp = datetime(2025, 1, 1, tzinfo=UTC)
    while refs < file_events:
        partition = day.isoformat()
        raws = tuple(
            f"raw/source=cards/ingest_date={partition}/batch-{n:03d}.json" for n in range(120)
        )
        for attempt in range(2 if day.day % 10 == 0 else 1):
            stamp += timedelta(minutes=1)
            runs.append(
                LineageRun(
                    run_id=f"{partition}-{attempt}",
                    job="curated/cards",
                    partition=partition,
                    inputs=raws,
                    outputs=(
                        partition_address("cards", partition),
                        f"curated/cards/{partition}/part-0.parquet",
                    ),
                    started_at=stamp.isoformat(),
                    ended_at=stamp.isoformat(),
                    state="COMPLETE",
                    supersedes=f"{partition}-0" if attempt else None,
                )
            )
            refs += len(raws) + 2
        day += timedelta(days=1)
    return runs


def _plain_walk(runs: list[LineageRun], target: str) -> set[str]:
    producers = {out: run for run in runs for out in run.outputs}
    seen, leaves, queue = set(), set(), deque([target])
    while queue:
        key = queue.popleft()
        if key in seen:
            continue
        seen.add(key)
        run = producers.get(key)
        if run is None:
            leaves.add(key)
        else:
            queue.extend(run.inputs)
    return leaves


def _trace(root: Path) -> str:
    runs = _lineage_runs(FILE_EVENTS)
    store = SQLiteLineageStore(root / "lineage.db")
    loaded, _ = timed(lambda: [store.put_run(r) for r in runs])
    target = partition_address("cards", "2025-03-10")  # a republished partition
    cases = {
        "plain BFS": lambda _: _plain_walk(store.runs(), target),
        "lake lineage trace": lambda _: trace(store.runs(), target).leaves(),
    }
    result = alternate(cases, 3)
    ours, plain = result["lake lineage trace"], result["plain BFS"]
    assert ours.result == plain.result, "trace and the plain walk disagree"
    print_table(
        f"Trace over {FILE_EVENTS:,} file events ({len(runs):,} runs; store loaded in {loaded:.1f} s)",
        ["case", "median s", "raw files found"],
        [[name, r.median, len(r.result)] for name, r in result.items()],
    )
    return f"lineage trace: {ours.median * 1000:.0f} ms incl. reading the store ({ours.median / plain.median:.1f} x a plain BFS, both reading the store)"


def _dedup(root: Path) -> str:
    events = [
        DataReady(
            "cards",
            f"2025-01-01#{n}",
            "v1",
            10,
            f"run-{n}",
            f"hash-{n}",
            "2025-01-02T00:00:00+00:00",
        )
        for n in range(EVENTS)
    ]

    def through_store(round_number: int) -> int:
        store = SQLiteEventStore(root / f"events-{round_number}.db")
        return sum(store.record(e) for _ in range(DELIVERIES) for e in events)

    def bare_sqlite(round_number: int) -> int:
        db = sqlite3.connect(root / f"bare-{round_number}.db", isolation_level=None)
        db.execute("CREATE TABLE e (k TEXT PRIMARY KEY, body TEXT)")
        new = 0
        for _ in range(DELIVERIES):
            for e in events:
                new += db.execute(
                    "INSERT OR IGNORE INTO e VALUES (?, ?)", (e.idempotency_key, e.run_id)
                ).rowcount
        return new

    result = alternate({"bare INSERT OR IGNORE": bare_sqlite, "event store": through_store}, 2)
    ours, bare = result["event store"], result["bare INSERT OR IGNORE"]
    assert ours.result == bare.result == EVENTS, "each event must be recorded exactly once"
    deliveries = EVENTS * DELIVERIES
    print_table(
        f"Deduplication: {EVENTS:,} events x {DELIVERIES} deliveries",
        ["case", "median s", "deliveries/s", "recorded"],
        [[name, r.median, int(deliveries / r.median), r.result] for name, r in result.items()],
    )
    return f"dedup: {int(deliveries / ours.median):,} deliveries/s ({ours.median / bare.median:.1f} x bare SQLite), {ours.result:,} recorded of {deliveries:,}"


def _publish_to_request(root: Path) -> str:
    rule = DependencyRule(
        name="mart", target="marts/m", inputs=["a", "b"], timeout_hours=6, on_timeout="wait"
    )
    store, notifier = SQLiteEventStore(root / "latency.db"), LocalNotifier(root / "alerts.jsonl")
    now = datetime.now(UTC)
    cursor = evaluate_tick([rule], store, notifier, None, now).cursor
    latencies = []
    for n in range(50):
        partition = (date(2025, 1, 1) + timedelta(days=n)).isoformat()
        store.record(DataReady("a", partition, "v1", 1, f"ra{n}", f"ha{n}", now.isoformat()))
        cursor = evaluate_tick([rule], store, notifier, cursor, now).cursor
        seconds, tick = timed(
            lambda p=partition, c=cursor: (
                store.record(DataReady("b", p, "v1", 1, "rb", f"hb{p}", now.isoformat())),
                evaluate_tick([rule], store, notifier, c, now),
            )[1]
        )
        cursor = tick.cursor
        assert [r.partition_key for r in tick.run_requests] == [partition]
        latencies.append(seconds)
    latencies.sort()
    p50, p95 = latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.95)]
    print_table(
        "Publish to run request (record + one sensor evaluation)",
        ["", "p50 ms", "p95 ms"],
        [["latency", p50 * 1000, p95 * 1000]],
    )
    return f"publish -> run request: p50 {p50 * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms per sensor evaluation (+ the 60 s sensor interval)"


def run(rows: int) -> str:
    print("\n[lineage and events]", flush=True)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        return "\n  ".join([_trace(root), _dedup(root), _publish_to_request(root)])
