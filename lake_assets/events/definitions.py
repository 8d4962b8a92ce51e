"""Event-driven orchestration's part of the code location: the sensor that evaluates the
dependency rules on data-ready events."""

from __future__ import annotations

from dagster import Definitions

from lake_assets.events.model import DependencyRule
from lake_assets.events.sensors import build_dependency_sensor
from lake_assets.slo.check_keys import slo_check_keys


def events_definitions(rules: list[DependencyRule], sources) -> Definitions:
    return Definitions(sensors=[build_dependency_sensor(rules, left_out=slo_check_keys(sources))])
