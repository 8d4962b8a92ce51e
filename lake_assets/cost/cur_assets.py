"""The CUR source in the asset graph: `cost/cur`, one partition per billing month, and its
contract as a blocking check. Thin: the work is cur_run.CurMonth's. A restated month is a
backfill of its one partition."""

from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    Definitions,
    MaterializeResult,
    MetadataValue,
    PartitionsDefinition,
    ResourceParam,
    asset,
)

from lake_assets.cost.cur_run import CurContractFailed, CurMonth
from lake_assets.cost.model import cents
from lake_assets.ingestion.asset_metadata import PARTITION_ROW_COUNT, URI
from lake_assets.lineage.emitter import recorder_for
from lake_assets.runtime.retries import retried_when_transient
from lake_assets.settings import Settings
from partitions import monthly_partitions
from resources.catalog import PartitionCatalog
from resources.lineage_store import LineageStore
from resources.registry_store import RegistryStore
from resources.spark_runner import SparkRunner
from resources.storage import LakeStorage

CUR_ASSET = AssetKey(["cost", "cur"])
CONTRACT = "cur_contract"


def build_cur_asset(partitions_def: PartitionsDefinition):
    @asset(
        key=CUR_ASSET,
        partitions_def=partitions_def,
        group_name="cost",
        kinds={"spark", "parquet"},
        description="The AWS Cost and Usage Report (CUR 2.0) of a billing month: its latest "
        "complete delivery, curated with costs in nano-dollars. A restatement replaces the "
        "month's earlier version.",
        check_specs=[
            AssetCheckSpec(
                CONTRACT,
                asset=CUR_ASSET,
                blocking=True,
                description="The month has rows, every line names its id, period, start, type, "
                "product, usage type and costs, and the costs sum to the delivery manifest's "
                "totals when it has them; otherwise nothing is published.",
            )
        ],
    )
    @retried_when_transient
    def cost_cur(
        context: AssetExecutionContext,
        settings: ResourceParam[Settings],
        storage: ResourceParam[LakeStorage],
        catalog: ResourceParam[PartitionCatalog],
        registry: ResourceParam[RegistryStore],
        lineage: ResourceParam[LineageStore],
        spark_runner: ResourceParam[SparkRunner],
    ):
        recorder = recorder_for(lineage, settings.state_dir, storage.uri(""))
        month = CurMonth(storage, catalog, registry, recorder, spark_runner.bound(context))
        try:
            result = month.run(context.partition_key, context.run_id)
        except CurContractFailed as failed:
            yield AssetCheckResult(
                check_name=CONTRACT, passed=False, metadata=_flat(failed.outcome.metadata)
            )
            raise
        version = result.published
        checked = result.contract.metadata if result.contract else {"unchanged": result.reason}
        yield MaterializeResult(
            metadata={
                "action": result.action,
                "reason": result.reason,
                "delivery_id": result.delivery_id,
                "schema_version": result.schema_version,
                "rows": version.row_count,
                PARTITION_ROW_COUNT: version.row_count,
                **(
                    {"cost_usd": float(cents(result.written["cost_nanos"]))}
                    if result.written
                    else {}
                ),
                "location": MetadataValue.path(storage.uri(version.location)),
                URI: storage.uri(version.location),
            },
            check_results=[
                AssetCheckResult(check_name=CONTRACT, passed=True, metadata=_flat(checked))
            ],
        )

    return cost_cur


def _flat(metadata: dict) -> dict:
    """Check metadata Dagster can show: nested values as text."""
    return {k: v if isinstance(v, int | float | str) else str(v) for k, v in metadata.items()}


def cur_definitions(settings: Settings) -> Definitions:
    """The CUR source's definitions, for lake_assets/definitions.py to merge."""
    return Definitions(assets=[build_cur_asset(monthly_partitions(settings.partitions_start))])
