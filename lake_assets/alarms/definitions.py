"""The alarms' part of the code location: the two sensors that count failures."""

from __future__ import annotations

from dagster import Definitions

from lake_assets.alarms.sensors import failed_runs_metric, failed_ticks_metric


def alarms_definitions() -> Definitions:
    return Definitions(sensors=[failed_runs_metric, failed_ticks_metric])
