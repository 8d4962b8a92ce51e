"""Two sensors that only count: every failed run, and every failed tick of any sensor or
schedule, become metrics the alarms watch. Neither requests a run, so they start RUNNING and
`make dev` stays calm."""

from __future__ import annotations

from dagster import (
    DefaultSensorStatus,
    ResourceParam,
    RunFailureSensorContext,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    run_failure_sensor,
    sensor,
)
from dagster._core.scheduler.instigation import TickStatus

from lake_assets.alarms.model import FAILED_RUNS, FAILED_TICKS, TickSeen, failures_since
from lake_assets.instants import utc_now
from resources.metrics import PlatformMetrics

FAILED_TICKS_SENSOR = "failed_ticks_metric"


@run_failure_sensor(
    name="failed_runs_metric",
    default_status=DefaultSensorStatus.RUNNING,
    description="Counts each failed run in the FailedRuns metric (the failed-runs alarm).",
)
def failed_runs_metric(context: RunFailureSensorContext, metrics: ResourceParam[PlatformMetrics]):
    metrics.count(FAILED_RUNS, 1)
    context.log.info(f"run {context.dagster_run.run_id} failed: counted in {FAILED_RUNS}")


@sensor(
    name=FAILED_TICKS_SENSOR,
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.RUNNING,
    description="Counts failed sensor and schedule ticks in the FailedSensorTicks metric.",
)
def failed_ticks_metric(context: SensorEvaluationContext, metrics: ResourceParam[PlatformMetrics]):
    instance = context.instance
    # The first look starts now: failures from before the sensor ran were not its to count.
    since = float(context.cursor) if context.cursor else utc_now().timestamp()
    seen = [
        TickSeen(state.instigator_name, tick.timestamp, tick.status == TickStatus.FAILURE)
        for state in instance.all_instigator_state()
        if state.instigator_name != FAILED_TICKS_SENSOR
        for tick in instance.get_ticks(state.instigator_origin_id, state.selector_id, after=since)
    ]
    failed, newest, names = failures_since(seen, since)
    if failed:
        metrics.count(FAILED_TICKS, failed)
        return SensorResult(
            skip_reason=SkipReason(f"{failed} failed ticks counted: {', '.join(names)}"),
            cursor=str(newest),
        )
    return SensorResult(skip_reason=SkipReason("no failed ticks"), cursor=str(newest))
