"""Compaction history, and the lease that lets one compaction run at a time per dataset.

One record per (run, dataset, partition), upserted as it goes from `started` to its outcome.
SQLite is the embedded default; DynamoCompactionHistory serves the aws profile: PK `dataset`,
SK `entry` = `<started_at>#<partition>#<run_id>` for records and `lease` for the lease.

The lease is what makes a `started` record of another run mean "that run is dead": a run holds
its dataset's lease from before it cleans up until it has finished, so a second run that gets
the lease knows no other is writing. Locally it is an OS file lock, which the kernel releases
when its process dies however it dies; on DynamoDB a conditional write with an expiry, so the
lease of a killed run lapses after `lease_seconds`.
"""

from __future__ import annotations

import fcntl
import json
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from lake_assets.compaction.model import CompactionRecord
from resources.registry_store import connect_sqlite


class CompactionBusy(RuntimeError):
    """Another compaction run holds the dataset's lease."""


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


class DynamoCompactionHistory(CompactionHistory):
    """Records and leases in one DynamoDB table. Items carry the record's main fields as
    native attributes for the console, and the whole record as the JSON string `body`."""

    LEASE = "lease"
    _ATTRIBUTES = ("run_id", "partition", "outcome", "files_before", "files_after")

    def __init__(
        self,
        table: str,
        *,
        endpoint_url: str | None,
        region: str,
        lease_seconds: int = 6 * 3600,  # longer than any compaction run
    ):
        # Imported here so the local profile does not load boto3 just to open SQLite.
        from resources.aws.clients import _client

        self.table, self.lease_seconds = table, lease_seconds
        self._dynamo = _client("dynamodb", endpoint_url, region)

    @classmethod
    def create_table(
        cls, table: str, *, endpoint_url: str | None, region: str, **options
    ) -> DynamoCompactionHistory:
        """Create the table (on-demand capacity) unless it exists, and wait until usable."""
        store = cls(table, endpoint_url=endpoint_url, region=region, **options)
        from resources.aws.clients import ensure_table

        ensure_table(store._dynamo, table, "dataset", "entry")
        return store

    def record(self, record: CompactionRecord) -> None:
        item = {
            "dataset": {"S": record.dataset},
            "entry": {"S": f"{record.started_at}#{record.partition}#{record.run_id}"},
            "body": {"S": json.dumps(record.to_dict())},
        }
        from resources.aws.clients import _attribute

        for name in self._ATTRIBUTES:
            item[name] = _attribute(getattr(record, name))
        self._dynamo.put_item(TableName=self.table, Item=item)

    def records(self, dataset: str | None = None) -> list[CompactionRecord]:
        # One dataset is one partition key: a query; every dataset: a scan.
        names, values = {"#entry": "entry"}, {":lease": {"S": self.LEASE}}
        keyed = {}
        if dataset is not None:
            names["#dataset"], values[":dataset"] = "dataset", {"S": dataset}
            keyed = {"KeyConditionExpression": "#dataset = :dataset"}
        pages = self._dynamo.get_paginator("query" if keyed else "scan").paginate(
            TableName=self.table,
            FilterExpression="#entry <> :lease",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ProjectionExpression="body",
            ConsistentRead=True,
            **keyed,
        )
        return _ordered(
            [
                CompactionRecord.from_dict(json.loads(item["body"]["S"]))
                for page in pages
                for item in page["Items"]
            ]
        )

    @contextmanager
    def lease(self, dataset: str, run_id: str) -> Iterator[None]:
        now = datetime.now(UTC)
        key = {"dataset": {"S": dataset}, "entry": {"S": self.LEASE}}
        try:
            self._dynamo.put_item(
                TableName=self.table,
                Item={
                    **key,
                    "run_id": {"S": run_id},
                    "expires_at": {"S": (now + timedelta(seconds=self.lease_seconds)).isoformat()},
                },
                ConditionExpression="attribute_not_exists(dataset) OR expires_at < :now",
                ExpressionAttributeValues={":now": {"S": now.isoformat()}},
            )
        except self._dynamo.exceptions.ConditionalCheckFailedException:
            holder = self._dynamo.get_item(TableName=self.table, Key=key, ConsistentRead=True)
            item = holder.get("Item", {})
            raise CompactionBusy(
                f"{dataset}: another compaction holds the lease (run "
                f"{item.get('run_id', {}).get('S')} until {item.get('expires_at', {}).get('S')})"
            ) from None
        try:
            yield
        finally:
            try:
                self._dynamo.delete_item(
                    TableName=self.table,
                    Key=key,
                    ConditionExpression="run_id = :me",
                    ExpressionAttributeValues={":me": {"S": run_id}},
                )
            except self._dynamo.exceptions.ConditionalCheckFailedException:
                pass  # it lapsed and another run took it over: that lease is not ours to end
