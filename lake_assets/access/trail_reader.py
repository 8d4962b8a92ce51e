"""The lake's CloudTrail trail where the settings place it (terraform/audit.tf delivers it to
the access-log bucket): its scope (trail.TrailScope) and its files, read into the lake's reads
of some days. `lake access reads` and the daily check of consumer reads both read it so."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from lake_assets.access.trail import TrailReads, TrailScope, days_to_list, trail_reads
from lake_assets.access.views import views_database
from lake_assets.settings import Settings

if TYPE_CHECKING:
    from resources.aws.cloudtrail import CloudTrailFiles


def trail_scope(settings: Settings) -> TrailScope:
    """What of the trail is the lake's: its bucket, its two Glue databases, its own roles and
    its consumers'."""
    aws = settings.aws
    roles = (aws.orchestrator_role_arn, aws.emr_execution_role_arn, aws.view_definer_role_arn)
    return TrailScope(
        bucket=aws.bucket,
        curated_database=aws.glue_database.lower(),
        views_database=views_database(aws.glue_database).lower(),
        lake_roles=frozenset(role for role in roles if role),
        consumer_role_prefix=aws.consumer_role_arn_prefix or "",
    )


def trail_files(settings: Settings) -> CloudTrailFiles:
    """The trail's files in the access-log bucket; an error saying why there are none."""
    if settings.profile != "aws":
        raise ValueError(
            "CloudTrail exists only on the aws profile (LAKE_PROFILE=aws, terraform/audit.tf): "
            "a local lake has no trail of reads; its own decisions are in `lake access audit`"
        )
    aws = settings.aws
    if not aws.cloudtrail_bucket:
        raise ValueError(
            "LAKE_CLOUDTRAIL_BUCKET is not set: the access-log bucket the trail delivers to "
            "(`terraform output lake_env`)"
        )
    from resources.aws.cloudtrail import CloudTrailFiles

    return CloudTrailFiles(
        aws.cloudtrail_bucket,
        aws.cloudtrail_prefix,
        endpoint_url=aws.endpoint_url,
        region=aws.region,
    )


def lake_reads(settings: Settings, since: date, until: date) -> TrailReads:
    """The lake's reads of the days `since`..`until` (UTC, both included) in the trail."""
    days = days_to_list(since, until)  # a range the wrong way round is refused first
    files = trail_files(settings).files(days)
    return trail_reads(files, trail_scope(settings), since, until)
