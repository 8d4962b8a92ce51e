"""The lake's data assets with its declarative config, checked as a whole: what the code location
(definitions.py) builds on, and what `lake` checks before every command, so a config error fails
both the same way, naming file, key and reason."""

from __future__ import annotations

from dagster import AssetsDefinition, PartitionsDefinition

from lake_assets.contracts.model import load_contracts
from lake_assets.events.model import check_rules, load_rules
from lake_assets.history.assets import build_history_asset
from lake_assets.ingestion.assets import build_source_assets
from lake_assets.marts.assets import build_spend_by_customer
from lake_assets.settings import Settings
from partitions import daily_partitions


def checked_graph(
    settings: Settings, partitions_def: PartitionsDefinition
) -> tuple[dict, list, list]:
    """Contracts, dependency rules and the data assets, with every reference between them and
    the sources checked: a config error fails here, when the code location loads."""
    contracts = load_contracts(settings.contracts_dir, datasets=settings.sources)
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
    rules = load_rules(settings.dependencies_file)
    targets = {
        key.to_user_string()
        for asset in assets
        for key in (asset.keys if isinstance(asset, AssetsDefinition) else [asset.key])
    }
    check_rules(settings.dependencies_file, rules, settings.sources, targets)
    return contracts, rules, assets


def check_config(settings: Settings) -> None:
    """Raise ConfigError for what loading the code location would refuse."""
    checked_graph(settings, daily_partitions(settings.partitions_start))
