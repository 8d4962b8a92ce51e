"""Compaction in the asset graph: one unpartitioned maintenance asset over every curated
dataset, launched daily by the schedule in schedules.py. Thin wiring: the work happens in
service.py; the metadata says what changed and what it is expected to save."""

from collections.abc import Sequence
from datetime import UTC, datetime

from dagster import (
    AssetExecutionContext,
    AssetKey,
    MaterializeResult,
    MetadataValue,
    ResourceParam,
    asset,
)

from lake_assets.compaction.cost import combined, payback
from lake_assets.compaction.policy import CompactionPolicy
from lake_assets.compaction.service import compaction_pass
from lake_assets.ingestion.asset_keys import curated_key_of
from lake_assets.lineage import partition_address
from lake_assets.runtime.retries import retried_when_transient
from lake_assets.settings import Settings, SourceConfig
from resources.catalog import PartitionCatalog
from resources.compaction_history import CompactionHistory
from resources.lineage_store import LineageStore
from resources.spark_runner import SparkRunner
from resources.storage import LakeStorage

COMPACTION_KEY = AssetKey(["maintenance", "compaction"])


def build_compaction_asset(sources: Sequence[SourceConfig], policy: CompactionPolicy):
    @asset(
        key=COMPACTION_KEY,
        deps=[curated_key_of(source.source_id) for source in sources],
        group_name="maintenance",
        description=(
            "Seals curated partitions that left their late-arrival window and rewrites sealed "
            "partitions of many small files into files near the target size."
        ),
        kinds={"spark", "parquet"},
    )
    @retried_when_transient
    def compaction(
        context: AssetExecutionContext,
        settings: ResourceParam[Settings],
        storage: ResourceParam[LakeStorage],
        catalog: ResourceParam[PartitionCatalog],
        lineage: ResourceParam[LineageStore],
        compaction_history: ResourceParam[CompactionHistory],
        spark_runner: ResourceParam[SparkRunner],
    ) -> MaterializeResult:
        resources = {
            "storage": storage,
            "catalog": catalog,
            "lineage": lineage,
            "compaction_history": compaction_history,
            "spark_runner": spark_runner,
        }
        work = compaction_pass(
            settings, policy, context.run_id, resources, context.log.info, context
        )
        today = datetime.now(UTC).date()
        passes = [work.run(source, today) for source in sources]
        records = [record for done in passes for record in done.records]
        compacted = [r for r in records if r.outcome == "compacted"]
        total = combined([payback(r, policy.prices) for r in compacted])
        payback_days = total.payback_days(policy.prices.queries_per_day)
        return MaterializeResult(
            metadata={
                "partitions_sealed": sum(len(done.sealed) for done in passes),
                "partitions_compacted": len(compacted),
                "files_before": sum(r.files_before for r in compacted),
                "files_after": sum(r.files_after for r in compacted),
                "bytes_before": sum(r.bytes_before for r in compacted),
                "bytes_after": sum(r.bytes_after for r in compacted),
                "compacted": MetadataValue.json(
                    {
                        partition_address(r.dataset, r.partition): [r.files_before, r.files_after]
                        for r in compacted
                    }
                ),
                "aborted": MetadataValue.json(
                    {
                        partition_address(r.dataset, r.partition): r.reason
                        for r in records
                        if r.outcome == "aborted"
                    }
                ),
                "dead_runs_cleaned": sum(len(done.cleaned) for done in passes),
                "datasets_busy": MetadataValue.json(
                    {done.dataset: done.busy for done in passes if done.busy}
                ),
                "query_cost_before_usd": total.before.total,
                "query_cost_after_usd": total.after.total,
                "compaction_cost_usd": total.cost,
                "estimated_saving_per_day_usd": total.saving_per_query
                * policy.prices.queries_per_day,
                # Until the compacted partitions have been queried this many days, the
                # compaction cost more than it saved; absent when it saves nothing.
                **({"payback_days": payback_days} if payback_days is not None else {}),
            }
        )

    return compaction
