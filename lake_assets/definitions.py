"""The whole lake as one Dagster code location (workspace.yaml points here): each capability's
definitions (its definitions.py), merged, with the resources of the configured profile."""

from __future__ import annotations

from dagster import AssetSpec, Definitions

from lake_assets.compaction.definitions import compaction_definitions
from lake_assets.contracts.definitions import contracts_definitions
from lake_assets.events.definitions import events_definitions
from lake_assets.graph import checked_graph
from lake_assets.settings import Settings, load_settings
from partitions import daily_partitions
from resources import build_resources


def build_definitions(settings: Settings, resources: dict | None = None) -> Definitions:
    partitions_def = daily_partitions(settings.partitions_start)
    contracts, rules, data = checked_graph(settings, partitions_def)

    # Applied once here: a source's assets name the source's owner, the rest are the platform's.
    def owned(spec: AssetSpec) -> AssetSpec:
        return spec if spec.owners else spec.replace_attributes(owners=[settings.platform_owner])

    return Definitions.merge(
        *data,
        compaction_definitions(settings),
        contracts_definitions(settings, contracts),
        events_definitions(rules),
        Definitions(resources=resources if resources is not None else build_resources(settings)),
    ).map_asset_specs(func=owned)


defs = build_definitions(load_settings())
