"""Daily promotion: each run re-publishes the source's lookback window as one single-run range,
so records up to `lookback_days` late land in their own partition (the same code path as any
backfill, with a window of lookback_days + 1 days)."""

from datetime import timedelta

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    RunRequest,
    ScheduleEvaluationContext,
    schedule,
)

from lake_assets.ingestion.asset_keys import curated_key_of
from lake_assets.ingestion.late_arrivals import lookback_window
from lake_assets.settings import SourceConfig


def range_tags(first: str, last: str) -> dict[str, str]:
    return {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}


def build_daily_promotion(source: SourceConfig, partitions_start: str):
    @schedule(
        name=f"daily_{source.source_id}",
        cron_schedule="0 2 * * *",
        execution_timezone="UTC",
        target=AssetSelection.assets(curated_key_of(source.source_id)),
        default_status=DefaultScheduleStatus.RUNNING,
        description=f"Promotes yesterday and the {source.lookback_days} days before it.",
    )
    def daily(context: ScheduleEvaluationContext) -> RunRequest:
        yesterday = context.scheduled_execution_time.date() - timedelta(days=1)
        first, last = lookback_window(yesterday, source.lookback_days, partitions_start)
        return RunRequest(run_key=f"{source.source_id}/{last}", tags=range_tags(first, last))

    return daily
