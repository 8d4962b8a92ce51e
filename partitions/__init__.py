"""Time partitions shared by every dataset: one partition per UTC day.

Raw and registry assets are partitioned by the day a payload arrived (ingest date), curated
assets by the business day of each record (event date). Both use the same daily calendar, so
a day in the webserver means the same thing everywhere.

Cost attribution works in billing periods (the AWS bill is monthly, and AWS restates a whole
month): its assets are partitioned by UTC month, from the month of the calendar's first day.
"""

from dagster import DailyPartitionsDefinition, MonthlyPartitionsDefinition

from lake_assets.settings import load_settings


def daily_partitions(start_date: str | None = None) -> DailyPartitionsDefinition:
    # end_offset=1 includes today, so today's deliveries can be profiled today.
    return DailyPartitionsDefinition(
        start_date=start_date or load_settings().partitions_start, end_offset=1, timezone="UTC"
    )


def monthly_partitions(start_date: str | None = None) -> MonthlyPartitionsDefinition:
    """One partition per billing month ("YYYY-MM"), the current month included: AWS delivers
    the month's bill as it goes and restates it after it closes."""
    start = (start_date or load_settings().partitions_start)[:7]
    return MonthlyPartitionsDefinition(start_date=start, end_offset=1, timezone="UTC", fmt="%Y-%m")
