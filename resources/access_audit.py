"""The access audit trail: every access decision, appended and never changed.

SQLite is the embedded default (`<lake>/_state/access_audit.db`); DynamoAccessAudit
(resources/aws/dynamo_access_audit.py) serves the aws profile. Both keep each entry's JSON body
(lake_assets/access/audit.py AuditEntry) under its decision id, refuse a second entry with the
same id, and offer no way to change or remove one: locally triggers refuse UPDATE and DELETE,
on AWS the roles are granted no call that could (terraform/iam.tf).
"""

from __future__ import annotations

import json
import sqlite3
from abc import ABC, abstractmethod
from pathlib import Path

from lake_assets.access.audit import AuditEntry
from lake_assets.instants import format_instant
from resources.registry_store import connect_sqlite


class AuditConflict(RuntimeError):
    """An entry with this decision id is in the trail already."""


class AccessAuditTrail(ABC):
    @abstractmethod
    def append(self, entry: AuditEntry) -> None:
        """Add `entry`; AuditConflict when its decision id is recorded already."""

    @abstractmethod
    def entries(self, since: str | None = None) -> list[AuditEntry]:
        """Every entry (asked at or after `since`, an instant as lake_assets/instants.py reads
        it), oldest first."""


def _ordered(entries: list[AuditEntry]) -> list[AuditEntry]:
    return sorted(entries, key=lambda e: (e.at, e.decision_id))


class SQLiteAccessAuditTrail(AccessAuditTrail):
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute(
                """CREATE TABLE IF NOT EXISTS access_audit (
                    decision_id TEXT PRIMARY KEY, at TEXT NOT NULL, body TEXT NOT NULL)"""
            )
            db.execute("CREATE INDEX IF NOT EXISTS access_audit_at ON access_audit (at)")
            for change in ("UPDATE", "DELETE"):
                db.execute(
                    f"""CREATE TRIGGER IF NOT EXISTS access_audit_no_{change.lower()}
                    BEFORE {change} ON access_audit
                    BEGIN SELECT RAISE(ABORT, 'the access audit trail is append-only'); END"""
                )

    def _connect(self) -> sqlite3.Connection:
        return connect_sqlite(self.path)

    def append(self, entry: AuditEntry) -> None:
        try:
            with self._connect() as db:
                db.execute(
                    "INSERT INTO access_audit VALUES (?, ?, ?)",
                    (entry.decision_id, entry.at, json.dumps(entry.to_json(), sort_keys=True)),
                )
        except sqlite3.IntegrityError:
            raise AuditConflict(
                f"decision {entry.decision_id} is in the audit trail already"
            ) from None

    def entries(self, since: str | None = None) -> list[AuditEntry]:
        since = since and format_instant(since)  # `at` is UTC ISO 8601: text order is time order
        with self._connect() as db:
            rows = db.execute(
                "SELECT body FROM access_audit WHERE ? IS NULL OR at >= ?", (since, since)
            ).fetchall()
        return _ordered([AuditEntry.from_json(json.loads(body)) for (body,) in rows])
