"""Time travel for recovery: the versions of a partition the lake still keeps, and a bad publish
undone by making a kept version current again (ADR-0134).

`publish` keeps every version it replaces, superseded, until the retention sweep expires it
(LAKE_RETENTION_DAYS). A rollback copies a kept version's data files into a folder of its own
run and publishes that as a new version, through the same `publish` as every writer: the
optimistic check refuses it if the partition moved since it was read, the version it replaces
is kept in turn (a rollback can be rolled back), the data-ready event it stages rebuilds what
reads the partition, and its lineage names the kept files it copied, so a trace from the
partition still reaches the raw files they were built from. The kept version is left as it
was: its folder expires on its own schedule, never while it is current.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from lake_assets.events.model import DataReady
from lake_assets.events.outbox import Announcement, stage
from lake_assets.instants import parse_instant
from lake_assets.lineage.emitter import LineageRecorder
from lake_assets.lineage.model import LineageRun, partition_address, partition_outputs
from lake_assets.tables.locations import published_root
from lake_assets.tables.manifest import ENTRY_FIELDS, entry_of, read_manifest, read_manifest_at
from lake_assets.tables.publish import publish
from resources.catalog import ANY_AGE, PartitionCatalog, PublishedPartition, SupersededLocation
from resources.event_store import EventStore
from resources.storage import LakeStorage


class RollbackError(ValueError):
    """A rollback that cannot be made; the message names the partition and why."""


@dataclass(frozen=True)
class KeptVersion:
    """A version of a partition: the current one (`superseded_at` None) or one kept."""

    entry: PublishedPartition
    files: tuple[str, ...]
    superseded_at: str | None = None
    # The rest of its manifest: what it was built from and its counts, which `lake status`
    # and lineage read; a rollback's version carries them as its own.
    details: dict = field(default_factory=dict)


def kept_versions(
    catalog: PartitionCatalog, storage: LakeStorage, dataset: str, partition: str
) -> list[KeptVersion]:
    """The partition's current version, then the versions it still keeps, newest first, each
    as its manifest recorded it."""
    current = catalog.current(dataset, partition)
    if current is None:
        return []
    return _versions(storage, current, _superseded_by_partition(catalog, dataset)[partition])


def table_at(
    catalog: PartitionCatalog,
    storage: LakeStorage,
    dataset: str,
    instant: datetime,
    *,
    now: datetime,
    kept_for: timedelta,
) -> list[PublishedPartition]:
    """Every partition of `dataset` at the version readers saw at `instant` (`current_at`), in
    partition order; a partition not yet published then is left out. Exact within the retention:
    the version current at `instant` was superseded after it, and is kept `kept_for` after that.
    An older instant is refused, naming the retention: what was current then may be gone."""
    oldest = now - kept_for
    if instant < oldest:
        raise RollbackError(
            f"{dataset} cannot be read as of {instant.isoformat()}: superseded versions are "
            f"kept {kept_for.days} days (LAKE_RETENTION_DAYS), so the oldest time the lake can "
            f"answer for is {oldest.isoformat(timespec='seconds')}"
        )
    superseded = _superseded_by_partition(catalog, dataset)
    found = []
    for current in catalog.partitions(dataset):
        then = current_at(_versions(storage, current, superseded[current.partition]), instant)
        if then is not None:
            found.append(then.entry)
    return found


def _superseded_by_partition(
    catalog: PartitionCatalog, dataset: str
) -> defaultdict[str, list[SupersededLocation]]:
    found: defaultdict[str, list[SupersededLocation]] = defaultdict(list)
    for kept in catalog.superseded(older_than=ANY_AGE):
        if kept.dataset == dataset:
            found[kept.partition].append(kept)
    return found


def _versions(
    storage: LakeStorage, current: PublishedPartition, superseded: list[SupersededLocation]
) -> list[KeptVersion]:
    found = [_kept(current, read_manifest(storage, current))]
    for kept in sorted(superseded, key=lambda s: s.superseded_at, reverse=True):
        manifest = read_manifest_at(storage, kept.location)
        found.append(_kept(entry_of(manifest), manifest, kept.superseded_at))
    return found


def current_at(versions: list[KeptVersion], instant: datetime) -> KeptVersion | None:
    """Of a partition's `versions` (kept_versions), the one readers saw at `instant`: published
    by then and not yet superseded; None before the oldest kept version was published (one
    older has expired, or the partition was not yet published)."""
    for version in versions:
        superseded = version.superseded_at
        if parse_instant(version.entry.published_at) <= instant and (
            superseded is None or instant < parse_instant(superseded)
        ):
            return version
    return None


def _kept(entry: PublishedPartition, manifest: dict, superseded_at: str | None = None):
    details = {k: v for k, v in manifest.items() if k not in ENTRY_FIELDS | {"files"}}
    return KeptVersion(entry, tuple(manifest["files"]), superseded_at, details)


def roll_back(
    catalog: PartitionCatalog,
    storage: LakeStorage,
    events: EventStore,
    recorder: LineageRecorder,
    dataset: str,
    partition: str,
    to_run_id: str,
    run_id: str,
) -> PublishedPartition:
    """Make the kept version of `dataset[partition]` published by run `to_run_id` current
    again, as version `run_id`; returns the new version. RollbackError when the partition is
    unpublished or keeps no such version (the message lists what it keeps)."""
    versions = kept_versions(catalog, storage, dataset, partition)
    if not versions:
        raise RollbackError(f"{dataset}[{partition}] is not published")
    current, kept = versions[0], {v.entry.run_id: v for v in versions[1:]}
    if to_run_id == current.entry.run_id:
        raise RollbackError(f"{dataset}[{partition}] is at run {to_run_id} already")
    if to_run_id not in kept:
        raise RollbackError(
            f"{dataset}[{partition}] keeps no version of run {to_run_id!r}; it keeps "
            + (", ".join(kept) or "none")
            + " (superseded versions are kept for LAKE_RETENTION_DAYS days)"
        )
    old = kept[to_run_id]
    if old.entry.columns != current.entry.columns:
        # The table's readers and catalog now expect the current columns (ADR-0027 migrates
        # older versions before a new type is published); a kept version of others would not
        # read as they expect.
        raise RollbackError(
            f"{dataset}[{partition}]: run {to_run_id}'s version has other columns than the "
            f"current one ({_columns(old.entry)} against {_columns(current.entry)}); rebuild "
            "the partition instead"
        )
    # The kept folder's last level names the partition (event_date=..., month=...).
    folder = old.entry.location.rstrip("/").rsplit("/", 1)[-1]
    location = f"{published_root(dataset, run_id)}{folder}/"
    now = datetime.now(UTC).isoformat()
    entry = replace(old.entry, location=location, run_id=run_id, published_at=now, sealed_at=None)
    # As the runs that wrote them named them (partition_outputs): keys, so a trace follows on.
    copied = [old.entry.location + name for name in old.files]
    outputs_of = partition_outputs(dataset, partition, location, old.files)
    lineage = LineageRun(
        run_id=run_id,
        job=f"rollback/{dataset}",
        partition=partition,
        inputs=tuple(copied),
        outputs=(partition_address(dataset, partition),),
        started_at=now,
        schema_version=entry.schema_version,
    )
    with recorder.track(lineage) as outputs:
        for name in old.files:
            storage.copy(old.entry.location + name, location + name)
        publish(
            catalog,
            storage,
            entry,
            old.files,
            current.entry.run_id,
            {**old.details, "rolled_back_to": to_run_id, "replaced": current.entry.run_id},
            before_switch=lambda e: stage(
                events, Announcement(DataReady.from_published(e, list(old.files)), outputs_of, now)
            ),
        )
        outputs.extend(outputs_of)
    return entry


def _columns(entry: PublishedPartition) -> str:
    return ", ".join(f"{name} {kind}" for name, kind in entry.columns.items())
