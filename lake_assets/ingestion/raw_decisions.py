"""Operator decisions on one raw object, recorded in the raw-file index. Dagster-free.

A valid file can still block a partition (a reader disagreement, a file the business disowns),
and a snapshot delivery with no rows may be a producer's failure rather than "everyone was
deleted". Neither is fixed by deleting bytes: the object stays in raw, its index record changes
status (SET_ASIDE, HELD_EMPTY), keeps its row counts for reconciliation, and carries the trail of
who decided what, when and why. Promotion plans only PROFILED objects, so the decision takes
effect at the next promotion of the object's event dates; each decision is reversible.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from lake_assets.ingestion.raw_zone import RawFile
from lake_assets.settings import SourceConfig
from resources.notifier import Alert, Notifier
from resources.registry_store import RegistryStore

if TYPE_CHECKING:  # the profiler imports pyarrow, which deciding on a raw object does not need
    from lake_assets.ingestion.profiling import FileProfile

PROFILED, SET_ASIDE, HELD_EMPTY = "PROFILED", "SET_ASIDE", "HELD_EMPTY"
EMPTY_SNAPSHOT = "snapshot delivery with no rows: held until an operator confirms it"


class RawDecisionRefused(ValueError):
    """The decision does not apply to the object in its current status; the message says why."""


def _decide(
    registry: RegistryStore,
    source_id: str,
    key: str,
    action: str,
    allowed_from: tuple[str, ...],
    to: str | None,
    by: str,
    reason: str | None,
    now: datetime | None,
) -> RawFile:
    record = registry.get_raw_file(source_id, key)
    if record is None:
        raise LookupError(f"{source_id} has no raw object {key!r} in its file index")
    if record.status not in allowed_from:
        raise RawDecisionRefused(
            f"{key} is {record.status}; {action} applies to {' or '.join(allowed_from)} objects"
        )
    if to is None:  # back to the status the last set-aside found
        to = next(d["from"] for d in reversed(record.decisions) if d["action"] == "set-aside")
    decision = {
        "action": action,
        "from": record.status,
        "to": to,
        "reason": reason,
        "by": by,
        "at": (now or datetime.now(UTC)).isoformat(),
    }
    updated = replace(
        record,
        status=to,
        reason={SET_ASIDE: reason, HELD_EMPTY: EMPTY_SNAPSHOT}.get(to),
        decisions=[*record.decisions, decision],
    )
    registry.put_raw_file(updated)
    return updated


def set_aside(
    registry: RegistryStore,
    notifier: Notifier,
    source_id: str,
    key: str,
    reason: str,
    by: str,
    now: datetime | None = None,
) -> RawFile:
    """Exclude one raw object from promotion; its bytes and row counts stay."""
    if not reason.strip():
        raise RawDecisionRefused("a set-aside needs a reason")
    record = _decide(
        registry, source_id, key, "set-aside", (PROFILED, HELD_EMPTY), SET_ASIDE, by, reason, now
    )
    notifier.send(
        Alert(
            kind="raw.set_aside",
            subject=f"{source_id}: raw object set aside by {by}",
            detail={"source_id": source_id, "raw_key": key, "reason": reason, "by": by},
        )
    )
    return record


def restore(
    registry: RegistryStore, source_id: str, key: str, by: str, now: datetime | None = None
) -> RawFile:
    """Undo a set-aside: the object returns to the status it had before."""
    return _decide(registry, source_id, key, "restore", (SET_ASIDE,), None, by, None, now)


def confirm_empty(
    registry: RegistryStore, source_id: str, key: str, by: str, now: datetime | None = None
) -> RawFile:
    """Accept a held empty snapshot: promoted, it replaces the earlier delivery of its dates."""
    return _decide(
        registry, source_id, key, "confirm-empty", (HELD_EMPTY,), PROFILED, by, None, now
    )


def hold_empty_snapshot(
    notifier: Notifier, source: SourceConfig, record: RawFile, profile: FileProfile
) -> bool:
    """Hold a snapshot delivery with no rows (ADR-0024 would let it replace a full day).

    Marks `record` HELD_EMPTY and alerts; the caller writes the record. False for anything else.
    """
    if source.delivery != "snapshot" or profile.row_count > 0:
        return False
    record.status = HELD_EMPTY
    record.reason = EMPTY_SNAPSHOT
    notifier.send(
        Alert(
            kind="snapshot.empty_held",
            subject=f"{source.source_id}: empty snapshot delivery held",
            detail={
                "source_id": source.source_id,
                "raw_key": record.key,
                "ingest_date": record.ingest_date,
                "reason": record.reason,
                "confirm_with": f"lake raw confirm-empty {source.source_id} {record.key}",
                "or_set_aside_with": f"lake raw set-aside {source.source_id} {record.key} "
                "--reason ...",
            },
        )
    )
    return True
