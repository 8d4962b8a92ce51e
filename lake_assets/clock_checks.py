"""Asset checks that pass or fail with time, not with runs of ours (a partition's deadline, what
is deployed drifting from what is generated, what consumers read yesterday): their own job, run
by a schedule that is on from the start, each at a minute of its own so the jobs on the clock
do not start together."""

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

HOURLY, DAILY = "Hourly", "Daily"


def checked_on_the_clock(
    job: str,
    checks: Sequence[AssetChecksDefinition],
    minute: int,
    what: str,
    every: str = HOURLY,
    hour: int = 0,
) -> Definitions:
    """`checks` and the job `job` that runs them (described by `what`, "checks each ..."),
    scheduled at `minute` past every hour, or `DAILY` at `hour`:`minute` (UTC); nothing when
    there are no checks."""
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
                cron_schedule=f"{minute} * * * *" if every == HOURLY else f"{minute} {hour} * * *",
                execution_timezone="UTC",
                description=f"{every}: {what}",
                default_status=DefaultScheduleStatus.RUNNING,
            )
        ],
    )
