"""Where every received row is: the row reconciliation `lake status` prints for each source.

    received = published + quarantined + held late + not yet promoted + replaced
               + set aside + duplicate                                  (+ difference)

Received is every row profiling counted in a readable raw file (malformed lines included).
Each file's rows are split by event date as promotion assigns them (event_dates.partition_rows),
and each (file, event date) share is in exactly one place: in the published partition that was
built from the file (its published and quarantined rows are the catalog's and the manifest's),
held as a late arrival, replaced by a later delivery of a snapshot day, or not yet promoted.
Files set aside or recognised as duplicates are counted whole. A difference is a row lost or
doubled somewhere between raw and published; it is reported per partition.

Dead-lettered payloads could not be read, so they have no rows to count: they are reported in
files, as are raw objects not yet profiled. Dagster-free: plain data in, plain data out.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from lake_assets.ingestion.event_dates import partition_rows
from lake_assets.ingestion.intake import pending_objects
from lake_assets.ingestion.late_arrivals import LateArrival, late_arrivals
from lake_assets.ingestion.raw_zone import RawFile
from lake_assets.ingestion.schema_registry import source_field
from lake_assets.ingestion.schema_versions import SchemaVersion
from lake_assets.settings import SourceConfig
from lake_assets.tables.manifest import read_manifest
from resources.catalog import PartitionCatalog
from resources.registry_store import RegistryStore
from resources.storage import LakeStorage

PROFILED, DEAD_LETTER = "PROFILED", "DEAD_LETTER"
# Raw files kept and indexed but never promoted: counted whole, by their record's row count.
COUNTED_WHOLE = {"SET_ASIDE": "set_aside", "DUPLICATE": "duplicate"}
LISTED_DATES = 6  # not-yet-promoted date ranges printed before "and N more"


@dataclass(frozen=True)
class PartitionCount:
    """A published partition as the catalog and its manifest tell it."""

    partition: str
    published: int
    quarantined: int
    inputs: tuple[str, ...]  # the raw keys it was built from


@dataclass
class Reconciliation:
    source_id: str
    received: int = 0
    received_files: int = 0
    published: int = 0
    quarantined: int = 0
    held_late: int = 0
    not_yet_promoted: dict[str, int] = field(default_factory=dict)  # event date -> rows
    replaced: int = 0
    set_aside: int = 0
    duplicate: int = 0
    unreconciled: dict[str, int] = field(default_factory=dict)  # unknown file status -> rows
    dead_lettered_files: int = 0
    unprofiled_files: int = 0
    # Per published partition whose rows do not match its raw files: files' rows - written rows.
    partition_differences: dict[str, int] = field(default_factory=dict)

    @property
    def accounted(self) -> int:
        return (
            self.published
            + self.quarantined
            + self.held_late
            + sum(self.not_yet_promoted.values())
            + self.replaced
            + self.set_aside
            + self.duplicate
        )

    @property
    def difference(self) -> int:
        """Received rows not accounted for (negative: accounted for more than once)."""
        return self.received - self.accounted

    @property
    def balanced(self) -> bool:
        return self.difference == 0 and not self.unreconciled

    def lines(self) -> list[str]:
        pending = sum(self.not_yet_promoted.values())
        lines = [
            f"  received          {self.received:>9}  rows in {self.received_files} readable files",
            f"  published         {self.published:>9}",
            f"  quarantined       {self.quarantined:>9}",
            f"  held late         {self.held_late:>9}"
            + (f"  (lake late fold-in {self.source_id})" if self.held_late else ""),
            f"  not yet promoted  {pending:>9}" + _by_date(self.not_yet_promoted),
            f"  replaced          {self.replaced:>9}  (snapshot days delivered again)",
            f"  set aside         {self.set_aside:>9}",
            f"  duplicate         {self.duplicate:>9}",
        ]
        lines += [
            f"  status {status:<10} {rows:>9}  (not reconciled)"
            for status, rows in sorted(self.unreconciled.items())
        ]
        lines.append(
            f"  dead-lettered     {self.dead_lettered_files:>9}  files (unreadable: rows unknown)"
        )
        if self.unprofiled_files:
            lines.append(
                f"  not yet profiled  {self.unprofiled_files:>9}  files (lake profile --source "
                f"{self.source_id})"
            )
        verdict = "balanced" if self.balanced else "DOES NOT BALANCE"
        lines.append(
            f"  total             {self.accounted:>9}  accounted, difference {self.difference}: "
            + verdict
        )
        lines += [
            f"    {partition}: its raw files hold {rows:+d} rows more than it published and "
            "quarantined"
            for partition, rows in sorted(self.partition_differences.items())
        ]
        return lines


def _by_date(rows: dict[str, int]) -> str:
    """Not-yet-promoted rows by event date, consecutive days as one range."""
    ranges: list[list] = []  # [first, last, rows]
    for day in sorted(rows):
        if ranges and date.fromisoformat(day) - date.fromisoformat(ranges[-1][1]) == timedelta(1):
            ranges[-1][1:] = [day, ranges[-1][2] + rows[day]]
        else:
            ranges.append([day, day, rows[day]])
    shown = [
        f"{first}: {n}" if first == last else f"{first}..{last}: {n}"
        for first, last, n in ranges[:LISTED_DATES]
    ]
    if len(ranges) > LISTED_DATES:
        shown.append(f"and {len(ranges) - LISTED_DATES} more ranges")
    return f"  ({'; '.join(shown)})" if shown else ""


def reconcile(
    source: SourceConfig,
    versions: Sequence[SchemaVersion],
    raw_files: Sequence[RawFile],
    published: Iterable[PartitionCount],
    late: Iterable[LateArrival],
    unprofiled_files: int = 0,
) -> Reconciliation:
    """Account for every received row of one source."""
    account = Reconciliation(source.source_id, unprofiled_files=unprofiled_files)
    by_version = {v.version: v for v in versions}
    held = defaultdict(set)
    for arrival in late:
        if arrival.pending:
            held[arrival.raw_key].update(arrival.event_dates)
    built_from = defaultdict(set)
    for part in published:
        account.published += part.published
        account.quarantined += part.quarantined
        account.partition_differences[part.partition] = -(part.published + part.quarantined)
        for key in part.inputs:
            built_from[key].add(part.partition)

    shares: list[tuple[RawFile, str, int]] = []  # (file, event date, rows)
    for record in raw_files:
        if record.status == DEAD_LETTER:
            account.dead_lettered_files += 1
            continue
        rows = record.row_count + record.malformed_rows
        account.received += rows
        account.received_files += 1
        if record.status in COUNTED_WHOLE:
            term = COUNTED_WHOLE[record.status]
            setattr(account, term, getattr(account, term) + rows)
        elif record.status != PROFILED:
            account.unreconciled[record.status] = account.unreconciled.get(record.status, 0) + rows
        else:
            version = by_version.get(record.version)
            event_field = source_field(version, source.partition_field) if version else None
            shares += [(record, d, n) for d, n in partition_rows(record, event_field).items()]

    newest = _newest_delivery(shares) if source.delivery == "snapshot" else {}
    for record, day, rows in shares:
        if day in built_from[record.key]:
            account.partition_differences[day] += rows
        elif day in held[record.key]:
            account.held_late += rows
        elif newest.get(day, record) is not record:
            account.replaced += rows
        else:
            account.not_yet_promoted[day] = account.not_yet_promoted.get(day, 0) + rows
    account.partition_differences = {p: n for p, n in account.partition_differences.items() if n}
    return account


def _newest_delivery(shares: Sequence[tuple[RawFile, str, int]]) -> dict[str, RawFile]:
    """Per event date, the latest delivered file holding it: a snapshot file replaces the
    earlier deliveries of its dates (ADR-0024), as promotion's latest_deliveries decides."""
    newest: dict[str, RawFile] = {}
    for record, day, _ in shares:
        stamp = (record.landed_at or record.profiled_at, record.key)
        current = newest.get(day)
        if current is None or stamp > (current.landed_at or current.profiled_at, current.key):
            newest[day] = record
    return newest


def partition_counts(
    catalog: PartitionCatalog, storage: LakeStorage, dataset: str
) -> list[PartitionCount]:
    """The current version of every published partition, with its manifest's counts."""
    counts = []
    for part in catalog.partitions(dataset):
        manifest = read_manifest(storage, part)
        counts.append(
            PartitionCount(
                part.partition,
                part.row_count,
                manifest.get("rows_quarantined", 0),
                tuple(manifest.get("inputs", ())),
            )
        )
    return counts


def reconcile_source(
    source: SourceConfig, storage: LakeStorage, registry: RegistryStore, catalog: PartitionCatalog
) -> Reconciliation:
    """The reconciliation of one source from the lake's stores."""
    sid = source.source_id
    return reconcile(
        source,
        registry.versions(sid),
        registry.raw_files(sid),
        partition_counts(catalog, storage, sid),
        late_arrivals(storage, sid),
        len(pending_objects(storage, registry, sid)),
    )
