"""The retention sweep: run folders and quarantine copies that nothing references any more.

Every writer stages into a folder of its own (`curated/<dataset>/run=<id>/`, `.../compaction=<id>/`,
the history's `run=<id>/version=<try>/`) and moves rejected rows to
`quarantine/<dataset>/event_date=<d>/run=<id>/`. `expire_superseded` removes the folder of a
version superseded past the retention period, but a run killed before its switch, a partition
blocked by its contract, or the rest of a run folder whose versions all expired (Spark's
`_SUCCESS`, quarantine copies) is referenced by no catalog entry and was never removed.

A folder is swept when no catalog entry (current, or superseded and not yet expired) points
into it, no such entry's manifest names it as its quarantine, and its newest object is older
than the retention period: a run still writing has written recently, so it is never swept.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from lake_assets.tables.locations import PARTITION
from lake_assets.tables.manifest import MANIFEST
from resources.catalog import PartitionCatalog
from resources.storage import LakeStorage

# The folder of one writer's run under a dataset: `curated/<dataset>/<kind>=<id>/`.
RUN_FOLDER = re.compile(r"^curated/[^/]+/[^/=]+=[^/]+/")


@dataclass
class Sweep:
    """Folders deleted, and folders referenced by nothing but too recent to delete."""

    deleted: list[str] = field(default_factory=list)
    recent: list[str] = field(default_factory=list)


def _run_folder(location: str) -> str | None:
    match = RUN_FOLDER.match(location)
    return match[0] if match else None


def referenced_folders(
    catalog: PartitionCatalog, storage: LakeStorage, datasets: list[str]
) -> set[str]:
    """Run folders and quarantine copies of every version of `datasets` the catalog still
    knows: current, and superseded but not yet expired (a reader may still be on one)."""
    superseded = catalog.superseded(older_than=datetime.max.replace(tzinfo=UTC))
    locations = [s.location for s in superseded if s.dataset in datasets]
    for dataset in datasets:
        locations += [p.location for p in catalog.partitions(dataset)]
    referenced = set()
    for location in locations:
        referenced.add(_run_folder(location) or location)
        manifest = storage.head(location + MANIFEST)
        if manifest is not None:
            quarantine = json.loads(storage.get_bytes(manifest.key)).get("quarantine_location")
            if quarantine:
                referenced.add(quarantine)
    return referenced


def _catalogued_datasets(storage: LakeStorage) -> list[str]:
    return [folder.split("/")[1] for folder in storage.folders("curated/")]


def candidate_folders(storage: LakeStorage, datasets: Iterable[str]) -> list[str]:
    """Every run folder and quarantine copy of `datasets` (late arrivals are not copies)."""
    found = []
    for dataset in datasets:
        found += storage.folders(f"curated/{dataset}/")
        for day in storage.folders(f"quarantine/{dataset}/"):
            if day.rstrip("/").rsplit("/", 1)[-1].startswith(f"{PARTITION}="):
                found += storage.folders(day)
    return [folder for folder in found if "=" in folder.rstrip("/").rsplit("/", 1)[-1]]


def sweep_orphans(
    catalog: PartitionCatalog,
    storage: LakeStorage,
    retention: timedelta,
    datasets: Iterable[str] | None = None,
    now: datetime | None = None,
    dry_run: bool = False,
) -> Sweep:
    """Delete the unreferenced run folders and quarantine copies of `datasets` (default: every
    dataset in the lake) whose newest object is older than `retention`."""
    now = now or datetime.now(UTC)
    chosen = _catalogued_datasets(storage) if datasets is None else list(datasets)
    referenced = referenced_folders(catalog, storage, chosen)
    sweep = Sweep()
    for folder in candidate_folders(storage, chosen):
        if any(ref.startswith(folder) for ref in referenced):
            continue
        newest = max((info.last_modified for info in storage.list(folder)), default=None)
        if newest is None:
            continue  # nothing left in it to delete
        if newest >= now - retention:
            sweep.recent.append(folder)
            continue
        if not dry_run:
            storage.delete_prefix(folder)
        sweep.deleted.append(folder)
    return sweep
