"""The contracts' part of the code location: each dataset's partition deadline, checked on the
clock by the `partition_deadlines` job, and a changed contract tried on the published rows
(trial_watch.py). (A contract's rules are checks of the asset that publishes its dataset,
declared with it: ingestion/assets.py, layers/assets.py.)"""

from __future__ import annotations

from collections.abc import Sequence

from dagster import AssetKey, Definitions

from lake_assets.clock_checks import checked_on_the_clock
from lake_assets.contracts.checks import build_deadline_check
from lake_assets.contracts.model import Contract
from lake_assets.contracts.trial_watch import contract_trials
from lake_assets.ingestion.asset_keys import asset_of, curated_key_of
from lake_assets.layers.model import DerivedTable
from lake_assets.settings import Settings


def contracts_definitions(
    settings: Settings, contracts: dict[str, Contract], tables: Sequence[DerivedTable]
) -> Definitions:
    """`tables`: the derived tables as the lake builds them (layers.definitions
    .contracted_tables), whose contracts are tried like the sources'."""
    deadline_checks = [
        check
        for source_id in settings.sources
        if (
            check := build_deadline_check(
                source_id, curated_key_of(source_id), contracts.get(source_id)
            )
        )
    ]
    sliced = {t.dataset for t in tables if t.slices is not None}
    return Definitions.merge(
        # Deadlines pass whether or not anything runs, so they are checked on the clock.
        checked_on_the_clock(
            "partition_deadlines",
            deadline_checks,
            minute=15,
            what="checks each dataset's newest partition past its deadline was published.",
        ),
        contract_trials(
            contracts,
            tried_assets(settings, contracts, tables),
            sliced,
            # A source's assets name its owner (SourceConfig.asset_owner); the rest the platform's.
            {s: [source.asset_owner] for s, source in settings.sources.items()},
        ),
    )


def tried_assets(
    settings: Settings, contracts: dict[str, Contract], tables: Sequence[DerivedTable]
) -> dict[str, AssetKey]:
    """Per contracted dataset that an asset publishes (a source's curated asset, a derived
    table's), that asset: where its contract's trial is a check."""
    published = {*settings.sources, *(t.dataset for t in tables)}
    return {d: asset_of(d, settings.sources) for d in sorted(contracts) if d in published}
