"""Event-driven dependencies: data-ready events, conditional writes, the sensor, dead letters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from dagster import (
    AssetKey,
    DagsterInstance,
    DagsterRunStatus,
    RunRequest,
    RunsFilter,
    build_sensor_context,
    job,
    op,
)

from lake_assets.events.model import DataReady, DependencyRule, content_hash_of, load_rules
from lake_assets.events.rules import evaluate
from lake_assets.events.sensors import build_dependency_sensor, replay
from lake_assets.settings import ConfigError, load_settings
from resources import build_resources
from resources.aws.dynamo_events import DynamoEventStore
from resources.event_store import SQLiteEventStore
from resources.notifier import LocalNotifier

P = "2026-03-02"
T0 = datetime(2026, 3, 3, 6, 0, tzinfo=UTC)


def ready(dataset: str, partition: str = P, files: tuple[str, ...] = ("a.parquet",)) -> DataReady:
    rows = 10 * len(files)
    return DataReady(
        dataset=dataset,
        partition=partition,
        schema_version="v1",
        row_count=rows,
        run_id="run-1",
        content_hash=content_hash_of({"files": list(files), "row_count": rows}),
        published_at=T0.isoformat(),
    )


def rule(on_timeout: str = "run_partial") -> DependencyRule:
    return DependencyRule(
        name="spend_by_customer",
        target="marts/spend_by_customer",
        inputs=("card_transactions", "customers"),
        timeout_hours=6,
        on_timeout=on_timeout,
    )


class Clock:
    def __init__(self, now: datetime = T0):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(params=["sqlite", "dynamo"])
def store(request, tmp_path):
    if request.param == "sqlite":
        return SQLiteEventStore(tmp_path / "events.db")
    endpoint = request.getfixturevalue("aws_endpoint")
    return DynamoEventStore.create_tables(
        "lake-events", "lake-event-state", endpoint_url=endpoint, region="eu-west-1"
    )


@pytest.fixture
def sqlite_store(tmp_path):
    return SQLiteEventStore(tmp_path / "events.db")


RUN_KEY_TAG, SENSOR_NAME_TAG = "dagster/run_key", "dagster/sensor_name"


@op
def stand_in() -> None:
    """What a requested run does here: nothing. The sensor asks only whether the run exists."""


@job
def requested_run():
    stand_in()


def launch(instance: DagsterInstance, request: RunRequest, sensor_name: str) -> None:
    """Launch a requested run as the daemon does: once per run key (a key with a run past
    NOT_STARTED is skipped), tagged with the key and the sensor's name."""
    runs = instance.get_runs(RunsFilter(tags={RUN_KEY_TAG: request.run_key}))
    if all(run.status == DagsterRunStatus.NOT_STARTED for run in runs):
        requested_run.execute_in_process(
            instance=instance, tags={RUN_KEY_TAG: request.run_key, SENSOR_NAME_TAG: sensor_name}
        )


class Harness:
    """The sensor over one store and notifier, ticking with its cursor like the daemon."""

    def __init__(self, store, tmp_path, on_timeout: str = "run_partial"):
        self.store, self.clock, self.cursor = store, Clock(), None
        self.notifier = LocalNotifier(tmp_path / "alerts.jsonl")
        self.rules = [rule(on_timeout)]
        self.sensor = build_dependency_sensor(self.rules, clock=self.clock)
        # The sensor drains the outbox first: it reads the catalog and completes lineage.
        self.lake_resources = build_resources(load_settings({"LAKE_ROOT": str(tmp_path)}))
        # Where the sensor looks up its targets' runs and its requested ones, as the daemon's
        # tick does: the requested runs are stand-ins, so no target is ever materialized here.
        self.instance = DagsterInstance.ephemeral()

    def evaluate(self):
        """One evaluation of the sensor at the cursor the daemon last kept."""
        resources = {**self.lake_resources, "events": self.store, "notifier": self.notifier}
        context = build_sensor_context(
            cursor=self.cursor, resources=resources, instance=self.instance
        )
        return self.sensor(context)

    def tick(self):
        """A tick the daemon records: its cursor kept and the runs it requested launched."""
        result = self.evaluate()
        self.cursor = result.cursor
        for request in result.run_requests:
            launch(self.instance, request, self.sensor.name)
        return result.run_requests


