"""The derived layers' part of the code location: each declared table as an asset, with its
output contract (config/contracts/<dataset>.yaml) when it has one."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from dagster import Definitions, PartitionsDefinition

from lake_assets.contracts.model import Contract
from lake_assets.layers.assets import build_layer_asset
from lake_assets.layers.model import DerivedTable

# The declared tables, silver before gold; each layer's module adds its own.
DERIVED_TABLES: tuple[DerivedTable, ...] = ()


def layers_definitions(
    partitions_def: PartitionsDefinition,
    contracts: Mapping[str, Contract],
    tables: Sequence[DerivedTable] = DERIVED_TABLES,
) -> Definitions:
    return Definitions(
        assets=[build_layer_asset(t.with_contract(contracts), partitions_def) for t in tables]
    )
