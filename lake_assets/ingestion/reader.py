"""Reading curated data the safe way: through the catalog, never by listing folders.

A reader resolves each partition to the folder its catalog pointer names, so it sees one
complete published version per partition, whatever is being written beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import reduce

from pyspark.sql import DataFrame, SparkSession

from lake_assets.ingestion.field_types import widest
from lake_assets.ingestion.promotion import conformed, read_locations
from resources.catalog import PartitionCatalog, PublishedPartition
from resources.storage import LakeStorage


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
    for p in published:
        groups.setdefault(tuple(p.columns.items()), []).append(storage.uri(p.location))
    # Each partition is read with the types its own files hold (the catalog records them with
    # the version), then cast to the table's: a partition published before a widening, or
    # while its migration is under way (ADR-0027), reads as part of the same table.
    frames = [
        conformed(read_locations(spark, uris, dict(columns)), table)
        for columns, uris in groups.items()
    ]
    return reduce(DataFrame.unionByName, frames)


def table_columns(published: Sequence[PublishedPartition]) -> dict[str, str]:
    """The table's columns: every partition's, each at the widest type any partition has,
    in the order of the latest publish (older columns it lacks after)."""
    columns: dict[str, str] = {}
    for p in sorted(published, key=lambda p: p.published_at, reverse=True):
        for name, kind in p.columns.items():
            columns[name] = widest(columns[name], kind) if name in columns else kind
    return columns
