"""Reading curated data the safe way: through the catalog, never by listing folders.

A reader resolves each partition to the version its catalog pointer names and reads exactly
the files that version's manifest lists, so it sees one complete published version per
partition, whatever is being written beside it, and nothing that was put in the folder later.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import reduce

from pyspark.sql import DataFrame, SparkSession

from lake_assets.ingestion.field_types import widest
from lake_assets.ingestion.promotion import PARTITION, conformed, empty_frame, read_locations
from lake_assets.ingestion.publish import read_manifest
from resources.catalog import PartitionCatalog, PublishedPartition
from resources.storage import LakeStorage


def published_files(storage: LakeStorage, version: PublishedPartition) -> dict[str, int]:
    """The data files of a published version (key -> bytes), as its manifest lists them: every
    reader of a published version reads these and nothing else. A listed file that is missing is
    an error naming it; a file in the folder that the manifest does not list is ignored."""
    manifest = read_manifest(storage, version)
    if "files" not in manifest:
        raise FileNotFoundError(
            f"{version.dataset}[{version.partition}]: the manifest of version {version.run_id} "
            "lists no files (written before manifests listed them); publish it again"
        )
    present = {info.key: info.size for info in storage.list(version.location)}
    listed = [version.location + name for name in manifest["files"]]
    missing = [key for key in listed if key not in present]
    if missing:
        raise FileNotFoundError(
            f"{version.dataset}[{version.partition}]: version {version.run_id} lists "
            f"{len(listed)} files in its manifest; missing: {', '.join(missing[:5])}"
        )
    return {key: present[key] for key in listed}


def published_uris(storage: LakeStorage, version: PublishedPartition) -> list[str]:
    """The URIs of `published_files`, for Spark."""
    return [storage.uri(key) for key in published_files(storage, version)]


def read_published(
    spark: SparkSession,
    catalog: PartitionCatalog,
    storage: LakeStorage,
    dataset: str,
    partitions: Sequence[str] | None = None,
) -> DataFrame:
    """The published rows of `dataset` (optionally only some event dates), with event_date."""
    every = catalog.partitions(dataset)
    published = [p for p in every if partitions is None or p.partition in partitions]
    if not published:
        raise LookupError(
            f"{dataset}: no published partitions"
            + (f" among {list(partitions)}" if partitions else "")
        )
    # The whole table's columns, whichever partitions are read: one type per column.
    table = table_columns(every)
    groups: dict[tuple, list[str]] = {}
    for version in published:
        files = groups.setdefault(tuple(version.columns.items()), [])
        files += published_uris(storage, version)
    # Each partition is read with the types its own files hold (the catalog records them with
    # the version), then cast to the table's: a partition published before a widening, or
    # while its migration is under way (ADR-0027), reads as part of the same table.
    frames = [
        conformed(read_locations(spark, files, dict(columns)), table)
        for columns, files in groups.items()
        if files  # partitions published empty before each carried a file
    ]
    if not frames:
        return empty_frame(spark, {**table, PARTITION: "date"})
    return reduce(DataFrame.unionByName, frames)


def table_columns(published: Sequence[PublishedPartition]) -> dict[str, str]:
    """The table's columns: every partition's, each at the widest type any partition has,
    in the order of the latest publish (older columns it lacks after)."""
    columns: dict[str, str] = {}
    for p in sorted(published, key=lambda p: p.published_at, reverse=True):
        for name, kind in p.columns.items():
            columns[name] = widest(columns[name], kind) if name in columns else kind
    return columns
