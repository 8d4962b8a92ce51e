"""Reading curated data the safe way: through the catalog, never by listing folders.

A reader resolves each partition to the folder its catalog pointer names, so it sees one
complete published version per partition, whatever is being written beside it.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import DataFrame, SparkSession

from lake_assets.ingestion.promotion import read_locations
from resources.catalog import PartitionCatalog
from resources.storage import LakeStorage


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
    return read_locations(spark, [storage.uri(p.location) for p in published], latest.columns)
