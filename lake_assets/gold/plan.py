"""The plan of one gold table's build for day d, as the registered job `gold_table` takes it."""

from __future__ import annotations

from lake_assets.gold.schema import job_checks
from lake_assets.gold.tables import GoldTable
from lake_assets.tables.reader import resolve_published
from resources.catalog import PartitionCatalog
from resources.storage import LakeStorage


def gold_plan(
    catalog: PartitionCatalog,
    storage: LakeStorage,
    table: GoldTable,
    partition: str,
    output_uri: str,
) -> dict:
    """Each input's published partition `partition` resolved through the catalog now, the
    table's SQL and what its checks count; JSON-able."""
    return {
        "table": table.dataset,
        "sql": table.sql(),
        "inputs": {
            dataset: resolve_published(catalog, storage, dataset, [partition])
            for dataset in table.inputs
        },
        "output_uri": output_uri,
        **job_checks(table),
    }
