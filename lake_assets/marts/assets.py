"""Marts: datasets derived from curated ones, run by the data-ready dependency sensor when
their inputs have published a partition (config/dependencies.yaml), not on a clock.

Each mart is plan -> Spark job -> audit and publish: the asset resolves its inputs through the
catalog into the job's plan, the job (spend_by_customer.py) writes the run's folder wherever
the Spark runner puts it, and the asset audits the rows and publishes through tables.publish."""

from datetime import UTC, datetime, timedelta

from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    FreshnessPolicy,
    MaterializeResult,
    MetadataValue,
    PartitionsDefinition,
    ResourceParam,
    asset,
)

from lake_assets.ingestion.asset_keys import curated_key_of
from lake_assets.ingestion.asset_metadata import PARTITION_ROW_COUNT, URI
from lake_assets.lineage import LineageRun, partition_address, partition_outputs
from lake_assets.lineage.emitter import recorder_for
from lake_assets.marts.columns import SPEND_COLUMN_LINEAGE, SPEND_COLUMNS
from lake_assets.runtime.retries import retried_when_transient
from lake_assets.settings import Settings
from lake_assets.tables.locations import published_location
from lake_assets.tables.publish import publish, version_of
from lake_assets.tables.reader import resolve_published
from resources.catalog import PartitionCatalog, PublishedPartition
from resources.lineage_store import LineageStore
from resources.spark_runner import SparkRunner
from resources.storage import LakeStorage

SPEND_BY_CUSTOMER = AssetKey(["marts", "spend_by_customer"])
RECONCILED, KEYS_NOT_NULL = "transactions_reconcile", "customer_id_not_null"
# A day's card data is due daily, and the data-ready rule waits up to 6 hours for customers
# (config/dependencies.yaml) before running without them.
FRESHNESS = FreshnessPolicy.time_window(fail_window=timedelta(hours=30))


class MartAuditFailed(RuntimeError):
    """What the mart's job wrote does not count the rows of the inputs it read, or has rows
    without their customer; nothing was published."""


def build_spend_by_customer(partitions_def: PartitionsDefinition):
    @asset(
        key=SPEND_BY_CUSTOMER,
        deps=[curated_key_of("card_transactions"), curated_key_of("customers")],
        partitions_def=partitions_def,
        group_name="marts",
        kinds={"spark", "parquet"},
        description="Card spend per customer and segment by event date; run on data-ready events.",
        check_specs=[
            AssetCheckSpec(
                RECONCILED,
                asset=SPEND_BY_CUSTOMER,
                blocking=True,
                description="The mart's `transactions` add up to the row count of the published "
                "card_transactions partition it read; otherwise nothing is published.",
            ),
            AssetCheckSpec(
                KEYS_NOT_NULL,
                asset=SPEND_BY_CUSTOMER,
                blocking=True,
                description="Every row of the mart names its customer (customer_id is not null); "
                "otherwise nothing is published.",
            ),
        ],
        freshness_policy=FRESHNESS,
    )
    @retried_when_transient
    def spend_by_customer(
        context: AssetExecutionContext,
        settings: ResourceParam[Settings],
        storage: ResourceParam[LakeStorage],
        catalog: ResourceParam[PartitionCatalog],
        lineage: ResourceParam[LineageStore],
        spark_runner: ResourceParam[SparkRunner],
    ):
        partition = context.partition_key
        read = {d: catalog.current(d, partition) for d in ("card_transactions", "customers")}
        inputs = [d for d, version in read.items() if version]
        replaced = version_of(catalog.current("spend_by_customer", partition))
        location = published_location("spend_by_customer", context.run_id, partition)
        plan = {
            "cards": resolve_published(catalog, storage, "card_transactions", [partition]),
            "customers": (
                resolve_published(catalog, storage, "customers", [partition])
                if "customers" in inputs
                else None
            ),
            "output_uri": storage.uri(location),
        }
        started = LineageRun(
            run_id=context.run_id,
            job="marts/spend_by_customer",
            partition=partition,
            inputs=tuple(partition_address(d, partition) for d in inputs),
            outputs=(partition_address("spend_by_customer", partition),),
            started_at=datetime.now(UTC).isoformat(),
            schema_version="derived",
            column_lineage=SPEND_COLUMN_LINEAGE,
        )
        recorder = recorder_for(lineage, settings.state_dir, storage.uri(""))
        with recorder.track(started) as outputs:
            written = spark_runner.run(context, "spend_by_customer", plan)
            count, files = written["rows"], written["files"]
            cards = read["card_transactions"].row_count
            reconciled = {"partition": partition, "mart": written["transactions"], "cards": cards}
            if written["transactions"] != cards:
                yield AssetCheckResult(check_name=RECONCILED, passed=False, metadata=reconciled)
                raise MartAuditFailed(
                    f"spend_by_customer[{partition}]: the job counted {written['transactions']}"
                    f" card transactions, the published card_transactions[{partition}] holds "
                    f"{cards}; nothing published"
                )
            keyed = {"partition": partition, "null_rows": written["null_customer_ids"]}
            if keyed["null_rows"]:
                # Spend nobody can be attributed to: the day keeps the version it had.
                yield AssetCheckResult(check_name=RECONCILED, passed=True, metadata=reconciled)
                yield AssetCheckResult(check_name=KEYS_NOT_NULL, passed=False, metadata=keyed)
                raise MartAuditFailed(
                    f"spend_by_customer[{partition}]: {keyed['null_rows']} rows without a "
                    "customer_id; nothing published"
                )
            entry = PublishedPartition(
                dataset="spend_by_customer",
                partition=partition,
                location=location,
                run_id=context.run_id,
                published_at=datetime.now(UTC).isoformat(),
                row_count=count,
                schema_version="derived",
                columns=SPEND_COLUMNS,
            )
            built_from = {"built_from": [partition_address(d, partition) for d in inputs]}
            publish(catalog, storage, entry, files, replaced, built_from)
            # Claimed only once published: a failed publish records no outputs.
            outputs.extend(partition_outputs("spend_by_customer", partition, location, files))
        missing = context.run.tags.get("lake/missing_inputs", "")
        yield MaterializeResult(
            metadata={
                "rows": count,
                PARTITION_ROW_COUNT: count,
                "location": MetadataValue.path(storage.uri(location)),
                URI: storage.uri(location),
                "missing_inputs": missing or "none",
            },
            check_results=[
                AssetCheckResult(check_name=RECONCILED, passed=True, metadata=reconciled),
                AssetCheckResult(check_name=KEYS_NOT_NULL, passed=True, metadata=keyed),
            ],
        )

    return spend_by_customer
