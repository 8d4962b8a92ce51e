"""Where each curated column's classification lives: the catalog's column metadata.

Per dataset and column the store keeps automation's latest classification and an operator's
decision (which automation never overwrites), each a ColumnClassification with its candidates,
evidence, classifier version and partition range; beside them each column's baseline profile
(what drift is measured against) and which published version of each partition was classified.
SQLite next to the catalog locally; on aws the classification is Glue column `Parameters`
(resources/aws/glue_classification.py).
"""

from __future__ import annotations

import json
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from lake_assets.classification.model import SENSITIVITIES, ColumnClassification
from resources.registry_store import connect_sqlite, write_transaction


@dataclass(frozen=True)
class ColumnRecord:
    """What the catalog holds for one column."""

    dataset: str
    column: str
    automated: ColumnClassification | None = None  # the classifier's latest opinion
    decision: ColumnClassification | None = None  # an operator's, decided_by="operator"

    @property
    def current(self) -> ColumnClassification | None:
        """The column's classification: the operator's decision wins over automation."""
        return self.decision or self.automated

    @property
    def disagreement(self) -> str | None:
        """Where automation's opinion now differs from the operator's decision, said so."""
        if self.decision is None or self.automated is None:
            return None
        if self.automated.semantic_type == self.decision.semantic_type:
            return None
        said = self.automated.semantic_type or "needs review"
        return (
            f"automation now says {said} ({self.automated.confidence:.2f}, classifier "
            f"{self.automated.classifier_version}, partitions "
            f"{'..'.join(self.automated.partitions)}); the operator decided "
            f"{self.decision.semantic_type}"
        )

    @property
    def fingerprint(self) -> tuple:
        """What a write compares: the evidence digests and who decided what. A classification
        of another partition with the same evidence changes nothing, so nothing is written."""
        return tuple(
            (c.evidence_digest, c.semantic_type, c.sensitivity, c.decided_by, c.reason)
            if c
            else None
            for c in (self.automated, self.decision)
        )

    def to_json(self) -> dict:
        return {
            "automated": self.automated.to_json() if self.automated else None,
            "decision": self.decision.to_json() if self.decision else None,
        }

    @classmethod
    def from_json(cls, dataset: str, column: str, body: dict) -> ColumnRecord:
        return cls(
            dataset,
            column,
            *(
                ColumnClassification.from_json(body[part]) if body.get(part) else None
                for part in ("automated", "decision")
            ),
        )


def keeping_decision(record: ColumnRecord, stored: ColumnRecord | None) -> ColumnRecord:
    """Automation's `record` over what the store holds now: its opinion replaces the stored
    one, and the stored decision stays, including one an operator made after the run read it."""
    return replace(record, decision=stored.decision if stored else None)


def changed_records(
    stored: dict[str, ColumnRecord], records: Sequence[ColumnRecord]
) -> list[ColumnRecord]:
    """The records whose fingerprint differs from the stored one's (or that are new)."""
    return [
        r
        for r in records
        if r.column not in stored or stored[r.column].fingerprint != r.fingerprint
    ]


def highest_sensitivity(records: Sequence[ColumnRecord]) -> str | None:
    """The dataset's highest sensitivity over its labelled columns (pii first)."""
    found = {r.current.sensitivity for r in records if r.current and r.current.sensitivity}
    return next((level for level in SENSITIVITIES if level in found), None)


