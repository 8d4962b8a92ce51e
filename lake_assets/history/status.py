"""Where a source's history stands: the snapshots it has absorbed, the published ones it has
not (pending), and its last apply. Read-only and Spark-free: the catalog, the history version's
manifest (its ledger) and the snapshots' manifests (their fingerprints), compared as the next
apply would compare them (ledger.plan_apply)."""

from __future__ import annotations

from dataclasses import dataclass

from lake_assets.history.apply import WHOLE_TABLE, history_dataset
from lake_assets.history.ledger import plan_apply, snapshot_fingerprint
from lake_assets.history.transactions import is_committed, transaction_of
from lake_assets.instants import format_instant
from lake_assets.settings import SourceConfig
from lake_assets.tables.manifest import read_manifest
from resources.catalog import PartitionCatalog
from resources.storage import LakeStorage


@dataclass(frozen=True)
class LastApply:
    """The apply that made the current version."""

    version: str  # its transaction id, run/attempt, as the rows name it
    committed_at: str | None  # None while switched in and not yet committed
    dates: tuple[str, ...]  # the snapshots it applied or recomputed
    recorded: int
    superseded: int
    rows: int

    def line(self) -> str:
        when = f"committed {self.committed_at}" if self.committed_at else "not yet committed"
        return (
            f"last apply: version {self.version}, {when}: {', '.join(self.dates)}; "
            f"{self.recorded} rows recorded, {self.superseded} superseded, {self.rows} in total"
        )


@dataclass(frozen=True)
class HistoryStatus:
    dataset: str
    applied: dict[str, dict]  # snapshot date -> ledger entry (fingerprint, applied_at, run_id)
    pending: dict[str, str]  # published snapshot date -> what applying it would be
    last_apply: LastApply | None

    def headline(self) -> str:
        applied = sorted(self.applied)
        span = f" ({applied[0]} .. {applied[-1]})" if applied else ""
        pending = f": {', '.join(self.pending)}" if self.pending else ""
        return (
            f"{self.dataset}: {len(applied)} snapshots applied{span}, "
            f"{len(self.pending)} pending{pending}"
        )

    def lines(self) -> list[str]:
        lines = [self.headline()]
        lines.append(f"  {self.last_apply.line()}" if self.last_apply else "  never applied")
        for day, entry in sorted(self.applied.items()):
            lines.append(
                f"  applied {day}: by run {entry['run_id']} (started {entry['applied_at']})"
            )
        for day, why in self.pending.items():
            lines.append(f"  pending {day}: {why}")
        return lines


def history_status(
    catalog: PartitionCatalog, storage: LakeStorage, source: SourceConfig
) -> HistoryStatus:
    """The status of `source`'s history as the catalog holds it now."""
    dataset = history_dataset(source.source_id)
    current = catalog.current(dataset, WHOLE_TABLE)
    manifest = read_manifest(storage, current) if current else {}
    ledger = manifest.get("applied", {})
    published = {
        p.partition: snapshot_fingerprint(read_manifest(storage, p))
        for p in catalog.partitions(source.source_id)
    }
    plan = plan_apply(
        {day: entry["fingerprint"] for day, entry in ledger.items()},
        published,
        source.history.out_of_order,
    )
    why = {
        **dict.fromkeys(plan.appended, "new"),
        **dict.fromkeys(plan.corrected, "delivered again since applied: a correction"),
        **dict.fromkeys(plan.resequenced, "older than the newest applied: resequenced"),
        **dict.fromkeys(plan.rejected, "older than the newest applied: refused (reject)"),
    }
    last = None
    if current is not None:
        run_id = transaction_of(current).rsplit("/", 1)[0]
        last = LastApply(
            version=transaction_of(current),
            committed_at=format_instant(current.published_at) if is_committed(current) else None,
            dates=tuple(sorted(d for d, e in ledger.items() if e["run_id"] == run_id)),
            recorded=manifest.get("recorded", 0),
            superseded=manifest.get("superseded", 0),
            rows=current.row_count,
        )
    return HistoryStatus(dataset, ledger, dict(sorted(why.items())), last)