# --- model and rules -----------------------------------------------------------------------------


def test_identity_depends_on_dataset_partition_content_and_schema_only():
    event = ready("customers")
    same = DataReady(**{**event.to_dict(), "run_id": "x", "published_at": "2026-03-09"})
    assert event.identity == same.identity
    assert event.identity != ready("customers", files=("b.parquet",)).identity
    assert event.identity != ready("customers", partition="2026-03-03").identity
    assert event.identity != DataReady(**{**event.to_dict(), "schema_version": "v2"}).identity
    assert content_hash_of({"files": ["b", "a"], "row_count": 1}) == content_hash_of(
        {"files": ["a", "b"], "row_count": 1}
    )


def test_evaluate_follows_the_deadline_and_policy():
    both = {"card_transactions": ready("card_transactions"), "customers": ready("customers")}
    one = {"card_transactions": both["card_transactions"]}
    assert evaluate(rule(), P, both, T0, T0).action == "run"
    assert evaluate(rule(), P, one, T0, T0 + timedelta(hours=5)).action == "wait"
    late = T0 + timedelta(hours=6)
    partial = evaluate(rule("run_partial"), P, one, T0, late)
    assert (partial.action, partial.missing) == ("run_partial", ["customers"])
    assert evaluate(rule("wait"), P, one, T0, late).action == "dead_letter"
    assert evaluate(rule("skip"), P, one, T0, late).action == "skip"


def test_rules_load_from_the_repository_and_errors_name_file_key_reason(tmp_path):
    assert [r.name for r in load_rules()] == [
        "spend_by_customer",
        "customers_history",
        "silver_crm_contacts",
        "silver_customer",
        "silver_fx_rates",
    ]
    bad = tmp_path / "dependencies.yaml"
    bad.write_text(
        "rules:\n  - {name: r, target: t, inputs: [a], timeout_hours: 1, on_timeout: later}\n"
    )
    with pytest.raises(ConfigError) as error:
        load_rules(bad)
    assert (error.value.file, error.value.key) == (str(bad), "rules[0].on_timeout")
    bad.write_text("rules:\n  - {name: r, target: t, inputs: [], timeout_hours: 1}\n")
    with pytest.raises(ConfigError, match=r"rules\[0\]\.inputs"):
        load_rules(bad)


# --- conditional writes on both stores -----------------------------------------------------------


def test_conditional_write_keeps_one_event_per_idempotency_key(store):
    event = ready("customers")
    assert [store.record(event) for _ in range(3)] == [True, False, False]
    newer = DataReady(
        **{**ready("customers", files=("b.parquet",)).to_dict(), "published_at": "2026-03-04"}
    )
    assert store.record(newer) is True
    events, cursor = store.events_since(None)
    assert [e.content_hash for e in events] == [event.content_hash, newer.content_hash]
    assert store.events_since(cursor) == ([], cursor)
    # The older version delivered again, late, neither counts as new nor becomes the latest.
    assert store.record(event) is False
    assert store.latest("customers", P) == newer
    assert store.latest("customers", "2026-01-01") is None


