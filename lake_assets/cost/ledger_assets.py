"""The ledger in the asset graph: `cost/ledger`, one partition per billing month, after the
month's CUR and drivers; a blocking check that it reconciles to the nano; and the month's cost
of each dataset as an observation of the dataset's asset, so the UI plots it over time. Thin:
the work is ledger.allocate_month's."""

from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetObservation,
    Definitions,
    MaterializeResult,
    MetadataValue,
    PartitionsDefinition,
    ResourceParam,
    asset,
)

from lake_assets.cost.cur_assets import CUR_ASSET
from lake_assets.cost.drivers_assets import COST_DRIVERS
from lake_assets.cost.ledger import LedgerDoesNotReconcile, allocate_month, known_teams
from lake_assets.cost.model import UNALLOCATED, cents
from lake_assets.cost.policy import AllocationPolicy, load_policy
from lake_assets.ingestion.asset_keys import asset_of
from lake_assets.ingestion.asset_metadata import PARTITION_ROW_COUNT, URI
from lake_assets.lineage.emitter import recorder_for
from lake_assets.runtime.retries import retried_when_transient
from lake_assets.settings import Settings
from partitions import monthly_partitions
from resources.catalog import PartitionCatalog
from resources.lineage_store import LineageStore
from resources.spark_runner import SparkRunner
from resources.storage import LakeStorage

LEDGER_ASSET = AssetKey(["cost", "ledger"])
RECONCILES = "ledger_reconciles"
ATTRIBUTED_USD = "cost/attributed_usd"  # on each dataset's asset, per month


def _usd(nanos: int) -> float:
    return float(cents(nanos))


def build_ledger_asset(
    partitions_def: PartitionsDefinition, policy: AllocationPolicy, teams: list[str]
):
    @asset(
        key=LEDGER_ASSET,
        deps=[CUR_ASSET, COST_DRIVERS],
        partitions_def=partitions_def,
        group_name="cost",
        kinds={"spark", "parquet"},
        description="The month's bill allocated by the declared methods (config/cost/"
        "allocation.yaml) to teams, pipelines and datasets, every nano-dollar attributed, "
        "shared or unallocated with its reason; each row names its method and drivers.",
        check_specs=[
            AssetCheckSpec(
                RECONCILES,
                asset=LEDGER_ASSET,
                blocking=True,
                description="Allocated, shared and unallocated rows add up to the month's CUR "
                "line items to the nano-dollar; otherwise nothing is published.",
            )
        ],
    )
    @retried_when_transient
    def cost_ledger(
        context: AssetExecutionContext,
        settings: ResourceParam[Settings],
        storage: ResourceParam[LakeStorage],
        catalog: ResourceParam[PartitionCatalog],
        lineage: ResourceParam[LineageStore],
        spark_runner: ResourceParam[SparkRunner],
    ):
        month = context.partition_key
        recorder = recorder_for(lineage, settings.state_dir, storage.uri(""))
        try:
            done = allocate_month(
                month, context.run_id, policy, teams, catalog, storage, recorder,
                spark_runner.bound(context),
            )  # fmt: skip
        except LedgerDoesNotReconcile as failed:
            yield AssetCheckResult(
                check_name=RECONCILES, passed=False, metadata={"error": str(failed)}
            )
            raise
        written = done.written
        for dataset, nanos in written["dataset_nanos"].items():
            yield AssetObservation(
                asset_key=asset_of(dataset, settings.sources),
                metadata={ATTRIBUTED_USD: _usd(nanos), "cost/month": month},
            )
        unallocated = written["team_nanos"].get(UNALLOCATED, 0)
        yield MaterializeResult(
            metadata={
                "total_usd": _usd(written["bill_nanos"]),
                "allocated_usd": _usd(done.allocated_nanos),
                "unallocated_usd": _usd(unallocated),
                "rows": written["rows"],
                PARTITION_ROW_COUNT: written["rows"],
                "teams_usd": MetadataValue.json(
                    {team: _usd(n) for team, n in written["team_nanos"].items()}
                ),
                "unallocated_by_reason_usd": MetadataValue.json(
                    {reason: _usd(n) for reason, n in written["unallocated_nanos"].items()}
                ),
                "inputs": MetadataValue.json(done.inputs),
                "location": MetadataValue.path(storage.uri(done.published.location)),
                URI: storage.uri(done.published.location),
            },
            check_results=[
                AssetCheckResult(
                    check_name=RECONCILES,
                    passed=True,
                    metadata={
                        "bill_nanos": written["bill_nanos"],
                        "ledger_nanos": sum(written["team_nanos"].values()),
                    },
                )
            ],
        )

    return cost_ledger


def ledger_definitions(settings: Settings) -> Definitions:
    """The ledger's definitions, for lake_assets/definitions.py to merge."""
    policy = load_policy(settings.cost_file)
    return Definitions(
        assets=[
            build_ledger_asset(
                monthly_partitions(settings.partitions_start), policy, known_teams(settings, policy)
            )
        ]
    )
