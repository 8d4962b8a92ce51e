"""The metrics the alarms watch: a failed run and a failed tick are each counted once, an SLO
burning its budget is counted at its evaluation, and on the aws profile each reaches CloudWatch
(the moto server) under the namespace and dimension terraform/alarms.tf's alarms watch."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import boto3
from aws_lake import REGION, open_aws_lake
from dagster import (
    DagsterEventType,
    DagsterInstance,
    build_run_status_sensor_context,
    build_sensor_context,
    job,
    op,
)
from dagster._core.remote_origin import (
    RegisteredCodeLocationOrigin,
    RemoteInstigatorOrigin,
    RemoteRepositoryOrigin,
)
from dagster._core.scheduler.instigation import (
    InstigatorState,
    InstigatorStatus,
    InstigatorType,
    TickData,
    TickStatus,
)
from dagster._core.test_utils import instance_for_test
from dagster._utils.error import SerializableErrorInfo

from lake_assets.alarms.model import FAILED_RUNS, FAILED_TICKS, TickSeen, failures_since
from lake_assets.alarms.sensors import failed_runs_metric, failed_ticks_metric
from resources.aws.cloudwatch import LAKE_DIMENSION, NAMESPACE
from resources.metrics import LocalMetrics


def test_failed_ticks_are_counted_once_between_looks():
    ticks = [
        TickSeen("arrivals", 10.0, failed=True),
        TickSeen("arrivals", 20.0, failed=False),
        TickSeen("slo_schedule", 30.0, failed=True),
    ]
    assert failures_since(ticks, 0.0) == (2, 30.0, ["arrivals", "slo_schedule"])
    assert failures_since(ticks, 10.0) == (1, 30.0, ["slo_schedule"])
    assert failures_since(ticks, 30.0) == (0, 30.0, [])


@op
def breaks():
    raise RuntimeError("the source system is down")


@job
def breaking_job():
    breaks()


def test_a_failed_run_is_counted_in_failed_runs(tmp_path):
    metrics = LocalMetrics(tmp_path / "metrics.jsonl")
    instance = DagsterInstance.ephemeral()
    result = breaking_job.execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success
    failure = next(
        e for e in result.all_events if e.event_type == DagsterEventType.PIPELINE_FAILURE
    )
    context = build_run_status_sensor_context(
        sensor_name="failed_runs_metric",
        dagster_event=failure,
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        resources={"metrics": metrics},
    ).for_run_failure()
    failed_runs_metric(context)
    assert [(m["name"], m["value"]) for m in metrics.counted()] == [(FAILED_RUNS, 1)]


def _sensor_state(instance, name: str) -> InstigatorState:
    origin = RemoteInstigatorOrigin(
        RemoteRepositoryOrigin(RegisteredCodeLocationOrigin("lake"), "__repository__"), name
    )
    state = InstigatorState(origin, InstigatorType.SENSOR, InstigatorStatus.RUNNING)
    instance.add_instigator_state(state)
    return state


def _tick(instance, state: InstigatorState, status: TickStatus, at: float) -> None:
    instance.create_tick(
        TickData(
            instigator_origin_id=state.instigator_origin_id,
            instigator_name=state.instigator_name,
            instigator_type=InstigatorType.SENSOR,
            status=status,
            timestamp=at,
            selector_id=state.selector_id,
            run_ids=[],
            error=SerializableErrorInfo("RuntimeError: boom", [], "RuntimeError")
            if status == TickStatus.FAILURE
            else None,
        )
    )


def test_failed_sensor_ticks_are_counted_from_the_instance_once(tmp_path):
    metrics = LocalMetrics(tmp_path / "metrics.jsonl")
    with instance_for_test() as instance:
        arrivals = _sensor_state(instance, "arrivals")
        now = time.time()
        _tick(instance, arrivals, TickStatus.FAILURE, now - 3600)  # before the first look

        first = failed_ticks_metric(
            build_sensor_context(instance=instance, resources={"metrics": metrics})
        )
        assert metrics.counted() == []  # the first look starts now
        _tick(instance, arrivals, TickStatus.FAILURE, now + 1)
        _tick(instance, arrivals, TickStatus.SUCCESS, now + 2)
        _tick(instance, arrivals, TickStatus.FAILURE, now + 3)
        context = lambda cursor: build_sensor_context(  # noqa: E731
            instance=instance, cursor=cursor, resources={"metrics": metrics}
        )
        second = failed_ticks_metric(context(first.cursor))
        assert [(m["name"], m["value"]) for m in metrics.counted()] == [(FAILED_TICKS, 2)]
        assert "2 failed ticks counted: arrivals" in second.skip_reason.skip_message
        failed_ticks_metric(context(second.cursor))  # nothing new: nothing counted
        assert len(metrics.counted()) == 1


def test_on_aws_the_metrics_reach_cloudwatch_under_the_alarms_namespace(aws_endpoint, tmp_path):
    settings, resources, _ = open_aws_lake(aws_endpoint, tmp_path)
    resources["metrics"].count(FAILED_RUNS, 1)
    resources["metrics"].count(FAILED_RUNS, 2)
    cloudwatch = boto3.client("cloudwatch", endpoint_url=aws_endpoint, region_name=REGION)
    dimensions = [{"Name": LAKE_DIMENSION, "Value": settings.aws.bucket}]
    listed = cloudwatch.list_metrics(Namespace=NAMESPACE)["Metrics"]
    assert [(m["MetricName"], m["Dimensions"]) for m in listed] == [(FAILED_RUNS, dimensions)]
    now = datetime.now(UTC)
    stats = cloudwatch.get_metric_statistics(
        Namespace=NAMESPACE,
        MetricName=FAILED_RUNS,
        Dimensions=dimensions,
        StartTime=now - timedelta(minutes=10),
        EndTime=now + timedelta(minutes=1),
        Period=300,
        Statistics=["Sum"],
    )
    assert sum(p["Sum"] for p in stats["Datapoints"]) == 3


def test_profiling_counts_dead_lettered_payloads_and_schema_breaks_for_their_alarms(lake):
    """The registry asset (what the arrivals sensor runs) counts what it dead-lettered and the
    BREAKING versions it registered; a clean day counts nothing (no data is no failure)."""
    from lake_assets.alarms.model import DEAD_LETTERED_PAYLOADS, SCHEMA_BREAKS
    from lake_assets.ingestion.asset_keys import registry_key_of

    lake.deliver_cards("2026-03-02", range(3))
    assert lake.profile("card_transactions", "2026-03-02").success
    metrics = lake.resources["metrics"]
    assert metrics.counted() == []
    lake.deliver_cards("2026-03-03", range(3, 6), renamed=True)  # txn_date: a rename, BREAKING
    lake.deliver("card_transactions", "2026-03-03", "bad.json", "{not json\n")
    lake.deliver("card_transactions", "2026-03-03", "worse.json", b"\xff\xfe{}\n")
    profiled = lake.profile("card_transactions", "2026-03-03")  # its schema check fails (blocking)
    node = registry_key_of("card_transactions").to_python_identifier()
    assert profiled.asset_materializations_for_node(node)
    counted = {(m["name"], m["value"]) for m in metrics.counted()}
    assert counted == {(DEAD_LETTERED_PAYLOADS, 2), (SCHEMA_BREAKS, 1)}
