"""Recovery's part of the code location: the catalog export, every 15 minutes (the bucket's
replication RPO, terraform/dr.tf), so a replica carries pointers at most that old."""

from datetime import UTC, datetime, timedelta

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetSelection,
    DefaultScheduleStatus,
    Definitions,
    MaterializeResult,
    ResourceParam,
    ScheduleDefinition,
    asset,
    define_asset_job,
)

from lake_assets.recovery.service import export_catalog
from lake_assets.runtime.retries import retried_when_transient
from lake_assets.settings import Settings
from resources.catalog import PartitionCatalog
from resources.storage import LakeStorage

CATALOG_EXPORT = AssetKey(["recovery", "catalog_export"])


@asset(
    key=CATALOG_EXPORT,
    group_name="maintenance",
    description="Every current catalog pointer, written to _recovery/catalog/ in the bucket: "
    "a replica of the bucket is then a lake `lake dr restore` can open (ADR-0149).",
    kinds={"s3"},
)
@retried_when_transient
def catalog_export(
    context: AssetExecutionContext,
    settings: ResourceParam[Settings],
    storage: ResourceParam[LakeStorage],
    catalog: ResourceParam[PartitionCatalog],
) -> MaterializeResult:
    key, count, removed = export_catalog(
        catalog, storage, datetime.now(UTC), timedelta(days=settings.retention_days)
    )
    return MaterializeResult(
        metadata={"export": storage.uri(key), "partitions": count, "exports_removed": removed}
    )


catalog_export_job = define_asset_job(
    "catalog_export",
    selection=AssetSelection.assets(CATALOG_EXPORT),
    description="Export the catalog's pointers into the bucket for disaster recovery.",
)

catalog_export_schedule = ScheduleDefinition(
    job=catalog_export_job,
    cron_schedule="*/15 * * * *",
    execution_timezone="UTC",
    description="Every 15 minutes, the replication's recovery point objective.",
    default_status=DefaultScheduleStatus.RUNNING,
)


def recovery_definitions() -> Definitions:
    return Definitions(
        assets=[catalog_export], jobs=[catalog_export_job], schedules=[catalog_export_schedule]
    )