def test_a_delivery_that_died_before_moving_the_latest_pointer_is_repaired_by_its_redelivery(
    tmp_path, aws_endpoint, monkeypatch
):
    """DynamoDB writes the event, then the partition's latest pointer. A delivery that died in
    between (a throttle past boto3's retries, a killed process) left the pointer at the old
    version; its redelivery found the event's key taken and stopped, so every rule kept reading
    the old version and its run key, and downstream never ran for the new one."""
    lake = Harness(
        DynamoEventStore.create_tables(
            "lake-events", "lake-event-state", endpoint_url=aws_endpoint, region="eu-west-1"
        ),
        tmp_path,
    )
    store = lake.store
    store.record(ready("card_transactions"))
    store.record(ready("customers"))
    (first,) = lake.tick()
    newer = at(ready("customers", files=("b.parquet",)), 1)
    put_item = store._dynamo.put_item

    def dies_moving_the_pointer(**request):
        if request["Item"].get("pk", {}).get("S", "").startswith("latest#"):
            raise ConnectionError("the publisher died between the two writes")
        return put_item(**request)

    monkeypatch.setattr(store._dynamo, "put_item", dies_moving_the_pointer)
    with pytest.raises(ConnectionError):
        store.record(newer)
    monkeypatch.setattr(store._dynamo, "put_item", put_item)
    assert store.latest("customers", P) == ready("customers")
    # A tick in between reads the event and finds the old version: nothing to run yet.
    assert lake.tick() == []
    assert store.record(newer) is False  # its event was stored: a redelivery, not new ...
    assert store.latest("customers", P) == newer  # ... that still moves the pointer
    (second,) = lake.tick()  # ... and is read again: the new version runs
    assert second.run_key != first.run_key


def test_an_event_landing_after_a_newer_one_was_read_is_read_once(aws_endpoint, monkeypatch):
    """A writer stamps its event before the put lands; a put boto3 retried, or a writer whose
    clock is behind the sensor's, lands after a tick read a newer stamp. A cursor at the newest
    stamp read skipped it for good, and the rules it touches never ran."""
    import resources.aws.dynamo_events as dynamo

    store = DynamoEventStore.create_tables(
        "lake-events", "lake-event-state", endpoint_url=aws_endpoint, region="eu-west-1"
    )
    stamped, now = dynamo._stamp, {"at": T0}
    monkeypatch.setattr(dynamo, "_stamp", lambda at=None: stamped(at or now["at"]))
    now["at"] = T0 + timedelta(seconds=2)
    store.record(ready("card_transactions"))
    events, cursor = store.events_since(None)
    assert [e.dataset for e in events] == ["card_transactions"]
    now["at"] = T0  # stamped two seconds earlier, landed after that read
    store.record(ready("customers"))
    events, cursor = store.events_since(cursor)
    assert [e.dataset for e in events] == ["customers"]
    assert store.events_since(cursor) == ([], cursor)  # each handed over once
    # A cursor kept before the margin was (a bare stamp) reads the margin again: the sensor's
    # waits and run keys make an event read twice harmless.
    events, _ = store.events_since(stamped(T0 + timedelta(seconds=2)))
    assert [e.dataset for e in events] == ["customers", "card_transactions"]


