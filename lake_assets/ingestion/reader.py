"""Reading curated data the safe way: through the catalog, never by listing folders.

A reader resolves each partition to the version its catalog pointer names and reads exactly
the files that version's manifest lists, so it sees one complete published version per
partition, whatever is being written beside it, and nothing that was put in the folder later.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import DataFrame, SparkSession

from lake_assets.ingestion.promotion import read_locations
from lake_assets.ingestion.publish import read_manifest
from resources.catalog import PartitionCatalog, PublishedPartition
from resources.storage import LakeStorage


def published_files(storage: LakeStorage, version: PublishedPartition) -> list[str]:
    """Keys of the data files of a published version, as its manifest lists them; a listed
    file that is missing is an error naming it, a file the manifest does not list is ignored."""
    listed = [version.location + name for name in read_manifest(storage, version)["files"]]
    present = {info.key for info in storage.list(version.location)}
    missing = [key for key in listed if key not in present]
    if missing:
        raise FileNotFoundError(
            f"{version.dataset}[{version.partition}]: version {version.run_id} lists "
            f"{len(listed)} files in its manifest; missing: {', '.join(missing[:5])}"
        )
    return listed


def read_published(
    spark: SparkSession,
    catalog: PartitionCatalog,
    storage: LakeStorage,
    dataset: str,
    partitions: Sequence[str] | None = None,
) -> DataFrame:
    """The published rows of `dataset` (optionally only some event dates), with event_date."""
    published = [
        p for p in catalog.partitions(dataset) if partitions is None or p.partition in partitions
    ]
    if not published:
        raise LookupError(
            f"{dataset}: no published partitions"
            + (f" among {list(partitions)}" if partitions else "")
        )
    # The latest publish carries the current union schema; older files lack later columns (null).
    latest = max(published, key=lambda p: p.published_at)
    files = [storage.uri(key) for version in published for key in published_files(storage, version)]
    return read_locations(spark, files, latest.columns)
