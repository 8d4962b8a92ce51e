"""What an operator reads when the failed-runs or the failed-ticks alarm fires (`lake runs
failed`, `lake ticks`): each failed run with what failed and whether a re-execution took it up,
and each sensor's and schedule's ticks with the error of a failed one. Plain records in, lines
out; cli.py reads them from the Dagster instance."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from lake_assets.instants import format_instant


@dataclass(frozen=True)
class FailedRun:
    run_id: str
    job: str
    partitions: str | None  # a day, a range `first..last`, or None (not partitioned)
    ended_at: datetime | None
    reasons: tuple[str, ...]  # what failed, each with its reason (cli.runs.failure_lines)
    # (run id, status) of the re-executions in its run group started after it: of this run, or
    # of the run it re-executed (which covers its steps too).
    reexecutions: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class TickRecord:
    instigator: str  # the sensor's or schedule's name
    kind: str  # sensor | schedule
    at: datetime
    status: str  # SUCCESS, SKIPPED, FAILURE, STARTED
    runs: int = 0  # runs it requested
    reason: str | None = None  # a failed tick's error, a skipped one's reason


def failed_run_lines(run: FailedRun) -> list[str]:
    head = " ".join(filter(None, [run.run_id, run.job, run.partitions]))
    if run.ended_at is not None:
        head += f", failed at {format_instant(run.ended_at)}"
    lines = [head, *(f"  {reason}" for reason in run.reasons)]
    lines += [f"  re-executed: run {rid} {status}" for rid, status in run.reexecutions]
    if not run.reexecutions:
        lines.append(f"  once the cause is fixed: lake runs reexecute {run.run_id}")
    return lines


def failed_runs_report(runs: Sequence[FailedRun], include_reexecuted: bool = False) -> list[str]:
    """The failed runs newest first: by default those no later re-execution took up (what still
    waits for the operator), with `include_reexecuted` every one with its re-executions."""
    shown = [r for r in runs if include_reexecuted or not r.reexecutions]
    if not shown:
        return ["no failed run" + ("" if include_reexecuted else " waits for a re-execution")]
    lines = []
    for run in shown:
        lines += failed_run_lines(run)
    hidden = len(runs) - len(shown)
    if hidden:
        lines.append(f"{hidden} failed runs re-executed already (--all lists them)")
    return lines


def recorded_outcome(partition: str | None, metadata: Mapping) -> str:
    """What a materialization of a re-executed step recorded, from its metadata: a derived
    partition held back by its inputs (`blocked_by`), a curated one refused by its contract's
    rules (`partitions_blocked`), or materialized."""
    if metadata.get("blocked_by"):
        return "held: " + "; ".join(metadata["blocked_by"])
    if refused := (metadata.get("partitions_blocked") or {}).get(partition):
        return f"refused: contract rules {', '.join(refused)} failed"
    return "materialized"


def tick_line(tick: TickRecord) -> str:
    line = f"{tick.instigator} ({tick.kind}) {format_instant(tick.at)}: {tick.status}"
    if tick.runs:
        line += f", {tick.runs} run{'' if tick.runs == 1 else 's'} requested"
    return line + (f": {tick.reason}" if tick.reason else "")


def latest_ticks_report(latest: Sequence[TickRecord]) -> list[str]:
    """One line per sensor and schedule that ticked: its last tick, failed ones first."""
    if not latest:
        return ["no sensor or schedule has ticked in this instance (is the daemon running?)"]
    return [
        tick_line(t) for t in sorted(latest, key=lambda t: (t.status != "FAILURE", t.instigator))
    ]
