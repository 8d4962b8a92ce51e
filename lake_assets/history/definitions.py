"""History's part of the code location: one history asset per source that keeps a history."""

from __future__ import annotations

from dagster import Definitions, PartitionsDefinition

from lake_assets.history.assets import build_history_asset
from lake_assets.settings import Settings


def history_definitions(settings: Settings, partitions_def: PartitionsDefinition) -> Definitions:
    return Definitions(
        assets=[
            build_history_asset(source, partitions_def)
            for source in settings.sources.values()
            if source.history
        ]
    )
