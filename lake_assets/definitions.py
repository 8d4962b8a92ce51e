"""The whole lake as one Dagster code location (workspace.yaml points here)."""

from __future__ import annotations

from dagster import AssetSelection, Definitions, define_asset_job

from lake_assets.contracts.model import load_contracts
from lake_assets.ingestion.assets import build_source_assets
from lake_assets.ingestion.schedules import build_daily_promotion
from lake_assets.ingestion.sensors import build_arrival_sensor
from lake_assets.settings import Settings, load_settings
from partitions import daily_partitions
from resources import build_resources


def build_definitions(settings: Settings, resources: dict | None = None) -> Definitions:
    partitions_def = daily_partitions(settings.partitions_start)
    contracts = load_contracts(settings.contracts_dir)
    assets = [
        asset
        for source in settings.sources.values()
        for asset in build_source_assets(source, partitions_def, contracts.get(source.source_id))
    ]
    ingestion_job = define_asset_job(
        "ingestion",
        selection=AssetSelection.groups("registry", "curated"),
        partitions_def=partitions_def,
        description="Profile a day's payloads, then promote the day's events to curated.",
    )
    return Definitions(
        assets=assets,
        jobs=[ingestion_job],
        sensors=[build_arrival_sensor(sorted(settings.sources))],
        schedules=[
            build_daily_promotion(source, settings.partitions_start)
            for source in settings.sources.values()
        ],
        resources=resources if resources is not None else build_resources(settings),
    )


defs = build_definitions(load_settings())
