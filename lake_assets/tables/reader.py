"""Reading curated data the safe way: through the catalog, never by listing folders.

A reader resolves each partition to the version its catalog pointer names and reads exactly
the files that version's manifest lists, so it sees one complete published version per
partition, whatever is being written beside it, and nothing that was put in the folder later.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

from lake_assets.tables.manifest import read_manifest
from lake_assets.tables.types import widest
from resources.catalog import PartitionCatalog, PublishedPartition
from resources.storage import LakeStorage

if TYPE_CHECKING:  # resolving what to read needs no Spark: a point query reads with pyarrow
    from pyspark.sql import DataFrame, SparkSession


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


def read_version_arrow(
    storage: LakeStorage, version: PublishedPartition, columns: Sequence[str] | None = None
) -> pa.Table:
    """One published version's rows with pyarrow, in this process, without Spark (a partition
    is small enough to sample here); `columns` narrows what is read, each file's own columns
    kept (an older file lacks a newer column)."""
    tables = []
    for key in published_files(storage, version):
        with storage.local_path(key) as path:
            present = pq.read_schema(path).names
            wanted = [c for c in columns if c in present] if columns is not None else None
            tables.append(pq.read_table(path, columns=wanted))
    if not tables:
        return pa.table({})
    return pa.concat_tables(tables, promote_options="permissive")


def resolve_published(
    catalog: PartitionCatalog,
    storage: LakeStorage,
    dataset: str,
    partitions: Sequence[str] | None = None,
) -> dict:
    """What a job reads of `dataset` (optionally only some event dates), resolved through the
    catalog now: the files of each published version grouped by the columns they hold, and the
    table's columns. JSON-able, so it travels in a job's plan (frames.read_resolved reads it)."""
    every = catalog.partitions(dataset)
    published = [p for p in every if partitions is None or p.partition in partitions]
    if not published:
        raise LookupError(
            f"{dataset}: no published partitions"
            + (f" among {list(partitions)}" if partitions else "")
        )
    groups: dict[tuple, list[str]] = {}
    for version in published:
        files = groups.setdefault(tuple(version.columns.items()), [])
        files += published_uris(storage, version)
    return {
        "dataset": dataset,
        # The whole table's columns, whichever partitions are read: one type per column.
        "columns": table_columns(every),
        "groups": [{"columns": dict(columns), "uris": uris} for columns, uris in groups.items()],
    }


def read_published(
    spark: SparkSession,
    catalog: PartitionCatalog,
    storage: LakeStorage,
    dataset: str,
    partitions: Sequence[str] | None = None,
) -> DataFrame:
    """The published rows of `dataset` (optionally only some event dates), with event_date."""
    from lake_assets.tables.frames import read_resolved

    return read_resolved(spark, resolve_published(catalog, storage, dataset, partitions))


def table_columns(published: Sequence[PublishedPartition]) -> dict[str, str]:
    """The table's columns: every partition's, each at the widest type any partition has,
    in the order of the latest publish (older columns it lacks after)."""
    columns: dict[str, str] = {}
    for p in sorted(published, key=lambda p: p.published_at, reverse=True):
        for name, kind in p.columns.items():
            columns[name] = widest(columns[name], kind) if name in columns else kind
    return columns
