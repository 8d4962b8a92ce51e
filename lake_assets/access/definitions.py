"""Access control's part of the code location: the masked views, their refresh sensor, and on
`aws` with a trail the daily check that no consumer read around them."""

from __future__ import annotations

from dagster import Definitions

from lake_assets.access.assets import masked_views
from lake_assets.access.sensors import masked_views_refresh
from lake_assets.clock_checks import DAILY, checked_on_the_clock
from lake_assets.settings import Settings


def access_definitions(settings: Settings) -> Definitions:
    views = Definitions(assets=[masked_views], sensors=[masked_views_refresh])
    if settings.profile != "aws" or not settings.aws.cloudtrail_bucket:
        return views
    from lake_assets.access.checks import build_reads_watch_check

    # At 07:10 UTC: CloudTrail delivers within about 15 minutes, the day's last minutes in the
    # next day's folder, which the reader lists too.
    watch = checked_on_the_clock(
        "consumer_reads_watch",
        [build_reads_watch_check()],
        minute=10,
        hour=7,
        every=DAILY,
        what="checks that yesterday no consumer role read around its masked views.",
    )
    return Definitions.merge(views, watch)
