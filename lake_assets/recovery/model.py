"""What a catalog export holds and what restoring it would do, as data.

The catalog (Glue on AWS, SQLite locally) says which folder holds each partition's published
version; the bucket holds the folders. A replica of the bucket therefore needs the pointers too:
an export is every current pointer at one instant, written under `_recovery/catalog/` and
replicated with everything else. Restoring puts each partition back at the newest exported
version whose files are all in the bucket it restores from, so a reader never resolves a version
that replication had not finished copying (the failure mode: a pointer restored ahead of its
files).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime

from resources.catalog import PublishedPartition, SupersededLocation

EXPORT_PREFIX = "_recovery/catalog/"
EXPORT_FORMAT = 1


def export_key(exported_at: datetime) -> str:
    """Sortable by time: the newest export is the last key listed."""
    return f"{EXPORT_PREFIX}{exported_at.strftime('%Y%m%dT%H%M%S%fZ')}.json"


def export_document(
    partitions: list[PublishedPartition],
    superseded: list[SupersededLocation],
    exported_at: datetime,
) -> bytes:
    return json.dumps(
        {
            "format": EXPORT_FORMAT,
            "exported_at": exported_at.isoformat(),
            "partitions": [asdict(p) for p in partitions],
            "superseded": [asdict(s) for s in superseded],
        },
        indent=1,
    ).encode()


@dataclass(frozen=True)
class CatalogExport:
    key: str
    exported_at: datetime
    partitions: tuple[PublishedPartition, ...]
    # The versions the catalog kept for rollback until they expire (tables/rollback.py).
    superseded: tuple[SupersededLocation, ...] = ()


class ExportError(ValueError):
    """An export that cannot be read: names the key, the field and why."""


def parse_export(key: str, data: bytes) -> CatalogExport:
    try:
        document = json.loads(data)
    except ValueError as error:
        raise ExportError(f"{key}: not JSON ({error})") from None
    if not isinstance(document, dict) or document.get("format") != EXPORT_FORMAT:
        raise ExportError(f"{key}: field 'format' must be {EXPORT_FORMAT}")
    try:
        exported_at = datetime.fromisoformat(document["exported_at"])
    except (KeyError, TypeError, ValueError):
        raise ExportError(f"{key}: field 'exported_at' must be an ISO timestamp") from None
    partitions = tuple(
        _entries(key, "partitions", document.get("partitions", []), PublishedPartition)
    )
    superseded = tuple(
        _entries(key, "superseded", document.get("superseded", []), SupersededLocation)
    )
    return CatalogExport(key, exported_at, partitions, superseded)


def _entries(key: str, name: str, entries: list, kind: type) -> list:
    known = {f.name for f in fields(kind)}
    found = []
    for number, entry in enumerate(entries):
        unknown = set(entry) - known if isinstance(entry, dict) else {"(not an object)"}
        if unknown:
            raise ExportError(f"{key}: {name}[{number}] has unknown fields {sorted(unknown)}")
        try:
            found.append(kind(**entry))
        except TypeError as error:
            raise ExportError(f"{key}: {name}[{number}]: {error}") from None
    return found


# What restoring does to one partition.
RESTORE, ALREADY, KEPT, LOST = "restore", "already there", "kept (differs)", "lost"


@dataclass(frozen=True)
class PartitionRecovery:
    dataset: str
    partition: str
    outcome: str
    version: PublishedPartition | None  # what the partition is restored to (None: lost)
    from_export: str | None = None  # the export the version comes from
    older: bool = False  # an older export's version: the newest one's files are not all here
    missing: tuple[str, ...] = ()  # what the newest export's version lacks here
    replaces: str = ""  # the run the catalog held when planned ("" none): the publish's check


@dataclass
class RecoveryPlan:
    export: CatalogExport
    partitions: list[PartitionRecovery] = field(default_factory=list)
    # Versions published after the export (their manifests are in the bucket): not restored.
    published_after: list[PublishedPartition] = field(default_factory=list)
    # The export's superseded versions whose folders are here: kept again, for rollback.
    superseded: list[SupersededLocation] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for p in self.partitions:
            counts[p.outcome] = counts.get(p.outcome, 0) + 1
        return counts

    @property
    def lost(self) -> list[PartitionRecovery]:
        return [p for p in self.partitions if p.outcome == LOST]

    @property
    def older(self) -> list[PartitionRecovery]:
        return [p for p in self.partitions if p.older and p.outcome != LOST]


def plan_recovery(
    newest: CatalogExport,
    older: Iterable[CatalogExport],  # newest first; read only as far as a partition needs
    missing_files: Callable[[PublishedPartition], tuple[str, ...]],  # what this bucket lacks
    current: Callable[[str, str], PublishedPartition | None],  # the catalog restored into
    replace: bool = False,
) -> RecoveryPlan:
    """Each partition of the newest export at the newest exported version whose files are all
    here, looking back through older exports; a partition the catalog already holds at another
    version is kept unless `replace`."""
    missing = {(p.dataset, p.partition): missing_files(p) for p in newest.partitions}
    fallback: dict[tuple[str, str], tuple[PublishedPartition, str]] = {}
    wanting = {k for k, lacks in missing.items() if lacks}
    for export in older if wanting else ():
        for version in export.partitions:
            key = (version.dataset, version.partition)
            if key in wanting and not missing_files(version):
                fallback[key] = (version, export.key)
                wanting.discard(key)
        if not wanting:
            break
    plan = RecoveryPlan(newest)
    pointed = set()  # what the plan restores and what the catalog points at: never superseded
    for wanted in newest.partitions:
        key = (wanted.dataset, wanted.partition)
        chosen, source = (
            (wanted, newest.key) if not missing[key] else fallback.get(key, (None, None))
        )
        have = current(*key)
        pointed |= {v.location for v in (chosen, have) if v is not None}
        if chosen is None:
            outcome = LOST
        elif have is not None and have.run_id == chosen.run_id:
            outcome = ALREADY
        elif have is not None and not replace:
            outcome = KEPT
        else:
            outcome = RESTORE
        plan.partitions.append(
            PartitionRecovery(
                *key,
                outcome,
                chosen,
                source,
                bool(missing[key]),
                missing[key],
                have.run_id if have else "",
            )  # fmt: skip
        )
    # A kept partition may point at a version the export lists (rolled back since): a current
    # version is never listed as superseded (ADR-0193).
    plan.superseded = [s for s in newest.superseded if s.location not in pointed]
    return plan
