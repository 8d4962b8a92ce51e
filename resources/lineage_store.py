"""Persistence of lineage records (one per run and state), behind one interface.

SQLite is the embedded default; DynamoLineageStore (resources/aws/dynamo_lineage.py) serves the
aws profile with the same keys: PK `run_id`, SK `state`. A trace needs the whole graph, so
`runs()` returns every record and the walking happens in memory (lake_assets/lineage/graph.py).
"""

from __future__ import annotations

import json
import sqlite3
from abc import ABC, abstractmethod
from pathlib import Path

from lake_assets.lineage.graph import completed_with
from lake_assets.lineage.model import LineageRun
from resources.registry_store import connect_sqlite, write_transaction


class LineageStore(ABC):
    @abstractmethod
    def put_run(self, run: LineageRun) -> LineageRun:
        """Insert or replace the record for (run.run_id, run.state), a COMPLETE one merged with
        the one kept, in one step (graph.completed_with); the record as kept."""

    @abstractmethod
    def runs(self) -> list[LineageRun]:
        """Every record, ordered by run id then state."""

    @abstractmethod
    def breaker_state(self) -> dict | None:
        """The lineage server's circuit breaker, as LineageRecorder keeps it (None: never kept)."""

    @abstractmethod
    def put_breaker_state(self, state: dict) -> None:
        """Replace the lineage server's circuit breaker state."""

    def runs_touching(self, key: str) -> list[LineageRun]:
        """Records that read or wrote `key`."""
        return [run for run in self.runs() if key in run.inputs or key in run.outputs]


class SQLiteLineageStore(LineageStore):
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute(
                """CREATE TABLE IF NOT EXISTS lineage_runs (
                    run_id TEXT NOT NULL, state TEXT NOT NULL, job TEXT NOT NULL,
                    body TEXT NOT NULL, PRIMARY KEY (run_id, state))"""
            )
            db.execute(
                """CREATE TABLE IF NOT EXISTS lineage_breaker (
                    one INTEGER PRIMARY KEY CHECK (one = 1), body TEXT NOT NULL)"""
            )

    def _connect(self) -> sqlite3.Connection:
        return connect_sqlite(self.path)

    def put_run(self, run: LineageRun) -> LineageRun:
        with write_transaction(self.path) as db:  # the write lock before the read it merges with
            row = db.execute(
                "SELECT body FROM lineage_runs WHERE run_id = ? AND state = ?",
                (run.run_id, run.state),
            ).fetchone()
            run = completed_with(LineageRun.from_dict(json.loads(row[0])) if row else None, run)
            db.execute(
                "INSERT OR REPLACE INTO lineage_runs VALUES (?, ?, ?, ?)",
                (run.run_id, run.state, run.job, json.dumps(run.to_dict())),
            )
        return run

    def runs(self) -> list[LineageRun]:
        with self._connect() as db:
            rows = db.execute("SELECT body FROM lineage_runs ORDER BY run_id, state").fetchall()
        return [LineageRun.from_dict(json.loads(body)) for (body,) in rows]

    def breaker_state(self) -> dict | None:
        with self._connect() as db:
            row = db.execute("SELECT body FROM lineage_breaker").fetchone()
        return json.loads(row[0]) if row else None

    def put_breaker_state(self, state: dict) -> None:
        with self._connect() as db:
            db.execute("INSERT OR REPLACE INTO lineage_breaker VALUES (1, ?)", (json.dumps(state),))
