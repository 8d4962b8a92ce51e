"""A sensor's tick as Dagster's sensor daemon makes it (dagster._daemon.sensor), in this process:
the code location loaded in-process from lake_assets.definitions (built from the environment's
settings now), the tick recorded in the instance with its status, error, cursor and requested
runs, and those runs submitted to the instance's run queue (queued: no daemon launches them
here). For a test that needs the daemon's own record of a tick without starting the daemon
(tests/test_dev_after_demo.py starts it, in minutes)."""

from __future__ import annotations

import logging
from datetime import datetime

from dagster import DagsterInstance
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.scheduler.instigation import (
    InstigatorState,
    InstigatorStatus,
    InstigatorType,
    SensorInstigatorData,
)
from dagster._core.test_utils import create_test_daemon_workspace_context, freeze_time
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget
from dagster._daemon.sensor import _process_tick_generator

# The location's name as workspace.yaml loads it, so the ticks' origins are the webserver's.
LOCATION = "lake_assets.definitions"


def sensor_tick(instance: DagsterInstance, name: str, at: datetime):
    """Tick sensor `name` at `at` (later than its previous tick by its interval, or the daemon
    would wait); its newest tick as the instance recorded it."""
    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(module_name=LOCATION, attribute="lake_definitions"),
        location_name=LOCATION,
    )
    target = InProcessWorkspaceLoadTarget(origin)
    with create_test_daemon_workspace_context(target, instance) as workspace:
        entries = workspace.create_request_context().get_code_location_entries()
        location = entries[LOCATION].code_location
        assert location is not None, entries[LOCATION].load_error
        [repository] = location.get_repositories().values()
        sensor = repository.get_sensor(name)
        state = instance.get_instigator_state(sensor.get_remote_origin_id(), sensor.selector_id)
        if state is None:  # as the daemon records a sensor running by default at its first tick
            state = InstigatorState(
                sensor.get_remote_origin(),
                InstigatorType.SENSOR,
                InstigatorStatus.DECLARED_IN_CODE,
                SensorInstigatorData(
                    min_interval=sensor.min_interval_seconds,
                    last_sensor_start_timestamp=at.timestamp(),
                    sensor_type=sensor.sensor_type,
                ),
            )
            instance.add_instigator_state(state)
        retention = instance.get_tick_retention_settings(InstigatorType.SENSOR)
        with freeze_time(at):
            for _ in _process_tick_generator(
                workspace, logging.getLogger(__name__), sensor, state, None, retention, None
            ):
                pass
        [tick] = instance.get_ticks(sensor.get_remote_origin_id(), sensor.selector_id, limit=1)
        return tick
