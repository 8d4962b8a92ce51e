"""Daily compaction, after the daily promotions (02:00 UTC) have republished their windows."""

from dagster import AssetSelection, DefaultScheduleStatus, ScheduleDefinition, define_asset_job

from lake_assets.compaction.assets import COMPACTION_KEY

compaction_job = define_asset_job(
    "compaction",
    selection=AssetSelection.assets(COMPACTION_KEY),
    description="Seals partitions that left their lookback window and compacts small files.",
)

compaction_schedule = ScheduleDefinition(
    job=compaction_job,
    cron_schedule="0 4 * * *",
    execution_timezone="UTC",
    description="Daily at 04:00 UTC, after the daily promotions: seals and compacts partitions.",
    default_status=DefaultScheduleStatus.RUNNING,
)
