"""Classification in the asset graph: `classification/<source>` per curated dataset, partitioned
like it and downstream of it. Thin wiring over service.py: a run classifies each of its published
partitions (only new and drifted columns) and records, per partition and for the run, what was
classified, what drifted and what needs review; the column schema carries the classifications."""

from dagster import (
    AssetExecutionContext,
    AssetKey,
    BackfillPolicy,
    MaterializeResult,
    MetadataValue,
    PartitionsDefinition,
    ResourceParam,
    asset,
)

from lake_assets.classification.service import ClassificationService, table_columns_of
from lake_assets.ingestion.asset_keys import curated_key_of
from lake_assets.ingestion.asset_metadata import COLUMN_SCHEMA, classified_table_schema
from lake_assets.runtime.retries import retried_when_transient
from lake_assets.settings import SourceConfig
from resources.catalog import PartitionCatalog
from resources.classification_store import ClassificationStore
from resources.notifier import Notifier
from resources.storage import LakeStorage


def classification_key_of(source_id: str) -> AssetKey:
    return AssetKey(["classification", source_id])


def build_classification_asset(source: SourceConfig, partitions_def: PartitionsDefinition):
    sid = source.source_id

    @asset(
        key=classification_key_of(sid),
        deps=[curated_key_of(sid)],
        partitions_def=partitions_def,
        backfill_policy=BackfillPolicy.single_run(),
        group_name="classification",
        description=(
            f"Semantic type and sensitivity of each column of curated/{sid}, with confidence and "
            "evidence: new columns and drifted values of each published partition."
        ),
        kinds={"python", "pyarrow"},
        owners=[source.asset_owner],
    )
    @retried_when_transient
    def classification_asset(
        context: AssetExecutionContext,
        storage: ResourceParam[LakeStorage],
        catalog: ResourceParam[PartitionCatalog],
        classification: ResourceParam[ClassificationStore],
        notifier: ResourceParam[Notifier],
    ) -> MaterializeResult:
        work = ClassificationService(catalog, storage, classification, notifier)
        published = {p.partition for p in catalog.partitions(sid)}
        runs = [work.classify_partition(sid, p) for p in context.partition_keys if p in published]
        for done in runs:
            context.add_asset_metadata(
                {
                    "columns_classified": MetadataValue.json([c.column for c in done.classified]),
                    "new_columns": MetadataValue.json(list(done.new_columns)),
                    "drifted": MetadataValue.json(
                        {c: f"{d.signal} {d.baseline:.4g} -> {d.observed:.4g}"
                         for c, d in done.drifted.items()}
                    ),
                    "flagged_for_review": MetadataValue.json(list(done.review)),
                    "operator_disagreements": MetadataValue.json(done.disagreements),
                    "catalog_columns_written": len(done.written),
                },
                partition_key=done.partition,
            )  # fmt: skip
        records = classification.columns(sid)
        return MaterializeResult(
            metadata={
                COLUMN_SCHEMA: classified_table_schema(table_columns_of(catalog, sid), records),
                "partitions_classified": MetadataValue.json([d.partition for d in runs]),
                "partitions_not_published": MetadataValue.json(
                    [p for p in context.partition_keys if p not in published]
                ),
                "columns_classified": sum(len(d.classified) for d in runs),
                "columns_drifted": sum(len(d.drifted) for d in runs),
                "flagged_for_review": MetadataValue.json(
                    sorted(c for c, r in records.items() if r.current and r.current.needs_review)
                ),
            }
        )

    return classification_asset
