"""Persistence of the schema registry and the raw-file index, behind one interface.

SQLite is the embedded default; DynamoDB (resources/aws/dynamo_registry.py) serves the aws
profile with the same keys: PK `source_id`, SK `version#<timestamp>` for versions, SK = object
key for files.
"""

from __future__ import annotations

import json
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

from lake_assets.ingestion.raw_zone import RawFile
from lake_assets.ingestion.schema_versions import SchemaVersion


def connect_sqlite(path: Path, isolation_level: str | None = "") -> sqlite3.Connection:
    """A connection to an embedded store: WAL, so readers never block the one writer, and a
    generous timeout for the writer lock. Shared by every SQLite store of the local profile."""
    db = sqlite3.connect(path, timeout=30, isolation_level=isolation_level)
    db.execute("PRAGMA journal_mode=WAL")
    return db


@contextmanager
def write_transaction(path: Path) -> Iterator[sqlite3.Connection]:
    """A connection holding the write lock from its first statement (BEGIN IMMEDIATE), so a read
    and the write made from it are one step; committed when the block ends, rolled back if it
    raises."""
    db = connect_sqlite(path, isolation_level=None)
    try:
        db.execute("BEGIN IMMEDIATE")
        yield db
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    finally:
        db.close()


class VersionConflict(RuntimeError):
    """A version with this key already exists (two writers raced to register it)."""


class RegistryStore(ABC):
    @abstractmethod
    def versions(self, source_id: str) -> list[SchemaVersion]:
        """Every version of a source, oldest first."""

    @abstractmethod
    def put_version(self, version: SchemaVersion) -> None:
        """Insert a new version; raises VersionConflict if its key exists."""

    @abstractmethod
    def update_version(self, version: SchemaVersion) -> None:
        """Replace an existing version (status changes, approvals, promoted_at)."""

    @abstractmethod
    def raw_files(self, source_id: str) -> list[RawFile]:
        """Every indexed raw object of a source, in key order."""

    @abstractmethod
    def get_raw_file(self, source_id: str, key: str) -> RawFile | None: ...

    @abstractmethod
    def put_raw_file(self, record: RawFile) -> None:
        """Insert or replace the record for `record.key`."""

    @abstractmethod
    def claim_content(self, source_id: str, sha256: str, key: str) -> str:
        """Claim a content hash for the raw object `key`, unless an object of the source claimed
        it first; returns the claiming object's key. Atomic: of racing claims, one wins."""

    def version(self, source_id: str, version: str) -> SchemaVersion:
        for candidate in self.versions(source_id):
            if candidate.version == version:
                return candidate
        known = ", ".join(v.version for v in self.versions(source_id)) or "none"
        raise KeyError(f"source {source_id!r} has no version {version!r}; versions: {known}")


class SQLiteRegistryStore(RegistryStore):
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.executescript(
                """
                CREATE TABLE IF NOT EXISTS schema_versions (
                    source_id TEXT NOT NULL, version TEXT NOT NULL, body TEXT NOT NULL,
                    PRIMARY KEY (source_id, version));
                CREATE TABLE IF NOT EXISTS raw_files (
                    source_id TEXT NOT NULL, key TEXT NOT NULL, body TEXT NOT NULL,
                    PRIMARY KEY (source_id, key));
                CREATE TABLE IF NOT EXISTS content_claims (
                    source_id TEXT NOT NULL, sha256 TEXT NOT NULL, key TEXT NOT NULL,
                    PRIMARY KEY (source_id, sha256));
                """
            )

    def _connect(self) -> sqlite3.Connection:
        return connect_sqlite(self.path)

    def versions(self, source_id: str) -> list[SchemaVersion]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT body FROM schema_versions WHERE source_id = ? ORDER BY version",
                (source_id,),
            ).fetchall()
        return [SchemaVersion.from_dict(json.loads(body)) for (body,) in rows]

    def put_version(self, version: SchemaVersion) -> None:
        try:
            with self._connect() as db:
                db.execute(
                    "INSERT INTO schema_versions VALUES (?, ?, ?)",
                    (version.source_id, version.version, json.dumps(version.to_dict())),
                )
        except sqlite3.IntegrityError:
            raise VersionConflict(f"{version.source_id} {version.version} exists") from None

    def update_version(self, version: SchemaVersion) -> None:
        with self._connect() as db:
            updated = db.execute(
                "UPDATE schema_versions SET body = ? WHERE source_id = ? AND version = ?",
                (json.dumps(version.to_dict()), version.source_id, version.version),
            ).rowcount
        if not updated:
            raise KeyError(f"source {version.source_id!r} has no version {version.version!r}")

    def raw_files(self, source_id: str) -> list[RawFile]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT body FROM raw_files WHERE source_id = ? ORDER BY key", (source_id,)
            ).fetchall()
        return [RawFile(**json.loads(body)) for (body,) in rows]

    def get_raw_file(self, source_id: str, key: str) -> RawFile | None:
        with self._connect() as db:
            row = db.execute(
                "SELECT body FROM raw_files WHERE source_id = ? AND key = ?", (source_id, key)
            ).fetchone()
        return RawFile(**json.loads(row[0])) if row else None

    def put_raw_file(self, record: RawFile) -> None:
        with self._connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO raw_files VALUES (?, ?, ?)",
                (record.source_id, record.key, json.dumps(asdict(record))),
            )

    def claim_content(self, source_id: str, sha256: str, key: str) -> str:
        with self._connect() as db:
            db.execute(
                "INSERT OR IGNORE INTO content_claims VALUES (?, ?, ?)", (source_id, sha256, key)
            )
            (owner,) = db.execute(
                "SELECT key FROM content_claims WHERE source_id = ? AND sha256 = ?",
                (source_id, sha256),
            ).fetchone()
        return owner