class ClassificationStore(ABC):
    @abstractmethod
    def columns(self, dataset: str) -> dict[str, ColumnRecord]:
        """Every classified column of a dataset."""

    @abstractmethod
    def write(
        self, dataset: str, records: Sequence[ColumnRecord], *, keep_decisions: bool = False
    ) -> list[str]:
        """Store `records`, writing only those whose fingerprint changed; returns their columns.
        `keep_decisions` (automation's writes): each record's `automated` replaces the stored
        one and the decision the store holds at write time is kept (keeping_decision)."""

    @abstractmethod
    def baselines(self, dataset: str) -> dict[str, dict]:
        """Column -> its baseline profile (a ColumnProfile's JSON)."""

    @abstractmethod
    def put_baselines(self, dataset: str, baselines: dict[str, dict]) -> None: ...

    @abstractmethod
    def classified(self, dataset: str) -> dict[str, str]:
        """Partition -> the published run id whose version was classified."""

    @abstractmethod
    def mark_classified(self, dataset: str, partition: str, run_id: str) -> None: ...

    def changed(self, dataset: str, records: Sequence[ColumnRecord]) -> list[ColumnRecord]:
        return changed_records(self.columns(dataset), records)


class SQLiteClassificationStore(ClassificationStore):
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with connect_sqlite(self.path) as db:
            db.executescript(
                """
                CREATE TABLE IF NOT EXISTS columns (
                    dataset TEXT NOT NULL, column_name TEXT NOT NULL, body TEXT NOT NULL,
                    PRIMARY KEY (dataset, column_name));
                CREATE TABLE IF NOT EXISTS baselines (
                    dataset TEXT NOT NULL, column_name TEXT NOT NULL, profile TEXT NOT NULL,
                    PRIMARY KEY (dataset, column_name));
                CREATE TABLE IF NOT EXISTS classified (
                    dataset TEXT NOT NULL, partition TEXT NOT NULL, run_id TEXT NOT NULL,
                    PRIMARY KEY (dataset, partition));
                """
            )

    def _rows(self, sql: str, *args) -> list[tuple]:
        with connect_sqlite(self.path) as db:
            return db.execute(sql, args).fetchall()

    def columns(self, dataset: str) -> dict[str, ColumnRecord]:
        with connect_sqlite(self.path) as db:
            return _columns(db, dataset)

    def write(
        self, dataset: str, records: Sequence[ColumnRecord], *, keep_decisions: bool = False
    ) -> list[str]:
        # The write lock before reading: a decision `lake classify set` saved since the run read
        # the store is seen here, and kept.
        with write_transaction(self.path) as db:
            stored = _columns(db, dataset)
            if keep_decisions:
                records = [keeping_decision(r, stored.get(r.column)) for r in records]
            changed = changed_records(stored, records)
            db.executemany(
                "INSERT INTO columns VALUES (?, ?, ?) ON CONFLICT (dataset, column_name) "
                "DO UPDATE SET body = excluded.body",
                [(dataset, r.column, json.dumps(r.to_json(), sort_keys=True)) for r in changed],
            )
        return [r.column for r in changed]

    def baselines(self, dataset: str) -> dict[str, dict]:
        rows = self._rows("SELECT column_name, profile FROM baselines WHERE dataset = ?", dataset)
        return {column: json.loads(profile) for column, profile in rows}

    def put_baselines(self, dataset: str, baselines: dict[str, dict]) -> None:
        with connect_sqlite(self.path) as db:
            db.executemany(
                "INSERT OR REPLACE INTO baselines VALUES (?, ?, ?)",
                [(dataset, c, json.dumps(p, sort_keys=True)) for c, p in baselines.items()],
            )

    def classified(self, dataset: str) -> dict[str, str]:
        return dict(
            self._rows("SELECT partition, run_id FROM classified WHERE dataset = ?", dataset)
        )

    def mark_classified(self, dataset: str, partition: str, run_id: str) -> None:
        with connect_sqlite(self.path) as db:
            db.execute(
                "INSERT OR REPLACE INTO classified VALUES (?, ?, ?)", (dataset, partition, run_id)
            )


def _columns(db: sqlite3.Connection, dataset: str) -> dict[str, ColumnRecord]:
    rows = db.execute(
        "SELECT column_name, body FROM columns WHERE dataset = ? ORDER BY rowid", (dataset,)
    ).fetchall()
    return {c: ColumnRecord.from_json(dataset, c, json.loads(body)) for c, body in rows}
