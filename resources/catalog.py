"""The partition catalog: which folder holds the published version of each dataset partition.

Publishing is a pointer switch, so a reader resolving through the catalog sees the old or the
new version of a partition, never a mix. SQLite locally; the Glue Data Catalog in aws
(resources/aws/glue.py), where the pointer is the partition's StorageDescriptor.Location.
"""

from __future__ import annotations

import json
import sqlite3
from abc import ABC, abstractmethod
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from resources.registry_store import connect_sqlite

# `superseded(older_than=ANY_AGE)`: every version the catalog keeps, whatever its age.
ANY_AGE = datetime.max.replace(tzinfo=UTC)


class StalePublish(RuntimeError):
    """The partition changed since the publisher read it (optimistic concurrency check)."""


@dataclass(frozen=True)
class PublishedPartition:
    dataset: str
    partition: str
    location: str  # storage key prefix of the published folder, ending in "/"
    run_id: str
    published_at: str
    row_count: int
    schema_version: str
    columns: dict[str, str] = field(default_factory=dict)  # column -> field type
    # When this version was sealed: its event date had left the late-arrival window, so no
    # daily run republishes it and compaction may rewrite it. A republish starts unsealed.
    sealed_at: str | None = None


@dataclass(frozen=True)
class SupersededLocation:
    dataset: str
    partition: str
    location: str
    superseded_at: str


class PartitionCatalog(ABC):
    @abstractmethod
    def current(self, dataset: str, partition: str) -> PublishedPartition | None: ...

    @abstractmethod
    def datasets(self) -> list[str]:
        """Every dataset the catalog has a table for, by name."""

    @abstractmethod
    def partitions(self, dataset: str) -> list[PublishedPartition]:
        """Every published partition of a dataset, in partition order."""

    @abstractmethod
    def publish(
        self, published: PublishedPartition, expected_run_id: str | None = None
    ) -> PublishedPartition | None:
        """Point the partition at `published.location` in one atomic step.

        With `expected_run_id`, refuse (StalePublish) unless the partition is still at that
        version ("" = not yet published). Returns the version it replaced, if any, which is
        kept as superseded until `expire` removes it.
        """

    @abstractmethod
    def superseded(self, older_than: datetime) -> list[SupersededLocation]: ...

    def seal(self, published: PublishedPartition, sealed_at: str) -> PublishedPartition:
        """Record that `published` is sealed. The seal is a publish of the same folder under the
        optimistic check, so it is refused (StalePublish) if the partition changed since it
        was read, and a seal never lands on a version nobody has looked at."""
        sealed = replace(published, sealed_at=sealed_at)
        self.publish(sealed, expected_run_id=published.run_id)
        return sealed

    @abstractmethod
    def forget_superseded(self, location: SupersededLocation) -> None: ...

    @abstractmethod
    def keep_superseded(self, entries: list[SupersededLocation]) -> None:
        """Record versions as superseded (kept until they expire), those not already recorded:
        a catalog restored from an export keeps what the lost one kept (lake dr restore)."""


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


class SQLiteCatalog(PartitionCatalog):
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.executescript(
                """
                CREATE TABLE IF NOT EXISTS partitions (
                    dataset TEXT NOT NULL, partition TEXT NOT NULL, body TEXT NOT NULL,
                    PRIMARY KEY (dataset, partition));
                CREATE TABLE IF NOT EXISTS superseded (
                    dataset TEXT NOT NULL, partition TEXT NOT NULL, location TEXT NOT NULL,
                    superseded_at TEXT NOT NULL, PRIMARY KEY (location));
                """
            )

    def _connect(self) -> sqlite3.Connection:
        # Autocommit: publish manages its own BEGIN IMMEDIATE transaction.
        return connect_sqlite(self.path, isolation_level=None)

    @staticmethod
    def _decode(body: str) -> PublishedPartition:
        return PublishedPartition(**json.loads(body))

    def current(self, dataset: str, partition: str) -> PublishedPartition | None:
        with self._connect() as db:
            row = db.execute(
                "SELECT body FROM partitions WHERE dataset = ? AND partition = ?",
                (dataset, partition),
            ).fetchone()
        return self._decode(row[0]) if row else None

    def datasets(self) -> list[str]:
        with self._connect() as db:
            rows = db.execute("SELECT DISTINCT dataset FROM partitions ORDER BY dataset")
            return [dataset for (dataset,) in rows.fetchall()]

    def partitions(self, dataset: str) -> list[PublishedPartition]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT body FROM partitions WHERE dataset = ? ORDER BY partition", (dataset,)
            ).fetchall()
        return [self._decode(body) for (body,) in rows]

    def publish(
        self, published: PublishedPartition, expected_run_id: str | None = None
    ) -> PublishedPartition | None:
        db = self._connect()
        try:
            # BEGIN IMMEDIATE takes the write lock before reading, so check-and-switch is atomic.
            db.execute("BEGIN IMMEDIATE")
            row = db.execute(
                "SELECT body FROM partitions WHERE dataset = ? AND partition = ?",
                (published.dataset, published.partition),
            ).fetchone()
            previous = self._decode(row[0]) if row else None
            if expected_run_id is not None and (previous.run_id if previous else "") != (
                expected_run_id
            ):
                raise StalePublish(
                    f"{published.dataset}[{published.partition}] is at run "
                    f"{previous.run_id if previous else '(none)'}, expected {expected_run_id!r}"
                )
            db.execute(
                "INSERT OR REPLACE INTO partitions VALUES (?, ?, ?)",
                (published.dataset, published.partition, json.dumps(published.__dict__)),
            )
            # A superseded version made current again (a restore) is no longer to expire.
            db.execute("DELETE FROM superseded WHERE location = ?", (published.location,))
            if previous and previous.location != published.location:
                db.execute(
                    "INSERT OR REPLACE INTO superseded VALUES (?, ?, ?, ?)",
                    (previous.dataset, previous.partition, previous.location, now_iso()),
                )
            db.execute("COMMIT")
            return previous
        except BaseException:
            db.execute("ROLLBACK")
            raise
        finally:
            db.close()

    def superseded(self, older_than: datetime) -> list[SupersededLocation]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT dataset, partition, location, superseded_at FROM superseded "
                "WHERE superseded_at < ? ORDER BY superseded_at",
                # Stored stamps are UTC ISO strings, so compare against the cutoff in UTC.
                (older_than.astimezone(UTC).isoformat(),),
            ).fetchall()
        return [SupersededLocation(*row) for row in rows]

    def forget_superseded(self, location: SupersededLocation) -> None:
        with self._connect() as db:
            db.execute("DELETE FROM superseded WHERE location = ?", (location.location,))

    def keep_superseded(self, entries: list[SupersededLocation]) -> None:
        with self._connect() as db:
            db.executemany(
                "INSERT OR IGNORE INTO superseded VALUES (?, ?, ?, ?)",
                [(e.dataset, e.partition, e.location, e.superseded_at) for e in entries],
            )
