"""A tick of the dependency sensor lost after its store writes and before Dagster recorded it
(ADR-0155): its run request comes back under the same run key until Dagster has the run."""

from __future__ import annotations

from datetime import timedelta

import pytest
from test_events import (
    RUN_KEY_TAG,
    SENSOR_NAME_TAG,
    Harness,
    ready,
    requested_run,
)

from lake_assets.events.sensors import replay
from resources.aws.dynamo_events import DynamoEventStore
from resources.event_store import SQLiteEventStore


@pytest.fixture(params=["sqlite", "dynamo"])
def store(request, tmp_path):
    if request.param == "sqlite":
        return SQLiteEventStore(tmp_path / "events.db")
    endpoint = request.getfixturevalue("aws_endpoint")
    return DynamoEventStore.create_tables(
        "lake-events", "lake-event-state", endpoint_url=endpoint, region="eu-west-1"
    )


def test_a_request_lost_with_its_tick_comes_back_under_its_run_key_until_the_run_exists(
    store, tmp_path
):
    """The request comes from a deadline passing, not from an event, so reading the lost
    tick's events again (its cursor was not kept) would not bring it back by itself."""
    lake = Harness(store, tmp_path, "run_partial")
    lake.store.record(ready("card_transactions"))
    assert lake.tick() == []  # recorded: the wait has begun
    lake.clock.now += timedelta(hours=6)

    # Lost: evaluated, then neither its cursor kept nor its request launched.
    (lost,) = lake.evaluate().run_requests
    assert lost.tags["lake/missing_inputs"] == "customers"
    assert [(p.partition, p.run_key) for p in lake.store.pending()] == [
        (lost.partition_key, lost.run_key)
    ]

    # The daemon created the run and died before submitting it: still not launched.
    lake.instance.create_run_for_job(
        requested_run, tags={RUN_KEY_TAG: lost.run_key, SENSOR_NAME_TAG: lake.sensor.name}
    )
    (again,) = lake.tick()  # recorded, and its request launched
    assert again == lost  # the same request, under the same run key

    # The run exists: the next tick asks for nothing and closes the wait.
    assert lake.tick() == []
    assert lake.store.pending() == []
    assert lake.tick() == []


def test_a_replay_lost_with_its_tick_is_asked_again_and_settles_its_letter_once_run(
    store, tmp_path
):
    lake = Harness(store, tmp_path, "skip")
    lake.store.record(ready("card_transactions"))
    lake.tick()
    lake.clock.now += timedelta(hours=6)
    assert lake.tick() == []
    (letter,) = lake.store.dead_letters()
    lake.store.record(ready("customers"))
    assert lake.tick() == []  # skipped: waits for the operator
    assert replay(lake.rules, lake.store, letter.id, lake.clock.now).action == "run"

    (lost,) = lake.evaluate().run_requests
    assert lake.store.dead_letters() == [letter]  # no run yet: still open

    (again,) = lake.tick()
    assert again == lost and again.tags["lake/replay"] == letter.id
    assert lake.tick() == []
    assert lake.store.dead_letters() == [] and lake.store.pending() == []
    assert lake.store.get_dead_letter(letter.id).resolved_at is not None
