"""The whole lake as one Dagster code location (workspace.yaml points here)."""

from __future__ import annotations

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    Definitions,
    ScheduleDefinition,
    define_asset_job,
)

from lake_assets.compaction.assets import build_compaction_asset
from lake_assets.compaction.policy import load_policy
from lake_assets.compaction.schedules import compaction_job, compaction_schedule
from lake_assets.contracts.checks import build_deadline_check
from lake_assets.contracts.model import load_contracts
from lake_assets.events.model import load_rules
from lake_assets.events.sensors import build_dependency_sensor
from lake_assets.history.assets import build_history_asset
from lake_assets.ingestion.assets import build_source_assets, curated_key_of
from lake_assets.ingestion.schedules import build_daily_promotion
from lake_assets.ingestion.sensors import build_arrival_sensor
from lake_assets.marts.assets import build_spend_by_customer
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
    assets += [
        build_history_asset(source, partitions_def)
        for source in settings.sources.values()
        if source.history
    ]
    assets.append(build_spend_by_customer(partitions_def))
    compaction_policy = load_policy(settings.compaction_file)
    assets.append(build_compaction_asset(list(settings.sources.values()), compaction_policy))
    deadline_checks = [
        check
        for source_id in settings.sources
        if (
            check := build_deadline_check(
                source_id, curated_key_of(source_id), contracts.get(source_id)
            )
        )
    ]
    # Deadlines pass whether or not anything runs, so they are checked on the clock.
    freshness_job = define_asset_job(
        "partition_deadlines",
        selection=AssetSelection.checks(*deadline_checks),
        description="Checks each dataset's newest partition past its deadline was published.",
    )
    ingestion_job = define_asset_job(
        "ingestion",
        selection=AssetSelection.groups("registry", "curated"),
        partitions_def=partitions_def,
        description="Profile a day's payloads, then promote the day's events to curated.",
    )
    return Definitions(
        assets=assets,
        asset_checks=deadline_checks,
        jobs=[ingestion_job, freshness_job, compaction_job],
        sensors=[
            build_arrival_sensor(sorted(settings.sources), settings.partitions_start),
            build_dependency_sensor(load_rules(settings.dependencies_file)),
        ],
        schedules=[
            *[
                build_daily_promotion(s, settings.partitions_start)
                for s in settings.sources.values()
            ],
            ScheduleDefinition(
                job=freshness_job,
                cron_schedule="15 * * * *",
                execution_timezone="UTC",
                default_status=DefaultScheduleStatus.RUNNING,
            ),
            compaction_schedule,
        ],
        resources=resources if resources is not None else build_resources(settings),
    )


defs = build_definitions(load_settings())
