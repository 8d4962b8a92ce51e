"""Compaction history, and the lease that lets one compaction run at a time per dataset.

One record per (run, dataset, partition), upserted as it goes from `started` to its outcome.
SQLite is the embedded default; DynamoCompactionHistory (resources/aws/dynamo_compaction.py)
serves the aws profile: PK `dataset`, SK `entry` = `<started_at>#<partition>#<run_id>` for
records and `lease` for the lease.

The lease is what makes a `started` record of another run mean "that run is dead": a run holds
its dataset's lease from before it cleans up until it has finished, so a second run that gets
the lease knows no other is writing. Locally it is an OS file lock, which the kernel releases
when its process dies however it dies; on DynamoDB a conditional write with an expiry, so the
lease of a killed run lapses after `lease_seconds`. A live run can outlast that expiry (a long
migration), so it renews the lease before each partition's rewrite and again before its switch:
if the lease lapsed and another run took it, that run may have deleted the folder as a dead
run's, and the renewal's LeaseLost stops the partition before it publishes (ADR-0200).
"""

from __future__ import annotations

import fcntl
import json
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from lake_assets.compaction.model import CompactionRecord
from resources.registry_store import connect_sqlite


class CompactionBusy(RuntimeError):
    """Another compaction run holds the dataset's lease."""


class LeaseLost(RuntimeError):
    """The run's lease lapsed and it no longer holds it: it must publish nothing more."""


class CompactionHistory(ABC):
    @abstractmethod
    def record(self, record: CompactionRecord) -> None:
        """Insert or replace the record for (run, dataset, partition)."""

    @abstractmethod
    def records(self, dataset: str | None = None) -> list[CompactionRecord]:
        """Every record (of one dataset), in the order the compactions started."""

    @abstractmethod
    @contextmanager
    def lease(self, dataset: str, run_id: str) -> Iterator[None]:
        """Hold the dataset's compaction lease for the block; CompactionBusy if another run
        holds it."""

    @abstractmethod
    def renew(self, dataset: str, run_id: str) -> None:
        """Extend the run's lease of the dataset to a full term from now; LeaseLost if the run
        no longer holds it."""


def _ordered(records: list[CompactionRecord]) -> list[CompactionRecord]:
    return sorted(records, key=lambda r: (r.started_at, r.dataset, r.partition, r.run_id))


class SQLiteCompactionHistory(CompactionHistory):
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute(
                """CREATE TABLE IF NOT EXISTS compactions (
                    run_id TEXT NOT NULL, dataset TEXT NOT NULL, partition TEXT NOT NULL,
                    started_at TEXT NOT NULL, body TEXT NOT NULL,
                    PRIMARY KEY (run_id, dataset, partition))"""
            )

    def _connect(self) -> sqlite3.Connection:
        return connect_sqlite(self.path)

    def record(self, record: CompactionRecord) -> None:
        with self._connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO compactions VALUES (?, ?, ?, ?, ?)",
                (
                    record.run_id,
                    record.dataset,
                    record.partition,
                    record.started_at,
                    json.dumps(record.to_dict()),
                ),
            )

    def records(self, dataset: str | None = None) -> list[CompactionRecord]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT body FROM compactions WHERE ? IS NULL OR dataset = ?", (dataset, dataset)
            ).fetchall()
        return _ordered([CompactionRecord.from_dict(json.loads(body)) for (body,) in rows])

    @contextmanager
    def lease(self, dataset: str, run_id: str) -> Iterator[None]:
        lock_path = self.path.parent / f"compaction-{dataset}.lock"
        with lock_path.open("a+") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                lock.seek(0)
                raise CompactionBusy(
                    f"{dataset}: another compaction holds the lease ({lock.read().strip()})"
                ) from None
            lock.seek(0)
            lock.truncate()
            lock.write(f"run {run_id} since {datetime.now(UTC).isoformat()}")
            lock.flush()
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def renew(self, dataset: str, run_id: str) -> None:
        """Nothing to extend: the kernel keeps the file lock until its holder releases it or
        dies, so a live run never loses it."""
