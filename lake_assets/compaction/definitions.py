"""Compaction's part of the code location: the compaction asset, its job and daily schedule."""

from __future__ import annotations

from dagster import Definitions

from lake_assets.compaction.assets import build_compaction_asset
from lake_assets.compaction.policy import load_policy
from lake_assets.compaction.schedules import compaction_job, compaction_schedule
from lake_assets.settings import Settings


def compaction_definitions(settings: Settings) -> Definitions:
    policy = load_policy(settings.compaction_file)
    return Definitions(
        assets=[build_compaction_asset(list(settings.sources.values()), policy)],
        jobs=[compaction_job],
        schedules=[compaction_schedule],
    )
