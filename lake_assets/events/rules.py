"""Deciding what a dependency rule does for one partition: a pure function of what is ready."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from lake_assets.events.model import DataReady, DependencyRule

Action = Literal["run", "wait", "run_partial", "skip", "dead_letter"]


@dataclass(frozen=True)
class Decision:
    action: Action
    missing: list[str] = field(default_factory=list)
    inputs: dict[str, DataReady] = field(default_factory=dict)  # the ready inputs
    run_key: str | None = None  # set for "run" and "run_partial"


def deadline_of(rule: DependencyRule, first_seen: datetime) -> datetime:
    return first_seen + timedelta(hours=rule.timeout_hours)


def run_key_of(rule: DependencyRule, partition: str, inputs: dict[str, DataReady]) -> str:
    """Derived from the input versions, so a repeated event gives the same key (Dagster launches
    a run key once) and a new version of any input gives a new one. The publish time is part
    of a version: content going A -> B -> A is a third version, and downstream must run again
    (a redelivery is never recorded, so it cannot change the time)."""
    versions = "|".join(
        f"{d}={inputs[d].identity}@{inputs[d].published_at}" for d in sorted(inputs)
    )
    digest = hashlib.sha256(versions.encode()).hexdigest()[:16]
    return f"deps/{rule.name}/{partition}/{digest}"


def day_ends(partition: str) -> datetime:
    """When a daily partition's day ends (UTC), and the partition exists in the calendar: no run
    for it before then (a rule with a lookback would otherwise request today's partition, which
    Dagster does not have yet, as soon as yesterday's input publishes)."""
    return datetime.combine(date.fromisoformat(partition) + timedelta(days=1), time(), UTC)


def lookback_key(dataset: str, partition: str) -> str:
    """How a lookback dataset's partition is named among a decision's inputs."""
    return f"{dataset}[{partition}]"


def lookback_partitions(rule: DependencyRule, dataset: str, partition: str) -> list[str]:
    """The partitions of `dataset` that the rule's partition `partition` reads through its
    lookback: `partition` and the N days before it."""
    day = date.fromisoformat(partition)
    return [(day - timedelta(days=n)).isoformat() for n in range(rule.lookback[dataset] + 1)]


def base_partition(rule: DependencyRule, dataset: str, partition: str) -> str:
    """The partition of `dataset` the rule's partition `partition` is built on."""
    return (date.fromisoformat(partition) - timedelta(days=rule.base[dataset])).isoformat()


def touched_partitions(rule: DependencyRule, dataset: str, partition: str) -> list[str]:
    """The rule's partitions whose inputs a publish of `dataset`[`partition`] changed: the same
    partition for an input, the N days after it for a lookback dataset, and the day N after it
    for a base."""
    day = date.fromisoformat(partition)
    if dataset in rule.base:
        return [(day + timedelta(days=rule.base[dataset])).isoformat()]
    touched = [partition] if dataset in rule.datasets else []
    if dataset in rule.lookback:
        touched += [
            (day + timedelta(days=n)).isoformat() for n in range(1, rule.lookback[dataset] + 1)
        ]
    return touched


def evaluate(
    rule: DependencyRule,
    partition: str,
    ready: dict[str, DataReady],
    first_seen: datetime,
    now: datetime,
) -> Decision:
    """All inputs ready: run. Some missing before the deadline (first_seen + timeout): wait.
    After it, by the rule's policy: run_partial runs with the missing inputs flagged; skip gives
    up on the partition; wait becomes "dead_letter" (report it, and keep waiting). A partition
    whose day has not ended waits. `ready` holds the ready inputs and, under `lookback_key`,
    the published partitions of the lookback and the bases: all of them are what the run reads."""
    inputs = dict(ready)
    missing = [d for d in rule.inputs if d not in ready]
    if rule.waits_for_its_day and now < day_ends(partition):
        return Decision("wait", missing, inputs)
    if not missing:
        return Decision("run", [], inputs, run_key_of(rule, partition, inputs))
    if now < deadline_of(rule, first_seen):
        return Decision("wait", missing, inputs)
    if rule.on_timeout == "run_partial":
        return Decision("run_partial", missing, inputs, run_key_of(rule, partition, inputs))
    return Decision("skip" if rule.on_timeout == "skip" else "dead_letter", missing, inputs)
