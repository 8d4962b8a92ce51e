"""Time partitions shared by every dataset: one partition per UTC day.

Raw and registry assets are partitioned by the day a payload arrived (ingest date), curated
assets by the business day of each record (event date). Both use the same daily calendar, so
a day in the webserver means the same thing everywhere.
"""

from dagster import DailyPartitionsDefinition

from lake_assets.settings import load_settings


def daily_partitions(start_date: str | None = None) -> DailyPartitionsDefinition:
    # end_offset=1 includes today, so today's deliveries can be profiled today.
    return DailyPartitionsDefinition(
        start_date=start_date or load_settings().partitions_start, end_offset=1, timezone="UTC"
    )
