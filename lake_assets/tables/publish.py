"""The one way a table version becomes visible, for every writer (promotion, history apply,
compaction, marts), and the retention of the versions it replaces.

A writer writes its files into a folder of its own (locations.py), then `publish` writes the
manifest beside them and switches the partition's catalog pointer in one step, refusing if the
partition moved since the writer read it. A reader resolving through the catalog therefore sees
the old or the new version, never half of one, whichever job wrote it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from datetime import UTC, datetime, timedelta

from lake_assets.tables.manifest import write_manifest
from lake_assets.tables.types import field_type_of_arrow
from resources.catalog import PartitionCatalog, PublishedPartition, StalePublish
from resources.storage import LakeStorage


def version_of(published: PublishedPartition | None) -> str:
    """The version a writer read, as `publish` expects it: "" for a never-published partition."""
    return published.run_id if published is not None else ""


def publish(
    catalog: PartitionCatalog,
    storage: LakeStorage,
    entry: PublishedPartition,
    files: Sequence[str],
    expected_version: str,
    details: Mapping | None = None,
    before_switch: Callable[[PublishedPartition], None] | None = None,
) -> PublishedPartition | None:
    """Make `entry` (its folder written, holding the data files `files`) the current version of
    its partition; returns the version it replaced, kept as superseded until it expires.

    The manifest records the entry, its files and `details` (what the version was built from).
    The switch is refused (StalePublish) unless the partition is still at `expected_version`
    (`version_of` what the writer read); the refused folder is removed, as nothing ever
    resolved to it. `before_switch` runs just before the switch (to stage what it owes,
    events/outbox.py).
    """
    write_manifest(
        storage, entry.location, {**asdict(entry), "files": sorted(files), **(details or {})}
    )
    if before_switch is not None:
        before_switch(entry)
    try:
        return catalog.publish(entry, expected_run_id=expected_version)
    except StalePublish:
        storage.delete_prefix(entry.location)
        raise


TABLE_FILE = "part-00000.parquet"


def publish_table(
    catalog: PartitionCatalog,
    storage: LakeStorage,
    dataset: str,
    partition: str,
    location: str,
    table,
    run_id: str,
    details: Mapping | None = None,
) -> PublishedPartition:
    """Publish a small table the orchestrator computed itself (a pyarrow Table: run drivers,
    SLO states) as one Parquet file in `location`, a folder of its run's, replacing the
    partition's current version; its columns are the catalog's as the Arrow schema gives them."""
    import io

    import pyarrow.parquet as pq  # only where an orchestrator writes Parquet itself

    replaced = version_of(catalog.current(dataset, partition))
    written = io.BytesIO()
    pq.write_table(table, written)
    storage.put_bytes(location + TABLE_FILE, written.getvalue())
    entry = PublishedPartition(
        dataset=dataset,
        partition=partition,
        location=location,
        run_id=run_id,
        published_at=datetime.now(UTC).isoformat(),
        row_count=table.num_rows,
        schema_version="derived",
        columns={field.name: field_type_of_arrow(field.type) for field in table.schema},
    )
    publish(catalog, storage, entry, [TABLE_FILE], replaced, details)
    return entry


def expire_superseded(
    catalog: PartitionCatalog,
    storage: LakeStorage,
    retention_days: int,
    now: datetime | None = None,
) -> list[str]:
    """Delete partition versions superseded more than `retention_days` ago, never the one its
    partition's pointer names: a version listed while current (a publish that lost a race with
    another, on a catalog whose switch cannot be conditional) is forgotten, not deleted, and is
    listed again when something replaces it."""
    now = now or datetime.now(UTC)
    removed = []
    for old in catalog.superseded(older_than=now - timedelta(days=retention_days)):
        current = catalog.current(old.dataset, old.partition)
        if current is None or current.location != old.location:
            storage.delete_prefix(old.location)
            removed.append(old.location)
        catalog.forget_superseded(old)
    return removed
