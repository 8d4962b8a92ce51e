"""The metrics the alarms watch: a failed run and a failed tick are each counted once, an SLO
burning its budget is counted at its evaluation, and on the aws profile each reaches CloudWatch
(the moto server) under the namespace and dimension terraform/alarms.tf's alarms watch. And what
the operator answering them reads (`lake runs`, `lake ticks`; their runbook sections run in
tests/test_runbooks.py and tests/test_emr_serverless.py)."""

from __future__ import annotations

import time
from dataclasses import replace
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

from lake_assets.alarms.failures import (
    FailedRun,
    TickRecord,
    failed_runs_report,
    latest_ticks_report,
    recorded_outcome,
    tick_line,
)
from lake_assets.alarms.model import FAILED_RUNS, FAILED_TICKS, TickSeen, failures_since
from lake_assets.alarms.sensors import failed_runs_metric, failed_ticks_metric
from lake_assets.runtime.run_tags import partitions_of
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


# --- what the operator reads when the alarms fire: `lake runs failed|reexecute`, `lake ticks` --


def test_a_failed_run_waits_for_the_operator_until_a_re_execution_takes_it_up():
    at = datetime(2026, 3, 12, 2, 0, tzinfo=UTC)
    waiting = FailedRun(
        "r2",
        "silver",
        partitions_of({"dagster/partition": "2026-03-11"}),
        at,
        ("FAILED silver__fx_rates: FxGapTooLong: no rate",),
    )
    taken_up = replace(waiting, run_id="r1", reexecutions=(("r3", "SUCCESS"),))
    assert failed_runs_report([waiting, taken_up]) == [
        "r2 silver 2026-03-11, failed at 2026-03-12T02:00:00+00:00",
        "  FAILED silver__fx_rates: FxGapTooLong: no rate",
        "  once the cause is fixed: lake runs reexecute r2",
        "1 failed runs re-executed already (--all lists them)",
    ]
    assert failed_runs_report([waiting, taken_up], include_reexecuted=True)[3:] == [
        "r1 silver 2026-03-11, failed at 2026-03-12T02:00:00+00:00",
        "  FAILED silver__fx_rates: FxGapTooLong: no rate",
        "  re-executed: run r3 SUCCESS",
    ]
    assert failed_runs_report([taken_up]) == ["no failed run waits for a re-execution"]
    assert partitions_of({"dagster/asset_partition_range_start": "2026-03-01",
                          "dagster/asset_partition_range_end": "2026-03-31"}) == "2026-03-01..2026-03-31"  # fmt: skip
    assert partitions_of({}) is None


def test_a_re_executed_partition_says_whether_it_was_held_refused_or_materialized():
    assert recorded_outcome("2026-03-11", {"rows_out": 6}) == "materialized"
    held = {"blocked_by": ["customers[2026-03-11] is not published yet"]}
    assert (
        recorded_outcome("2026-03-11", held) == "held: customers[2026-03-11] is not published yet"
    )
    refused = {"partitions_blocked": {"2026-03-11": ["amount_positive"]}}
    assert (
        recorded_outcome("2026-03-11", refused) == "refused: contract rules amount_positive failed"
    )
    assert recorded_outcome("2026-03-12", refused) == "materialized"


def test_a_tick_says_why_it_failed_or_what_it_requested_failed_ones_first():
    at = datetime(2026, 3, 12, 2, 0, tzinfo=UTC)
    failed = TickRecord("raw_arrivals", "sensor", at, "FAILURE", 0, "PermissionError: denied")
    launched = TickRecord("daily_fx_rates", "schedule", at, "SUCCESS", 2)
    assert latest_ticks_report([launched, failed]) == [
        "raw_arrivals (sensor) 2026-03-12T02:00:00+00:00: FAILURE: PermissionError: denied",
        "daily_fx_rates (schedule) 2026-03-12T02:00:00+00:00: SUCCESS, 2 runs requested",
    ]
    assert tick_line(replace(launched, runs=1)).endswith("SUCCESS, 1 run requested")
    assert "is the daemon running?" in latest_ticks_report([])[0]


@op
def fine():
    pass


@job
def fine_job():
    fine()


def test_lake_runs_lists_a_failed_run_and_re_executes_only_a_failed_run_of_the_location(
    tmp_path, monkeypatch, capsys
):
    """`lake runs failed` names the failed step and its error; `lake runs reexecute` refuses what
    it cannot re-execute from failure, naming why: a run the instance does not hold, a run that
    did not fail, a run of a job the code location does not have."""
    from lake_assets.cli.main import main

    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("LAKE_ROOT", str(tmp_path / "lake"))
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    instance = DagsterInstance.from_config(str(home))
    failed = breaking_job.execute_in_process(instance=instance, raise_on_error=False).run_id
    succeeded = fine_job.execute_in_process(instance=instance).run_id

    assert main(["runs", "failed"]) == 0
    listed = capsys.readouterr().out
    assert f"{failed} breaking_job, failed at" in listed
    assert "  FAILED breaks: RuntimeError: the source system is down" in listed
    assert f"lake runs reexecute {failed}" in listed and succeeded not in listed

    for run_id, reason in [
        ("no-such-run", f"no run no-such-run in the Dagster instance of {home}"),
        (succeeded, f"run {succeeded} is SUCCESS: only a failed run is re-executed"),
        (failed, f"run {failed} ran breaking_job, which the code location has no job of"),
    ]:
        assert main(["runs", "reexecute", run_id]) == 2
        assert reason in capsys.readouterr().err
