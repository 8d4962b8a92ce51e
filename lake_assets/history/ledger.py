"""Which snapshots a history has absorbed, and what a new delivery means for it.

Pure: the ledger of applied snapshots and the incoming ones in, a decision out. The decision is
the heart of out-of-order handling (ADR-0023): a snapshot older than the newest one applied is
either refused or makes the history be recomputed from its date, never appended after the
newer one as if it had happened later.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from lake_assets.settings import OutOfOrderPolicy


class OutOfOrderSnapshot(RuntimeError):
    """A snapshot older than the newest applied one arrived and the policy is `reject`."""

    def __init__(self, dataset: str, late: list[str], newest_applied: str):
        self.dataset, self.late, self.newest_applied = dataset, late, newest_applied
        super().__init__(
            f"{dataset}: snapshot(s) {', '.join(late)} arrived after {newest_applied} was applied "
            "and the out_of_order policy is reject; they were not applied. To accept them, set "
            f"history.out_of_order: resequence in pipelines/{dataset}.yaml, run `lake generate` and "
            "re-materialize those partitions: the history is then recomputed from the earliest."
        )


def snapshot_fingerprint(manifest: Mapping) -> str:
    """The identity of a published snapshot: the raw files it was built from, its row count and
    schema version (as ADR-0021 identifies a partition). A republish of the same inputs, or a
    compaction, keeps it; a re-delivery or a new schema version changes it."""
    body = {
        "inputs": sorted(manifest.get("inputs") or []),
        "row_count": manifest["row_count"],
        "schema_version": manifest["schema_version"],
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class ApplyPlan:
    """What to do with a set of incoming snapshots (event date -> fingerprint)."""

    recompute_from: str | None  # the earliest snapshot date whose consequences change
    dates: tuple[str, ...]  # every snapshot to (re)read, in date order, from recompute_from on
    appended: tuple[str, ...] = ()  # newer than anything applied
    corrected: tuple[str, ...] = ()  # applied before, delivered again with other content
    resequenced: tuple[str, ...] = ()  # older than the newest applied, never applied before
    rejected: tuple[str, ...] = ()  # out of order under the reject policy: not applied
    unchanged: tuple[str, ...] = ()  # applied before with the same content: nothing to do
    notes: list[str] = field(default_factory=list)

    @property
    def is_noop(self) -> bool:
        return self.recompute_from is None


def plan_apply(
    applied: Mapping[str, str], incoming: Mapping[str, str], policy: OutOfOrderPolicy
) -> ApplyPlan:
    """Decide how incoming snapshots change a history that has absorbed `applied`.

    Both map snapshot date -> fingerprint. A correction (an applied date with new content) is
    always recomputed: it is the source amending its own past. A date older than the newest
    applied one that was never applied is out of order; `policy` decides.
    """
    newest = max(applied, default=None)
    appended, corrected, resequenced, rejected, unchanged = [], [], [], [], []
    for day in sorted(incoming):
        if day in applied:
            (unchanged if applied[day] == incoming[day] else corrected).append(day)
        elif newest is None or day > newest:
            appended.append(day)
        elif policy == "resequence":
            resequenced.append(day)
        else:
            rejected.append(day)
    changed = [*appended, *corrected, *resequenced]
    if not changed:
        return ApplyPlan(None, (), unchanged=tuple(unchanged), rejected=tuple(rejected))
    start = min(changed)
    dates = sorted({*(d for d in applied if d >= start), *changed})
    notes = []
    if resequenced:
        notes.append(
            f"out of order: {', '.join(resequenced)} arrived after {newest}; "
            f"history recomputed from {start} over {len(dates)} snapshots"
        )
    if corrected:
        notes.append(f"corrected snapshots {', '.join(corrected)}: recomputed from {start}")
    return ApplyPlan(
        recompute_from=start,
        dates=tuple(dates),
        appended=tuple(appended),
        corrected=tuple(corrected),
        resequenced=tuple(resequenced),
        rejected=tuple(rejected),
        unchanged=tuple(unchanged),
        notes=notes,
    )
