"""Cost attribution's part of the code location: the CUR source, the drivers and the ledger,
each partitioned by billing month, the tagging check on the CUR, the `cost` job that runs them
for a month (or restates one: a backfill of its partition), and its daily schedule."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from dagster import (
    AssetRecordsFilter,
    AssetSelection,
    DefaultScheduleStatus,
    Definitions,
    ResourceParam,
    RunRequest,
    ScheduleEvaluationContext,
    define_asset_job,
    schedule,
)

from lake_assets.cost.cur_assets import cur_definitions
from lake_assets.cost.cur_run import has_delivery
from lake_assets.cost.drivers_assets import drivers_definitions
from lake_assets.cost.ledger_assets import LEDGER_ASSET, ledger_definitions
from lake_assets.cost.tagging_assets import tagging_definitions
from lake_assets.settings import Settings
from partitions import monthly_partitions
from resources.storage import LakeStorage

COST_GROUP = "cost"
COST_JOB = "cost"
# AWS finalises a month's bill in the first days of the next: until then the month is rebuilt.
CLOSING_DAYS = 5


def open_months(today: date) -> list[str]:
    """The billing months whose bill may still change on `today`: this month, and the one
    before during its closing days."""
    months = [today.strftime("%Y-%m")]
    if today.day <= CLOSING_DAYS:
        months.insert(0, (today.replace(day=1) - timedelta(days=1)).strftime("%Y-%m"))
    return months


def built_on(instance, month: str, day: date) -> bool:
    """Whether the ledger of `month` was last materialized on `day` (UTC)."""
    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=LEDGER_ASSET, asset_partitions=[month]), limit=1
    ).records
    return bool(records) and datetime.fromtimestamp(records[0].timestamp, UTC).date() == day


def cost_definitions(settings: Settings) -> Definitions:
    cost_job = define_asset_job(
        COST_JOB,
        selection=AssetSelection.groups(COST_GROUP),
        partitions_def=monthly_partitions(settings.partitions_start),
        description="A billing month's CUR, drivers and ledger (a restated month: a backfill "
        "of its partition).",
    )

    @schedule(
        job=cost_job,
        cron_schedule="30 6 * * *",
        execution_timezone="UTC",
        default_status=DefaultScheduleStatus.RUNNING,
        description="Daily: the ledger of each month whose bill may still change (AWS delivers "
        "the month's bill several times a day); a restated closed month is a backfill.",
    )
    def cost_daily(context: ScheduleEvaluationContext, storage: ResourceParam[LakeStorage]):
        day = context.scheduled_execution_time.date()
        return [
            RunRequest(run_key=f"{month}@{day}", partition_key=month)
            for month in open_months(day)
            # A month AWS has not billed yet has nothing to attribute; one whose ledger was
            # built today (a backfill, the demo) is not built again.
            if has_delivery(storage, month) and not built_on(context.instance, month, day)
        ]

    return Definitions.merge(
        cur_definitions(settings),
        drivers_definitions(settings),
        ledger_definitions(settings),
        tagging_definitions(settings),
        Definitions(jobs=[cost_job], schedules=[cost_daily]),
    )
