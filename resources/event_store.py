"""Data-ready events, per-rule waiting state and dead letters, behind one interface.

The conditional write is what makes at-least-once delivery safe: an event is stored only if it
differs from its partition's latest event, under a key chained to that event's key, and only if
that key is new (SQLite: a unique constraint with INSERT OR IGNORE; DynamoDB:
`attribute_not_exists`); only a new event is handed to the sensor. The DynamoDB store is in
resources/aws/dynamo_events.py.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from lake_assets.events.model import DataReady
from resources.registry_store import connect_sqlite

PendingStatus = Literal["waiting", "dead_lettered", "skipped", "replay"]


def _stamp(at: datetime | None = None) -> str:
    # Fixed width (isoformat drops zero microseconds), so stamps compare correctly as strings.
    return (at or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class Pending:
    """A rule waiting for one partition's inputs since `first_seen` (its first input event).

    `run_key` names the run a tick requested for it: the wait is closed only once Dagster has
    that run, so a tick lost before Dagster recorded its requests asks again (ADR-0155)."""

    rule: str
    partition: str
    first_seen: str
    status: PendingStatus = "waiting"
    run_key: str | None = None

    @property
    def first_seen_at(self) -> datetime:
        return datetime.fromisoformat(self.first_seen)


@dataclass(frozen=True)
class DeadLetter:
    """A rule whose inputs for a partition were not all ready by its deadline."""

    id: str
    rule: str
    partition: str
    missing: list[str]
    on_timeout: str
    first_seen: str
    deadline: str
    created_at: str = field(default_factory=_stamp)
    resolved_at: str | None = None


def event_key(event: DataReady, previous_key: str | None) -> str:
    """The key an event is stored under: its identity chained to the key of the event it
    follows, so A -> B -> A stores the second A under a key of its own, while two writers
    delivering the same event after the same predecessor collide on one key."""
    return hashlib.sha256(f"{event.identity}|{previous_key or ''}".encode()).hexdigest()


class EventStore(ABC):
    def record(self, event: DataReady) -> bool:
        """Store the event if it announces a new version of its partition; True if it did.

        Deduplicated against the partition's latest event, not all history: the same identity
        (a redelivery, or a republish of the current content and schema) is not new, and
        neither is a delivery published before the latest (an old version arriving late). The
        write is conditional on `event_key`, so concurrent deliveries store it once.
        """
        previous_key, found = None, self._latest_entry(event.dataset, event.partition)
        if found is not None:
            previous_key, latest = found
            if latest.identity == event.identity or latest.published_at > event.published_at:
                return False
        return self._insert(event_key(event, previous_key), event)

    @abstractmethod
    def _latest_entry(self, dataset: str, partition: str) -> tuple[str, DataReady] | None:
        """The partition's latest event and the key it is stored under."""

    @abstractmethod
    def _insert(self, key: str, event: DataReady) -> bool:
        """Store the event under `key` unless the key exists; True if it was new."""

    def latest(self, dataset: str, partition: str) -> DataReady | None:
        """The most recently published version of a partition."""
        found = self._latest_entry(dataset, partition)
        return found[1] if found else None

    @abstractmethod
    def put_outbox(self, id: str, body: str) -> None:
        """Keep an announcement a publish owes (lake_assets/events/outbox.py) until drained."""

    @abstractmethod
    def outbox(self) -> list[tuple[str, str]]:
        """Every (id, body) kept, in id order."""

    @abstractmethod
    def delete_outbox(self, id: str) -> None: ...

    @abstractmethod
    def events_since(self, cursor: str | None) -> tuple[list[DataReady], str | None]:
        """Events recorded after `cursor` (None: all), oldest first, and the new cursor."""

    @abstractmethod
    def touch(self, rule: str, partition: str, at: datetime) -> Pending:
        """Start waiting for (rule, partition) at `at` unless already tracked; the state."""

    @abstractmethod
    def pending(self) -> list[Pending]:
        """Every tracked (rule, partition), including skipped ones."""

    @abstractmethod
    def set_pending(self, pending: Pending) -> None: ...

    @abstractmethod
    def clear_pending(self, rule: str, partition: str) -> None: ...

    @abstractmethod
    def put_dead_letter(self, record: DeadLetter) -> bool:
        """Store the record unless its id exists; True if it was new."""

    @abstractmethod
    def dead_letters(self, include_resolved: bool = False) -> list[DeadLetter]:
        """Dead letters, oldest first."""

    @abstractmethod
    def get_dead_letter(self, id: str) -> DeadLetter | None: ...

    @abstractmethod
    def _put_dead_letter_body(self, record: DeadLetter) -> None: ...

    def resolve_dead_letter(self, id: str, at: datetime | None = None) -> DeadLetter:
        record = self.get_dead_letter(id)
        if record is None:
            raise KeyError(f"no dead letter {id!r}")
        resolved = replace(record, resolved_at=record.resolved_at or _stamp(at))
        self._put_dead_letter_body(resolved)
        return resolved


def _dead_letter(body: str) -> DeadLetter:
    return DeadLetter(**json.loads(body))


