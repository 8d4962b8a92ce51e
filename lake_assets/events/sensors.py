"""The dependency sensor: data-ready events in, runs of downstream assets out.

Each tick reads the events recorded since its cursor, starts waiting for every (rule, partition)
they touch, and evaluates every waiting rule, so deadlines pass even when no event comes.
Duplicated deliveries never reach it (the store keeps one event per idempotency key), and run
keys derived from the input versions make a repeated request launch once. A wait that requested
a run is closed by a later tick that finds the run in Dagster, not by the tick that asked: its
store writes happen before Dagster records the tick, and a lost tick's request is asked again
under the same run key (ADR-0155).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta

from dagster import (
    AssetKey,
    AssetSelection,
    DefaultSensorStatus,
    ResourceParam,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)

from lake_assets.events.attempts import last_build_start, launched_run_keys, recheck_due
from lake_assets.events.model import DataReady, DependencyRule
from lake_assets.events.outbox import drain
from lake_assets.events.rules import (
    Decision,
    base_partition,
    day_ends,
    deadline_of,
    evaluate,
    lookback_key,
    lookback_partitions,
    touched_partitions,
)
from lake_assets.lineage.emitter import recorder_for
from lake_assets.settings import Settings
from resources.catalog import PartitionCatalog
from resources.event_store import DeadLetter, EventStore, Pending, _stamp
from resources.lineage_store import LineageStore
from resources.notifier import Alert, Notifier
from resources.storage import LakeStorage

Clock = Callable[[], datetime]
# When the run that last materialized a rule's target for a partition started (None: never).
LastBuildStart = Callable[[DependencyRule, str], datetime | None]
# Whether a recheck_references rule's target is due to be checked again (ADR-0132).
RecheckDue = Callable[[DependencyRule, str], bool]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def default_target_selection(rule: DependencyRule) -> list[AssetKey]:
    return [AssetKey(rule.target_path)]


@dataclass
class Tick:
    """What one evaluation decided: runs to request, dead letters written, the new cursor."""

    run_requests: list[RunRequest] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    cursor: str | None = None


def _never_built(rule: DependencyRule, partition: str) -> None:
    return None


def _never_due(rule: DependencyRule, partition: str) -> bool:
    return False


def _covers(started: datetime | None, inputs: dict[str, DataReady]) -> bool:
    """Whether a run started at `started` read every input version: each was published before."""
    if started is None:
        return False
    published = [datetime.fromisoformat(e.published_at) for e in inputs.values()]
    return all((p if p.tzinfo else p.replace(tzinfo=UTC)) <= started for p in published)


def _ready(store: EventStore, rule: DependencyRule, partition: str) -> dict[str, DataReady]:
    found = {d: store.latest(d, partition) for d in rule.inputs}
    for dataset in rule.lookback:
        for day in lookback_partitions(rule, dataset, partition):
            found[lookback_key(dataset, day)] = store.latest(dataset, day)
    for dataset in rule.base:
        day = base_partition(rule, dataset, partition)
        found[lookback_key(dataset, day)] = store.latest(dataset, day)
    return {d: event for d, event in found.items() if event is not None}


def _run_request(
    rule: DependencyRule,
    partition: str,
    decision: Decision,
    selection: Sequence[AssetKey],
    replayed: list[str],
) -> RunRequest:
    tags = {
        "lake/rule": rule.name,
        "lake/inputs": ",".join(
            f"{d}@{e.content_hash[:12]}" for d, e in sorted(decision.inputs.items())
        ),
    }
    if decision.missing:
        tags["lake/missing_inputs"] = ",".join(decision.missing)
    if replayed:
        tags["lake/replay"] = ",".join(replayed)
    assert decision.run_key is not None
    return RunRequest(
        run_key=decision.run_key,
        asset_selection=list(selection),
        partition_key=partition,
        tags=tags,
    )


def _open_letters(store: EventStore, rule: DependencyRule, partition: str) -> list[str]:
    return [d.id for d in store.dead_letters() if d.rule == rule.name and d.partition == partition]


def _dead_letter_for(rule: DependencyRule, pending: Pending, decision: Decision) -> DeadLetter:
    # One dead letter per wait: the id is fixed by when the wait began, so a repeated tick
    # cannot write it twice.
    digest = hashlib.sha256(f"{rule.name}|{pending.partition}|{pending.first_seen}".encode())
    return DeadLetter(
        id=digest.hexdigest()[:12],
        rule=rule.name,
        partition=pending.partition,
        missing=decision.missing,
        on_timeout=rule.on_timeout,
        first_seen=pending.first_seen,
        deadline=_stamp(deadline_of(rule, pending.first_seen_at)),
    )


def evaluate_tick(
    rules: Sequence[DependencyRule],
    store: EventStore,
    notifier: Notifier,
    cursor: str | None,
    now: datetime,
    target_selection_for: Callable[[DependencyRule], Sequence[AssetKey]] = (
        default_target_selection
    ),
    last_build_started: LastBuildStart = _never_built,
    due_for_recheck: RecheckDue = _never_due,
    launched: Collection[str] = frozenset(),
) -> Tick:
    """One sensor evaluation, without Dagster: what the sensor and the tests both run.

    A partition whose target was last run after every input version was published (a run of
    its own, `lake scd apply`, the demo) has nothing new to do: it is settled without a run, as
    is one of a `recheck_references` rule whose target is not due a check there. A run request
    leaves its wait open with the run key; the wait is closed once that key is among `launched`
    (the requested run keys Dagster has a run for) and requested again while it is not."""
    events, cursor = store.events_since(cursor)
    by_name = {rule.name: rule for rule in rules}
    for event in events:
        for rule in rules:
            for partition in touched_partitions(rule, event.dataset, event.partition):
                # A later day touched through a lookback waits from when its day ends.
                begins = day_ends(partition) if partition != event.partition else now
                store.touch(rule.name, partition, max(now, begins))
    tick = Tick(cursor=cursor)
    for pending in store.pending():
        rule = by_name.get(pending.rule)
        if rule is None or pending.status == "skipped":
            continue  # a rule removed from config, or given up on until replayed
        if rule.recheck_references and not due_for_recheck(rule, pending.partition):
            store.clear_pending(rule.name, pending.partition)  # nothing there waits for it
            continue
        decision = evaluate(
            rule,
            pending.partition,
            _ready(store, rule, pending.partition),
            pending.first_seen_at,
            now,
        )
        asked = decision.run_key is not None and decision.run_key == pending.run_key
        if (asked and decision.run_key in launched) or (
            decision.action == "run"
            and pending.status != "replay"  # a replay asks for a run
            and _covers(last_build_started(rule, pending.partition), decision.inputs)
        ):
            # The run it asked for exists, or one of its own read these inputs: a run settles
            # the partition's open dead letters, whichever way it came about, and the wait is
            # forgotten (the next version of any input starts a new one). Letters first, so a
            # tick lost in between leaves the wait to finish it.
            for id in _open_letters(store, rule, pending.partition):
                store.resolve_dead_letter(id, now)
            store.clear_pending(rule.name, pending.partition)
        elif decision.action in ("run", "run_partial"):
            replayed = (
                _open_letters(store, rule, pending.partition) if pending.status == "replay" else []
            )
            tick.run_requests.append(
                _run_request(
                    rule, pending.partition, decision, target_selection_for(rule), replayed
                )
            )
            # Open until Dagster has the run: this write comes before Dagster records the tick,
            # so a tick lost in between leaves the wait to ask for the same run key again.
            if not asked:
                store.set_pending(replace(pending, run_key=decision.run_key))
        elif decision.action in ("dead_letter", "skip") and pending.status != "dead_lettered":
            record = _dead_letter_for(rule, pending, decision)
            # The alert before the letter (as ADR-0131 for ingestion): a send that fails fails
            # the tick with the wait still open, and the next tick sends it; a tick lost after
            # the send may send it twice, never not at all.
            notifier.send(
                Alert(
                    kind="events.dead_lettered",
                    subject=f"{rule.name}[{pending.partition}] is missing "
                    f"{', '.join(decision.missing)} past its deadline",
                    detail={**asdict(record), "action": decision.action},
                )
            )
            if store.put_dead_letter(record):
                tick.dead_letters.append(record)
            status = "skipped" if decision.action == "skip" else "dead_lettered"
            store.set_pending(replace(pending, status=status))
    return tick


def replay(
    rules: Sequence[DependencyRule], store: EventStore, dead_letter_id: str, now: datetime
) -> Decision:
    """Re-evaluate a dead letter as if its wait began now. If every input is ready, the rule is
    queued for the sensor's next tick (so the run is launched by Dagster, with a run key);
    otherwise nothing changes and the decision says what is still missing."""
    record = store.get_dead_letter(dead_letter_id)
    if record is None:
        raise KeyError(f"no dead letter {dead_letter_id!r}")
    rule = {r.name: r for r in rules}.get(record.rule)
    if rule is None:
        raise KeyError(f"dead letter {dead_letter_id} names unknown rule {record.rule!r}")
    decision = evaluate(rule, record.partition, _ready(store, rule, record.partition), now, now)
    if decision.action == "run":
        store.set_pending(Pending(rule.name, record.partition, _stamp(now), "replay"))
    return decision


def build_dependency_sensor(
    rules: Sequence[DependencyRule],
    target_selection_for: Callable[[DependencyRule], Sequence[AssetKey]] = (
        default_target_selection
    ),
    *,
    name: str = "data_ready_dependencies",
    minimum_interval_seconds: int = 60,
    clock: Clock = _utcnow,
):
    """A sensor running each rule's target for a partition once its inputs are ready."""
    targets = [key for rule in rules for key in target_selection_for(rule)]

    @sensor(
        name=name,
        minimum_interval_seconds=minimum_interval_seconds,
        asset_selection=AssetSelection.assets(*targets),
        default_status=DefaultSensorStatus.RUNNING,
        description="Runs downstream assets when their inputs' data-ready events have arrived "
        "(config/dependencies.yaml).",
    )
    def data_ready_dependencies(
        context: SensorEvaluationContext,
        events: ResourceParam[EventStore],
        notifier: ResourceParam[Notifier],
        catalog: ResourceParam[PartitionCatalog],
        lineage: ResourceParam[LineageStore],
        storage: ResourceParam[LakeStorage],
        settings: ResourceParam[Settings],
    ):
        # First announce what a killed publisher switched but never announced (events/outbox.py).
        recorder = recorder_for(lineage, settings.state_dir, storage.uri(""))
        retention = timedelta(days=settings.retention_days)
        for event in drain(events, catalog, recorder, clock(), retention).recorded:
            context.log.warning(
                f"announced {event.dataset}[{event.partition}] of run {event.run_id}, "
                "published by a run that stopped before announcing it"
            )
        # Which of the runs earlier ticks requested Dagster has: their waits can close.
        requested = [p.run_key for p in events.pending() if p.run_key is not None]
        tick = evaluate_tick(
            rules,
            events,
            notifier,
            context.cursor,
            clock(),
            target_selection_for,
            lambda rule, partition: last_build_start(
                context.instance, target_selection_for(rule), partition
            ),
            lambda rule, partition: recheck_due(
                context.instance, catalog, target_selection_for(rule), rule.inputs, partition
            ),
            launched=launched_run_keys(context.instance, requested),
        )
        for record in tick.dead_letters:
            context.log.warning(
                f"dead letter {record.id}: {record.rule}[{record.partition}] "
                f"missing {record.missing}"
            )
        return SensorResult(run_requests=tick.run_requests, cursor=tick.cursor)

    return data_ready_dependencies
