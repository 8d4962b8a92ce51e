"""Event-driven orchestration's part of the code location: the sensor that evaluates the
dependency rules on data-ready events."""

from __future__ import annotations

from dagster import Definitions

from lake_assets.events.model import DependencyRule
from lake_assets.events.sensors import build_dependency_sensor


def events_definitions(rules: list[DependencyRule]) -> Definitions:
    return Definitions(sensors=[build_dependency_sensor(rules)])