class SQLiteEventStore(EventStore):
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.executescript(
                """
                CREATE TABLE IF NOT EXISTS events (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    idempotency_key TEXT NOT NULL UNIQUE,
                    dataset TEXT NOT NULL, partition TEXT NOT NULL,
                    published_at TEXT NOT NULL, body TEXT NOT NULL);
                CREATE INDEX IF NOT EXISTS events_by_partition
                    ON events (dataset, partition, published_at);
                CREATE TABLE IF NOT EXISTS pending (
                    rule TEXT NOT NULL, partition TEXT NOT NULL, body TEXT NOT NULL,
                    PRIMARY KEY (rule, partition));
                CREATE TABLE IF NOT EXISTS dead_letters (
                    id TEXT PRIMARY KEY, created_at TEXT NOT NULL, body TEXT NOT NULL);
                CREATE TABLE IF NOT EXISTS outbox (id TEXT PRIMARY KEY, body TEXT NOT NULL);
                """
            )

    def _connect(self) -> sqlite3.Connection:
        return connect_sqlite(self.path)

    def _insert(self, key: str, event: DataReady) -> bool:
        with self._connect() as db:
            inserted = db.execute(
                "INSERT OR IGNORE INTO events "
                "(idempotency_key, dataset, partition, published_at, body) VALUES (?, ?, ?, ?, ?)",
                (
                    key,
                    event.dataset,
                    event.partition,
                    event.published_at,
                    json.dumps(event.to_dict()),
                ),
            ).rowcount
        return inserted == 1

    def _latest_entry(self, dataset: str, partition: str) -> tuple[str, DataReady] | None:
        with self._connect() as db:
            row = db.execute(
                "SELECT idempotency_key, body FROM events WHERE dataset = ? AND partition = ? "
                "ORDER BY published_at DESC, seq DESC LIMIT 1",
                (dataset, partition),
            ).fetchone()
        return (row[0], DataReady.from_dict(json.loads(row[1]))) if row else None

    def put_outbox(self, id: str, body: str) -> None:
        with self._connect() as db:
            db.execute("INSERT OR REPLACE INTO outbox VALUES (?, ?)", (id, body))

    def outbox(self) -> list[tuple[str, str]]:
        with self._connect() as db:
            return db.execute("SELECT id, body FROM outbox ORDER BY id").fetchall()

    def delete_outbox(self, id: str) -> None:
        with self._connect() as db:
            db.execute("DELETE FROM outbox WHERE id = ?", (id,))

    def events_since(self, cursor: str | None) -> tuple[list[DataReady], str | None]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT seq, body FROM events WHERE seq > ? ORDER BY seq", (int(cursor or 0),)
            ).fetchall()
        events = [DataReady.from_dict(json.loads(body)) for _, body in rows]
        return events, str(rows[-1][0]) if rows else cursor

    def touch(self, rule: str, partition: str, at: datetime) -> Pending:
        with self._connect() as db:
            db.execute(
                "INSERT OR IGNORE INTO pending VALUES (?, ?, ?)",
                (rule, partition, json.dumps(asdict(Pending(rule, partition, _stamp(at))))),
            )
            (body,) = db.execute(
                "SELECT body FROM pending WHERE rule = ? AND partition = ?", (rule, partition)
            ).fetchone()
        return Pending(**json.loads(body))

    def pending(self) -> list[Pending]:
        with self._connect() as db:
            rows = db.execute("SELECT body FROM pending ORDER BY rule, partition").fetchall()
        return [Pending(**json.loads(body)) for (body,) in rows]

    def set_pending(self, pending: Pending) -> None:
        with self._connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO pending VALUES (?, ?, ?)",
                (pending.rule, pending.partition, json.dumps(asdict(pending))),
            )

    def clear_pending(self, rule: str, partition: str) -> None:
        with self._connect() as db:
            db.execute("DELETE FROM pending WHERE rule = ? AND partition = ?", (rule, partition))

    def put_dead_letter(self, record: DeadLetter) -> bool:
        with self._connect() as db:
            inserted = db.execute(
                "INSERT OR IGNORE INTO dead_letters VALUES (?, ?, ?)",
                (record.id, record.created_at, json.dumps(asdict(record))),
            ).rowcount
        return inserted == 1

    def _put_dead_letter_body(self, record: DeadLetter) -> None:
        with self._connect() as db:
            db.execute(
                "UPDATE dead_letters SET body = ? WHERE id = ?",
                (json.dumps(asdict(record)), record.id),
            )

    def dead_letters(self, include_resolved: bool = False) -> list[DeadLetter]:
        with self._connect() as db:
            rows = db.execute("SELECT body FROM dead_letters ORDER BY created_at, id").fetchall()
        found = [_dead_letter(body) for (body,) in rows]
        return [d for d in found if include_resolved or d.resolved_at is None]

    def get_dead_letter(self, id: str) -> DeadLetter | None:
        with self._connect() as db:
            row = db.execute("SELECT body FROM dead_letters WHERE id = ?", (id,)).fetchone()
        return _dead_letter(row[0]) if row else None
