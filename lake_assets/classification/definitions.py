"""Classification's part of the code location: an asset per curated dataset and the sensor that
keeps them current."""

from __future__ import annotations

from dagster import Definitions, PartitionsDefinition

from lake_assets.classification.assets import build_classification_asset
from lake_assets.classification.sensors import build_classification_sensor
from lake_assets.settings import Settings


def classification_definitions(settings: Settings, partitions_def: PartitionsDefinition):
    sources = list(settings.sources.values())
    return Definitions(
        assets=[build_classification_asset(source, partitions_def) for source in sources],
        sensors=[build_classification_sensor([s.source_id for s in sources])],
    )
