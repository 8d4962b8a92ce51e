"""Daily promotion: each run re-publishes the source's lookback window as one single-run range,
so records up to `lookback_days` late land in their own partition (the same code path as any
backfill, with a window of lookback_days + 1 days). A window holding no row that is not yet
promoted (and no raw object not yet profiled) is skipped: re-publishing it would change nothing."""

from datetime import timedelta

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    ResourceParam,
    RunRequest,
    ScheduleEvaluationContext,
    SkipReason,
    schedule,
)

from lake_assets.ingestion.asset_keys import curated_key_of
from lake_assets.ingestion.asset_metadata import pipeline_run_tags
from lake_assets.ingestion.late_arrivals import lookback_window
from lake_assets.ingestion.reconciliation import reconcile_source
from lake_assets.runtime.run_tags import range_tags
from lake_assets.settings import SourceConfig
from resources.catalog import PartitionCatalog
from resources.registry_store import RegistryStore
from resources.storage import LakeStorage


def build_daily_promotion(source: SourceConfig, partitions_start: str):
    @schedule(
        name=f"daily_{source.source_id}",
        cron_schedule="0 2 * * *",
        execution_timezone="UTC",
        target=AssetSelection.assets(curated_key_of(source.source_id)),
        default_status=DefaultScheduleStatus.RUNNING,
        description=f"Promotes yesterday and the {source.lookback_days} days before it.",
    )
    def daily(
        context: ScheduleEvaluationContext,
        storage: ResourceParam[LakeStorage],
        registry: ResourceParam[RegistryStore],
        catalog: ResourceParam[PartitionCatalog],
    ) -> RunRequest | SkipReason:
        yesterday = context.scheduled_execution_time.date() - timedelta(days=1)
        first, last = lookback_window(yesterday, source.lookback_days, partitions_start)
        account = reconcile_source(source, storage, registry, catalog)
        waiting = [day for day in account.not_yet_promoted if first <= day <= last]
        if not (waiting or account.unprofiled_files):
            return SkipReason(f"{source.source_id}: nothing new to promote in {first}..{last}")
        return RunRequest(
            run_key=f"{source.source_id}/{last}",
            tags={**range_tags(first, last), **pipeline_run_tags(source)},
        )

    return daily
