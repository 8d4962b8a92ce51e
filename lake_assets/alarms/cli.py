"""`lake runs failed|reexecute` and `lake ticks`: what the failed-runs and failed-ticks alarms
ask the operator to look at, from the Dagster instance the lake's runs and the daemon share
(DAGSTER_HOME), and the re-execution of a failed run from failure once its cause is fixed
(docs/runbooks/alarm-response.md)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from lake_assets.alarms.failures import (
    FailedRun,
    TickRecord,
    failed_runs_report,
    latest_ticks_report,
    recorded_outcome,
    tick_line,
)
from lake_assets.runtime.run_tags import partitions_of
from lake_assets.settings import Settings


def _instant(timestamp: float | None) -> datetime | None:
    return None if timestamp is None else datetime.fromtimestamp(timestamp, UTC)


def read_failed_runs(instance, limit: int) -> list[FailedRun]:
    """The newest `limit` failed runs, each with what failed and the runs re-executing it."""
    from dagster import DagsterEventType, DagsterRunStatus, RunsFilter

    from lake_assets.cli.runs import failure_lines

    kinds = {
        DagsterEventType.STEP_FAILURE,
        DagsterEventType.ASSET_CHECK_EVALUATION,
        DagsterEventType.RUN_FAILURE,
    }
    found = []
    for record in instance.get_run_records(
        RunsFilter(statuses=[DagsterRunStatus.FAILURE]), limit=limit
    ):
        run = record.dagster_run
        events = [e.dagster_event for e in instance.all_logs(run.run_id, of_type=kinds)]
        later = _reexecuted_after(instance, record)
        found.append(
            FailedRun(
                run.run_id,
                run.job_name,
                partitions_of(run.tags),
                _instant(record.end_time),
                tuple(failure_lines([e for e in events if e is not None])),
                later,
            )
        )
    return found


def _reexecuted_after(instance, record) -> tuple[tuple[str, str], ...]:
    """(run id, status) of the re-executions in `record`'s run group created after it."""
    from dagster import RunsFilter

    _, group = instance.get_run_group(record.dagster_run.run_id) or (None, [])
    ids = [r.run_id for r in group if r.parent_run_id and r.run_id != record.dagster_run.run_id]
    if not ids:
        return ()
    later = [
        r
        for r in instance.get_run_records(RunsFilter(run_ids=ids))
        if r.create_timestamp > record.create_timestamp
    ]
    later.sort(key=lambda r: r.create_timestamp)
    return tuple((r.dagster_run.run_id, r.dagster_run.status.value) for r in later)


def read_ticks(instance, name: str | None = None, limit: int = 1) -> list[TickRecord]:
    """The last `limit` ticks of every sensor and schedule (of `name` only), newest first."""
    from dagster._core.scheduler.instigation import InstigatorType

    from lake_assets.cli.runs import innermost

    ticks = []
    for state in instance.all_instigator_state():
        if name is not None and state.instigator_name != name:
            continue
        kind = "sensor" if state.instigator_type == InstigatorType.SENSOR else "schedule"
        for tick in instance.get_ticks(state.instigator_origin_id, state.selector_id, limit=limit):
            ticks.append(
                TickRecord(
                    state.instigator_name,
                    kind,
                    _instant(tick.timestamp),
                    tick.status.value,
                    len(tick.run_ids),
                    innermost(tick.error).message.strip() if tick.error else tick.skip_reason,
                )
            )
    return sorted(ticks, key=lambda t: t.at, reverse=True)


def cmd_runs_failed(args: argparse.Namespace, settings: Settings) -> int:
    from lake_assets.cli.runs import dagster_instance

    runs = read_failed_runs(dagster_instance(), args.limit)
    for line in failed_runs_report(runs, include_reexecuted=args.all):
        print(line)
    return 0


def cmd_runs_reexecute(args: argparse.Namespace, settings: Settings) -> int:
    from lake_assets.cli.runs import reexecute_from_failure, report_run

    result = reexecute_from_failure(args.run_id)
    # A step tried again after a transient error starts twice: named once.
    steps = dict.fromkeys(
        e.step_key for e in result.all_events if e.event_type_value == "STEP_START"
    )
    print(f"run {result.run_id}: run {args.run_id} re-executed from failure: {', '.join(steps)}")
    for event in result.all_events:
        if event.event_type_value == "ASSET_MATERIALIZATION":
            recorded = event.event_specific_data.materialization
            metadata = {name: value.value for name, value in recorded.metadata.items()}
            day = f" {recorded.partition}" if recorded.partition else ""
            outcome = recorded_outcome(recorded.partition, metadata)
            print(f"  {recorded.asset_key.to_user_string()}{day}: {outcome}")
    status = report_run(result)
    print(f"run {result.run_id}: {'SUCCESS' if result.success else 'FAILURE'}")
    return status


def cmd_ticks(args: argparse.Namespace, settings: Settings) -> int:
    from lake_assets.cli.runs import dagster_instance

    instance = dagster_instance()
    if args.name is None:
        for line in latest_ticks_report(read_ticks(instance)):
            print(line)
        return 0
    ticks = read_ticks(instance, args.name, args.limit)
    if not ticks:
        raise LookupError(
            f"{args.name} has no tick in this instance: no sensor or schedule of "
            "that name has run (`lake ticks` lists those that have)"
        )
    for tick in ticks:
        print(tick_line(tick))
    return 0


def add_alarm_commands(subparsers: Any) -> None:
    runs = subparsers.add_parser(
        "runs", help="Dagster runs: the failed ones and why, re-execution from failure"
    ).add_subparsers(dest="runs_command", required=True)
    p = runs.add_parser(
        "failed",
        help="failed runs newest first, each step or check that failed with its reason; by "
        "default those no re-execution took up yet",
    )
    p.add_argument(
        "--all", action="store_true", help="also those re-executed, with the runs that did"
    )
    p.add_argument("--limit", type=int, default=20, help="look at the newest N failed runs (20)")
    p.set_defaults(run=cmd_runs_failed)
    p = runs.add_parser(
        "reexecute",
        help="re-execute a failed run from failure, in this process: only its steps that failed "
        'or never ran (the webserver\'s "Re-execute from failure")',
    )
    p.add_argument("run_id", metavar="RUN_ID", help="the failed run (lake runs failed lists them)")
    p.set_defaults(run=cmd_runs_reexecute, checks_config=True)

    p = subparsers.add_parser(
        "ticks",
        help="each sensor's and schedule's last tick, failed ones first with their error; with "
        "a name, its last ticks",
    )
    p.add_argument("name", nargs="?", metavar="NAME", help="a sensor or schedule")
    p.add_argument("--limit", type=int, default=5, help="with NAME: its newest N ticks (5)")
    p.set_defaults(run=cmd_ticks)
