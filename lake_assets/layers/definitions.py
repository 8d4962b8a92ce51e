"""The derived layers' part of the code location: each declared table as an asset, with its
output contract (config/contracts/<dataset>.yaml) when it has one, and the daily watch of a
sliced table's references."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from dagster import Definitions, PartitionsDefinition

from lake_assets.contracts.model import Contract
from lake_assets.gold.derived import GOLD_DERIVED_TABLES
from lake_assets.ingestion.asset_keys import asset_of
from lake_assets.layers.assets import build_layer_asset
from lake_assets.layers.model import DerivedTable
from lake_assets.layers.references_watch import references_watch
from lake_assets.silver.customer_table import SILVER_CRM_CONTACTS, SILVER_CUSTOMER
from lake_assets.silver.fx_rates_table import SILVER_FX_RATES
from lake_assets.silver.orders_table import SILVER_ORDERS

# The declared tables, silver before gold; each layer's module adds its own.
DERIVED_TABLES: tuple[DerivedTable, ...] = (
    SILVER_CRM_CONTACTS,
    SILVER_CUSTOMER,
    SILVER_FX_RATES,
    SILVER_ORDERS,
    *GOLD_DERIVED_TABLES,
)


def contracted_tables(
    contracts: Mapping[str, Contract],
    sources: Collection[str] = (),
    tables: Sequence[DerivedTable] = DERIVED_TABLES,
) -> tuple[DerivedTable, ...]:
    """The declared tables as the lake builds them: each with its contract, and the datasets its
    referential rules check against as inputs (`sources`: the lake's source ids, whose tables
    such a rule may name)."""

    def reference_asset(dataset: str) -> tuple[str, ...]:
        return tuple(asset_of(dataset, sources).path)

    return tuple(t.with_contract(contracts, reference_asset) for t in tables)


def layers_definitions(
    partitions_def: PartitionsDefinition, tables: Sequence[DerivedTable]
) -> Definitions:
    """`tables` (contracted_tables) as partitioned assets, and the daily watch of the sliced
    ones' references (references_watch.py)."""
    return Definitions.merge(
        Definitions(assets=[build_layer_asset(t, partitions_def) for t in tables]),
        references_watch(tables),
    )