def test_writers_racing_to_record_one_event_leave_one(sqlite_store):
    """Eight publishers announcing the same version at the same moment (at-least-once delivery
    from several runs): the conditional write lets exactly one of them record it.

    The local store only: moto's DynamoDB evaluates a condition and writes in two steps across
    its server's request threads, so under load two writers can both pass it, which real
    DynamoDB never allows. The Dynamo store's conditional write is checked one writer at a time
    by the tests above and below, where moto applies the condition as AWS does."""
    store = sqlite_store
    import threading

    event, start = ready("customers"), threading.Barrier(8)
    recorded: list[bool] = []

    def publisher() -> None:
        start.wait()
        recorded.append(store.record(event))

    threads = [threading.Thread(target=publisher) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(recorded) == [False] * 7 + [True]
    events, _ = store.events_since(None)
    assert [e.content_hash for e in events] == [event.content_hash]


def at(event: DataReady, hours: int, **changes) -> DataReady:
    published = (T0 + timedelta(hours=hours)).isoformat()
    return DataReady(**{**event.to_dict(), "published_at": published, **changes})


def test_a_republish_under_a_new_schema_is_a_new_version(store):
    v1 = ready("customers")
    assert store.record(v1) is True
    assert store.record(at(v1, 1)) is False  # the same content and schema republished
    v2 = at(v1, 2, schema_version="v2")  # the same raw files promoted under a new schema
    assert store.record(v2) is True
    assert store.latest("customers", P) == v2
    assert store.record(at(v1, 3, schema_version="v2")) is False


def test_content_going_a_b_a_emits_three_versions_and_the_latest_is_a(store):
    a, b = ready("customers"), ready("customers", files=("b.parquet",))
    assert store.record(a) is True
    assert store.record(at(b, 1)) is True
    assert store.record(at(a, 2)) is True
    assert store.latest("customers", P) == at(a, 2)
    # Delivered again, or republished with the same content: still one third version.
    assert [store.record(at(a, 2)), store.record(at(a, 3))] == [False, False]
    # The first A arriving late again is older than the latest: not new.
    assert store.record(a) is False
    events, _ = store.events_since(None)
    assert [e.published_at for e in events] == [
        a.published_at,
        at(b, 1).published_at,
        at(a, 2).published_at,
    ]
    assert store.record(at(b, 4)) is True  # ... and B again after that is a fourth


def test_downstream_runs_again_when_an_input_goes_back_to_earlier_content(store, tmp_path):
    lake = Harness(store, tmp_path)
    a, b = ready("customers"), ready("customers", files=("b.parquet",))
    lake.store.record(ready("card_transactions"))
    lake.store.record(a)
    lake.store.record(at(b, 1))
    lake.store.record(at(a, 2))
    lake.store.record(at(a, 2))  # redelivered
    first, second = lake.tick(), lake.tick()
    assert len(first) == 1 and second == []
    lake.store.record(at(b, 3))
    (again,) = lake.tick()
    lake.store.record(at(a, 4))
    (back,) = lake.tick()
    assert len({first[0].run_key, again.run_key, back.run_key}) == 3


def test_sensor_over_each_store_runs_once_for_a_thrice_delivered_event(store, tmp_path):
    lake = Harness(store, tmp_path)
    lake.store.record(ready("card_transactions"))
    assert lake.tick() == []
    for _ in range(3):
        lake.store.record(ready("customers"))
    requests = lake.tick()
    assert len(requests) == 1
    assert requests[0].partition_key == P
    assert requests[0].asset_selection == [AssetKey(["marts", "spend_by_customer"])]
    assert lake.tick() == []


# --- the sensor ----------------------------------------------------------------------------------


def test_a_new_version_of_a_partition_triggers_a_new_run(sqlite_store, tmp_path):
    lake = Harness(sqlite_store, tmp_path)
    lake.store.record(ready("card_transactions"))
    lake.store.record(ready("customers"))
    (first,) = lake.tick()
    lake.store.record(ready("customers"))  # redelivered: nothing
    assert lake.tick() == []
    lake.store.record(ready("customers", files=("a.parquet", "b.parquet")))
    (second,) = lake.tick()
    assert second.run_key != first.run_key
    assert second.tags["lake/rule"] == "spend_by_customer"
    assert "lake/missing_inputs" not in second.tags


def test_timeout_with_run_partial_runs_with_the_missing_inputs_in_tags(sqlite_store, tmp_path):
    lake = Harness(sqlite_store, tmp_path, "run_partial")
    lake.store.record(ready("card_transactions"))
    assert lake.tick() == []
    lake.clock.now += timedelta(hours=6)
    (request,) = lake.tick()
    assert request.tags["lake/missing_inputs"] == "customers"
    assert lake.store.dead_letters() == []
    # The missing input arriving later completes the partition with a full run.
    lake.store.record(ready("customers"))
    (full,) = lake.tick()
    assert full.run_key != request.run_key and "lake/missing_inputs" not in full.tags


def test_timeout_with_wait_dead_letters_alerts_once_and_keeps_waiting(sqlite_store, tmp_path):
    lake = Harness(sqlite_store, tmp_path, "wait")
    lake.store.record(ready("card_transactions"))
    lake.tick()
    lake.clock.now += timedelta(hours=7)
    assert lake.tick() == []
    assert lake.tick() == []
    (letter,) = lake.store.dead_letters()
    assert (letter.rule, letter.partition, letter.missing) == (
        "spend_by_customer",
        P,
        ["customers"],
    )
    assert [a.kind for a in lake.notifier.alerts()] == ["events.dead_lettered"]
    # Still waiting: the input arriving runs the rule, and its run settles the dead letter.
    lake.store.record(ready("customers"))
    (request,) = lake.tick()
    assert request.partition_key == P
    assert lake.tick() == []  # the run exists: the wait closes
    assert lake.store.dead_letters() == []
    assert lake.store.get_dead_letter(letter.id).resolved_at is not None


def test_a_dead_letter_alert_whose_send_failed_is_sent_by_the_next_tick(sqlite_store, tmp_path):
    """The letter used to be written before its alert: a send that failed (SNS unavailable)
    failed the tick, and the next tick found the letter written and sent nothing, ever."""

    class SnsDownOnce(LocalNotifier):
        def send(self, alert):
            if not hasattr(self, "failed"):
                self.failed = True
                raise ConnectionError("SNS unavailable")
            super().send(alert)

    lake = Harness(sqlite_store, tmp_path, "wait")
    lake.notifier = SnsDownOnce(tmp_path / "alerts.jsonl")
    lake.store.record(ready("card_transactions"))
    lake.tick()
    lake.clock.now += timedelta(hours=7)
    with pytest.raises(ConnectionError):
        lake.tick()
    assert lake.store.dead_letters() == []
    assert lake.tick() == [] and lake.tick() == []
    assert len(lake.store.dead_letters()) == 1
    assert [a.kind for a in lake.notifier.alerts()] == ["events.dead_lettered"]


def test_timeout_with_skip_dead_letters_and_replay_runs_after_the_input_arrives(
    sqlite_store, tmp_path
):
    lake = Harness(sqlite_store, tmp_path, "skip")
    lake.store.record(ready("card_transactions"))
    lake.tick()
    lake.clock.now += timedelta(hours=6)
    assert lake.tick() == []
    (letter,) = lake.store.dead_letters()
    assert len(lake.notifier.alerts()) == 1
    # Replay while the input is still missing changes nothing.
    assert replay(lake.rules, lake.store, letter.id, lake.clock.now).missing == ["customers"]
    # Skipped: a late input does not run the rule by itself ...
    lake.store.record(ready("customers"))
    assert lake.tick() == []
    # ... the operator's replay does, through the sensor, once.
    decision = replay(lake.rules, lake.store, letter.id, lake.clock.now)
    assert decision.action == "run"
    (request,) = lake.tick()
    assert request.run_key == decision.run_key
    assert request.tags["lake/replay"] == letter.id
    assert lake.tick() == []
    assert lake.store.dead_letters() == []


def test_cli_lists_dead_letters_and_replays_one(sqlite_store, tmp_path, capsys):
    import argparse

    from lake_assets.events.cli import add_event_commands

    lake = Harness(sqlite_store, tmp_path, "skip")
    lake.store.record(ready("card_transactions"))
    lake.tick()
    lake.clock.now += timedelta(hours=6)
    lake.tick()
    (letter,) = lake.store.dead_letters()
    top = argparse.ArgumentParser()
    add_event_commands(top.add_subparsers(dest="command"), lambda _: {"events": lake.store})
    rules_file = tmp_path / "dependencies.yaml"
    rules_file.write_text(
        "rules:\n  - {name: spend_by_customer, target: marts/spend_by_customer,"
        " inputs: [card_transactions, customers], timeout_hours: 6, on_timeout: skip}\n"
    )

    def run(*argv: str) -> int:
        args = top.parse_args(list(argv))
        return args.run(args, None)

    assert run("events", "dead-letters") == 0
    assert letter.id in capsys.readouterr().out
    assert run("events", "replay", letter.id, "--rules", str(rules_file)) == 1
    lake.store.record(ready("customers"))
    assert run("events", "replay", letter.id, "--rules", str(rules_file)) == 0
    assert len(lake.tick()) == 1
