"""The pipelines' part of the code location: the drift check of each generated pipeline, run on
the clock by the `pipeline_drift` job (what is deployed changes without any run of ours)."""

from __future__ import annotations

from dagster import Definitions

from lake_assets.clock_checks import checked_on_the_clock
from lake_assets.pipelines.checks import build_drift_check
from lake_assets.settings import Settings


def pipelines_definitions(settings: Settings) -> Definitions:
    checks = [
        build_drift_check(name, source.generation, settings.pipelines_dir.parent)
        for name, source in settings.sources.items()
        # A generation declared by hand in a LAKE_SOURCES_FILE has no generated files to check.
        if source.generation is not None and settings.pipelines_dir is not None
    ]
    return checked_on_the_clock(
        "pipeline_drift",
        checks,
        minute=45,
        what="compares each generated pipeline with its spec, templates and deploys.",
    )
