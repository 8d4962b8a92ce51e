"""The pipelines' part of the code location: the drift check of each generated pipeline, run on
the clock by the `pipeline_drift` job (what is deployed changes without any run of ours)."""

from __future__ import annotations

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    Definitions,
    ScheduleDefinition,
    define_asset_job,
)

from lake_assets.pipelines.checks import build_drift_check
from lake_assets.settings import Settings


def pipelines_definitions(settings: Settings) -> Definitions:
    checks = [
        build_drift_check(name, source.generation, settings.pipelines_dir.parent)
        for name, source in settings.sources.items()
        # A generation declared by hand in a LAKE_SOURCES_FILE has no generated files to check.
        if source.generation is not None and settings.pipelines_dir is not None
    ]
    if not checks:
        return Definitions()
    drift_job = define_asset_job(
        "pipeline_drift",
        selection=AssetSelection.checks(*checks),
        description="Checks each generated pipeline against its spec, templates and deploys.",
    )
    return Definitions(
        asset_checks=checks,
        jobs=[drift_job],
        schedules=[
            ScheduleDefinition(
                job=drift_job,
                cron_schedule="45 * * * *",
                execution_timezone="UTC",
                description="Hourly: compares each generated pipeline with what is deployed.",
                default_status=DefaultScheduleStatus.RUNNING,
            )
        ],
    )
