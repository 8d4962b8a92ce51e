"""The consumer boundary watched on the clock (ADR-0164): every morning the trail of the day
before is read for consumer reads around the masked views (trail.Read.around_masks, ADR-0163). A
consumer role may read its profile's views and nothing else, so one such read is a grant that
should not exist: the check fails naming each, and the alert topic hears of it once, since
each run judges one day. Only on `aws` with the trail's bucket set: a local lake has no trail."""

# No `from __future__ import annotations`: Dagster reads the context's annotation as a type.
from datetime import timedelta

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    MetadataValue,
    ResourceParam,
    asset_check,
)

from lake_assets.access.assets import MASKED_VIEWS_KEY
from lake_assets.access.trail import read_line
from lake_assets.access.trail_reader import lake_reads
from lake_assets.instants import utc_now
from lake_assets.runtime.retries import retried_when_transient
from lake_assets.settings import Settings
from resources.notifier import Alert, Notifier

NO_READ_AROUND_THE_MASKS = "no_consumer_read_around_the_masks"
ALERT_KIND = "access.read_around_the_masks"
# Reads named in the alert; the check's metadata and `lake access reads` have them all.
ALERTED_READS = 20


def build_reads_watch_check() -> AssetChecksDefinition:
    @asset_check(
        asset=MASKED_VIEWS_KEY,
        name=NO_READ_AROUND_THE_MASKS,
        description=(
            "Yesterday's CloudTrail reads: no consumer role read anything but its profile's "
            "masked views (the lake's objects, a curated table, another profile's view)."
        ),
    )
    @retried_when_transient
    def no_consumer_read_around_the_masks(
        context: AssetCheckExecutionContext,
        settings: ResourceParam[Settings],
        notifier: ResourceParam[Notifier],
    ) -> AssetCheckResult:
        day = utc_now().date() - timedelta(days=1)
        found = lake_reads(settings, day, day)
        around = [read for read in found.reads if read.around_masks]
        lines = [read_line(read) for read in around]
        if around:
            notifier.send(
                Alert(
                    ALERT_KIND,
                    f"{len(around)} consumer reads went around the masked views on {day}",
                    {
                        "day": day.isoformat(),
                        "reads": lines[:ALERTED_READS],
                        "all": f"lake access reads --since {day} --until {day} --around-masks",
                    },
                )
            )
        # A trail file that cannot be read may hide a read: not a pass, but not a breach either.
        unread = [str(m) for m in found.malformed]
        return AssetCheckResult(
            passed=not around and not unread,
            severity=AssetCheckSeverity.ERROR if around else AssetCheckSeverity.WARN,
            metadata={
                "day": day.isoformat(),
                "trail_files": found.files,
                "reads": len(found.reads),
                "around_the_masks": MetadataValue.json(lines),
                "malformed": MetadataValue.json(unread),
            },
            description="\n".join(lines + unread) or None,
        )

    return no_consumer_read_around_the_masks
