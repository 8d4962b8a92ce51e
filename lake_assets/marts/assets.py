"""Marts: datasets derived from curated ones, run by the data-ready dependency sensor when
their inputs have published a partition (config/dependencies.yaml), not on a clock."""

from datetime import UTC, datetime

from dagster import (
    AssetExecutionContext,
    AssetKey,
    MaterializeResult,
    PartitionsDefinition,
    ResourceParam,
    asset,
)
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lake_assets.ingestion.asset_keys import curated_key_of
from lake_assets.lineage import LineageRun, partition_address, partition_outputs
from lake_assets.lineage.emitter import recorder_for
from lake_assets.settings import Settings
from lake_assets.tables.locations import published_location
from lake_assets.tables.publish import publish, version_of
from lake_assets.tables.reader import read_published
from resources.catalog import PartitionCatalog, PublishedPartition
from resources.lineage_store import LineageStore
from resources.spark_runner import SparkRunner, local_spark
from resources.storage import LakeStorage

SPEND_BY_CUSTOMER = AssetKey(["marts", "spend_by_customer"])
# How each column derives from its inputs; access control will propagate restrictions along it.
SPEND_COLUMN_LINEAGE = {
    "customer_id": [
        {"input": "card_transactions.customer_id", "transformation": "IDENTITY", "masking": False}
    ],
    "segment": [{"input": "customers.segment", "transformation": "IDENTITY", "masking": False}],
    "transactions": [
        {
            "input": "card_transactions.transaction_id",
            "transformation": "AGGREGATION",
            "masking": False,
        }
    ],
    "spend": [
        {"input": "card_transactions.amount", "transformation": "AGGREGATION", "masking": False}
    ],
}
SPEND_COLUMNS = {
    "customer_id": "string",
    "segment": "string",
    "transactions": "integer",
    "spend": "double",
}


def spend_by_customer_rows(cards: DataFrame, customers: DataFrame | None) -> DataFrame:
    """Card spend per customer and segment; without the customers snapshot the segment is null
    (a partial run, flagged in its metadata)."""
    if customers is None:
        cards = cards.withColumn("segment", F.lit(None).cast("string"))
    else:
        cards = cards.join(customers.select("customer_id", "segment"), "customer_id", "left")
    return cards.groupBy("customer_id", "segment").agg(
        F.count(F.lit(1)).alias("transactions"), F.sum("amount").alias("spend")
    )


def build_spend_by_customer(partitions_def: PartitionsDefinition):
    @asset(
        key=SPEND_BY_CUSTOMER,
        deps=[curated_key_of("card_transactions"), curated_key_of("customers")],
        partitions_def=partitions_def,
        group_name="marts",
        kinds={"spark", "parquet"},
        description="Card spend per customer and segment by event date; run on data-ready events.",
    )
    def spend_by_customer(
        context: AssetExecutionContext,
        settings: ResourceParam[Settings],
        storage: ResourceParam[LakeStorage],
        catalog: ResourceParam[PartitionCatalog],
        lineage: ResourceParam[LineageStore],
        spark_runner: ResourceParam[SparkRunner],
    ) -> MaterializeResult:
        partition = context.partition_key
        spark = local_spark(spark_runner, "marts/spend_by_customer")
        inputs = [d for d in ("card_transactions", "customers") if catalog.current(d, partition)]
        replaced = version_of(catalog.current("spend_by_customer", partition))
        cards = read_published(spark, catalog, storage, "card_transactions", [partition])
        customers = (
            read_published(spark, catalog, storage, "customers", [partition])
            if "customers" in inputs
            else None
        )
        location = published_location("spend_by_customer", context.run_id, partition)
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
            spend_by_customer_rows(cards, customers).write.mode("errorifexists").parquet(
                storage.uri(location)
            )
            # One pass over what was written: rows per file give the count and the file names.
            per_file = (
                spark.read.parquet(storage.uri(location))
                .groupBy(F.col("_metadata.file_name"))
                .count()
                .collect()
            )
            count, files = sum(r["count"] for r in per_file), sorted(r[0] for r in per_file)
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
        return MaterializeResult(
            metadata={
                "rows": count,
                "location": storage.uri(location),
                "missing_inputs": missing or "none",
            }
        )

    return spend_by_customer
