"""Ingestion's part of the code location: per source the raw, registry and curated assets, its
daily promotion schedule; the arrival sensor; and the `ingestion` job."""

from __future__ import annotations

from dagster import AssetSelection, Definitions, PartitionsDefinition, define_asset_job

from lake_assets.contracts.model import Contract
from lake_assets.ingestion.asset_metadata import pipeline_run_tags
from lake_assets.ingestion.assets import build_source_assets
from lake_assets.ingestion.schedules import build_daily_promotion
from lake_assets.ingestion.sensors import build_arrival_sensor
from lake_assets.settings import Settings


def ingestion_definitions(
    settings: Settings, partitions_def: PartitionsDefinition, contracts: dict[str, Contract]
) -> Definitions:
    ingestion_job = define_asset_job(
        "ingestion",
        selection=AssetSelection.groups("registry", "curated"),
        partitions_def=partitions_def,
        description="Profile a day's payloads, then promote the day's events to curated.",
    )
    return Definitions(
        assets=[
            asset
            for source in settings.sources.values()
            for asset in build_source_assets(
                source, partitions_def, contracts.get(source.source_id)
            )
        ],
        jobs=[ingestion_job],
        sensors=[
            build_arrival_sensor(
                sorted(settings.sources),
                settings.partitions_start,
                {sid: pipeline_run_tags(s) for sid, s in settings.sources.items()},
            )
        ],
        schedules=[
            build_daily_promotion(s, settings.partitions_start) for s in settings.sources.values()
        ],
    )
