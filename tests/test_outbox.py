"""Publish and announce as one recoverable step: a promotion killed right after its catalog
switch is announced (data-ready event, lineage) by whoever comes next, exactly once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dagster import build_sensor_context
from test_events import launch

from lake_assets.cli.main import main
from lake_assets.events.model import DataReady, DependencyRule
from lake_assets.events.outbox import Announcement, drain, stage
from lake_assets.events.sensors import build_dependency_sensor
from lake_assets.lineage import partition_address, trace
from resources.catalog import SQLiteCatalog
from resources.event_store import SQLiteEventStore

DS, DAY = "card_transactions", "2026-03-02"
CARDS_READY = DependencyRule(
    name="cards_ready", target="marts/spend_by_customer", inputs=(DS,), timeout_hours=6
)


class KilledAfterSwitch(SQLiteCatalog):
    """The catalog of a process that dies the instant its first switch has committed."""

    def publish(self, published, expected_run_id=None):
        super().publish(published, expected_run_id)
        raise RuntimeError("killed right after the switch")


class Sensor:
    def __init__(self, lake):
        self.lake, self.cursor = lake, None
        self.sensor = build_dependency_sensor([CARDS_READY])

    def tick(self):
        context = build_sensor_context(
            cursor=self.cursor, instance=self.lake.instance, resources=self.lake.resources
        )
        result = self.sensor(context)
        self.cursor = result.cursor
        for request in result.run_requests:  # as the daemon does
            launch(self.lake.instance, request, self.sensor.name)
        return result.run_requests


def announced(lake) -> list[DataReady]:
    return [e for e in lake.events.events_since(None)[0] if e.partition == DAY]


def test_a_promotion_killed_after_its_switch_is_announced_by_the_next_tick_once(
    lake, monkeypatch, capsys
):
    lake.deliver_cards(DAY, range(5))
    lake.profile(DS, DAY)
    assert lake.promote(DS, DAY).success
    # The run announced its own publish right after it, and owes nothing.
    assert lake.events.latest(DS, DAY).run_id == lake.catalog.current(DS, DAY).run_id
    assert lake.events.outbox() == []
    sensor = Sensor(lake)
    (first,) = sensor.tick()

    lake.deliver_cards(DAY, range(5, 9))
    lake.profile(DS, DAY)
    catalog = lake.resources["catalog"]
    lake.resources["catalog"] = KilledAfterSwitch(catalog.path)
    assert not lake.promote(DS, DAY).success
    lake.resources["catalog"] = catalog
    switched = lake.catalog.current(DS, DAY)
    assert switched.row_count == 9  # readers see the new version ...
    assert lake.events.latest(DS, DAY).row_count == 5  # ... announced nowhere yet
    assert trace(lake.lineage.runs(), partition_address(DS, DAY)).run_id != switched.run_id

    (again,) = sensor.tick()  # the recovery: the sensor's next tick, no rerun

    assert again.run_key != first.run_key and again.partition_key == DAY
    assert lake.events.latest(DS, DAY).run_id == switched.run_id
    assert trace(lake.lineage.runs(), partition_address(DS, DAY)).run_id == switched.run_id
    # Exactly once, whoever drains after: the sensor, `lake events drain`, the next promotion.
    assert sensor.tick() == []
    monkeypatch.setenv("LAKE_ROOT", str(lake.root))
    monkeypatch.setenv("LAKE_CONTRACTS_DIR", str(lake.settings.contracts_dir))
    assert main(["events", "drain"]) == 0
    assert "0 delivered (0 new events)" in capsys.readouterr().out
    assert lake.promote(DS, DAY).success
    assert sensor.tick() == []
    assert [e.row_count for e in announced(lake)] == [5, 9]
    assert lake.events.outbox() == []


def announcement(published_at: str, staged_at: datetime) -> Announcement:
    event = DataReady(DS, DAY, "v1", 3, "run-dead", "hash", published_at)
    return Announcement(event, (partition_address(DS, DAY),), staged_at.isoformat())


def test_an_announcement_whose_switch_never_came_is_kept_for_a_while_then_abandoned(tmp_path):
    events, catalog = SQLiteEventStore(tmp_path / "e.db"), SQLiteCatalog(tmp_path / "c.db")
    now = datetime(2026, 3, 10, tzinfo=UTC)
    stage(events, announcement("2026-03-09T00:00:00+00:00", now - timedelta(hours=1)))
    kept = drain(events, catalog, None, now, timedelta(days=7))
    assert (kept.recorded, kept.delivered, kept.abandoned) == ([], [], [])
    assert len(events.outbox()) == 1  # its run may still be about to switch
    gone = drain(events, catalog, None, now + timedelta(days=7), timedelta(days=7))
    assert [a.event.run_id for a in gone.abandoned] == ["run-dead"]
    assert events.outbox() == [] and events.latest(DS, DAY) is None


def test_a_retried_step_staging_its_partition_again_keeps_what_its_first_try_owes(tmp_path):
    """A step retried in its run (ADR-0156) stages the partition again under the same run id.
    Keyed by run, the second staging overwrote the first try's announcement, which had
    switched and not yet been delivered; when the second try then died before its switch, the
    version readers see was announced nowhere, and its entry was abandoned."""
    from resources.catalog import PublishedPartition

    events, catalog = SQLiteEventStore(tmp_path / "e.db"), SQLiteCatalog(tmp_path / "c.db")
    now = datetime(2026, 3, 10, tzinfo=UTC)
    first, second = "2026-03-10T00:00:00+00:00", "2026-03-10T00:05:00+00:00"
    stage(events, announcement(first, now))
    location = f"curated/{DS}/run=run-dead/event_date={DAY}/"
    catalog.publish(PublishedPartition(DS, DAY, location, "run-dead", first, 3, "v1", {}))
    stage(events, announcement(second, now))  # the retry, dead before its switch
    drained = drain(events, catalog, None, now, timedelta(days=7))
    assert [e.published_at for e in drained.recorded] == [first]
    assert events.latest(DS, DAY).published_at == first
    assert [Announcement.from_json(body).event.published_at for _, body in events.outbox()] == [
        second
    ]


def test_an_entry_staged_under_the_older_id_is_delivered_and_forgotten(tmp_path):
    events, catalog = SQLiteEventStore(tmp_path / "e.db"), SQLiteCatalog(tmp_path / "c.db")
    now = datetime(2026, 3, 10, tzinfo=UTC)
    staged = announcement("2026-03-09T00:00:00+00:00", now - timedelta(days=8))
    events.put_outbox(f"{DS}|{DAY}|run-dead", staged.to_json())  # as a release before kept it
    assert [
        a.event.run_id for a in drain(events, catalog, None, now, timedelta(days=7)).abandoned
    ] == ["run-dead"]
    assert events.outbox() == []
