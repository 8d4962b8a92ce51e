"""The `cost/drivers` asset: a month's drivers (drivers.py), gathered and published as the
`cost_drivers` dataset (drivers_service.py). A restated month is a backfill of its partition;
a re-run replaces the partition with what the lake records then."""

from collections import Counter

from dagster import (
    AssetExecutionContext,
    AssetKey,
    Definitions,
    MaterializeResult,
    MetadataValue,
    ResourceParam,
    asset,
)

from lake_assets.cost.drivers_service import month_drivers, publish_drivers
from lake_assets.cost.recording import lake_commands_spec
from lake_assets.runtime.retries import retried_when_transient
from lake_assets.settings import Settings
from partitions import monthly_partitions
from resources.catalog import PartitionCatalog
from resources.storage import LakeStorage

COST_DRIVERS = AssetKey(["cost", "drivers"])


def build_drivers_asset(settings: Settings):
    @asset(
        key=COST_DRIVERS,
        group_name="cost",
        partitions_def=monthly_partitions(settings.partitions_start),
        owners=[settings.platform_owner],
        kinds={"parquet"},
        description="What the lake's runs, storage and Athena queries consumed in a month, one "
        "measure a row: the weights cost attribution shares the bill by.",
    )
    @retried_when_transient
    def cost_drivers(
        context: AssetExecutionContext,
        settings: ResourceParam[Settings],
        storage: ResourceParam[LakeStorage],
        catalog: ResourceParam[PartitionCatalog],
    ) -> MaterializeResult:
        month = context.partition_key
        rows, runs = month_drivers(month, context.instance, settings, catalog, storage)
        entry = publish_drivers(month, rows, runs, context.run_id, catalog, storage)
        measures = Counter()
        for row in rows:
            measures[row.measure] += row.value
        return MaterializeResult(
            metadata={
                "rows": len(rows),
                "runs": runs,
                "location": MetadataValue.path(storage.uri(entry.location)),
                **{f"total/{measure}": value for measure, value in sorted(measures.items())},
            }
        )

    return cost_drivers


def drivers_definitions(settings: Settings) -> Definitions:
    """Cost attribution's drivers in the code location (the lead wires it in definitions.py),
    and the asset the runs of `lake` commands are recorded on."""
    return Definitions(
        assets=[build_drivers_asset(settings), lake_commands_spec(settings.platform_owner)]
    )
