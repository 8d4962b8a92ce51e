"""Asset checks that pass or fail with time, not with runs of ours (a partition's deadline, what
is deployed drifting from what is generated): their own job, run hourly by a schedule that is
on from the start, at a minute of its own so the hourly jobs do not start together."""

from __future__ import annotations

from collections.abc import Sequence

from dagster import (
    AssetChecksDefinition,
    AssetSelection,
    DefaultScheduleStatus,
    Definitions,
    ScheduleDefinition,
    define_asset_job,
)


def checked_hourly(
    job: str, checks: Sequence[AssetChecksDefinition], minute: int, what: str
) -> Definitions:
    """`checks` and the job `job` that runs them (described by `what`, "checks each ..."),
    scheduled at `minute` past every hour (UTC); nothing when there are no checks."""
    if not checks:
        return Definitions()
    clock_job = define_asset_job(
        job, selection=AssetSelection.checks(*checks), description=what[0].upper() + what[1:]
    )
    return Definitions(
        asset_checks=list(checks),
        jobs=[clock_job],
        schedules=[
            ScheduleDefinition(
                job=clock_job,
                cron_schedule=f"{minute} * * * *",
                execution_timezone="UTC",
                description=f"Hourly: {what}",
                default_status=DefaultScheduleStatus.RUNNING,
            )
        ],
    )
