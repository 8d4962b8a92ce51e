"""The history record of one partition's compaction, kept in resources/compaction_history.py.

A record is written as `started` before anything is staged, so a run that dies leaves a record
naming the folder it was writing; the next run, holding the dataset's lease, knows that run is
dead and cleans the folder up (`abandoned`). A schema migration (migration.py) is the same
rewrite with a cast, recorded the same way with the version it migrated to.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

Outcome = Literal["started", "compacted", "aborted", "failed", "abandoned"]
OUTCOMES: tuple[Outcome, ...] = ("started", "compacted", "aborted", "failed", "abandoned")


@dataclass(frozen=True)
class CompactionRecord:
    run_id: str
    dataset: str
    partition: str
    started_at: str  # ISO 8601 in UTC
    outcome: Outcome
    replaced_run_id: str  # the version it read: the optimistic check's expectation
    location: str  # the folder it writes the compacted version to
    files_before: int
    bytes_before: int
    files_after: int = 0
    bytes_after: int = 0
    rows: int = 0
    duration_seconds: float = 0.0
    reason: str | None = None  # why it was aborted, failed or abandoned
    # A schema migration's rewrite: the schema version it cast the partition to (ADR-0027).
    migrated_to: str | None = None

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, not {self.outcome!r}")

    def finished(self, outcome: Outcome, **changes: Any) -> CompactionRecord:
        return replace(self, outcome=outcome, **changes)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CompactionRecord:
        return cls(**data)
