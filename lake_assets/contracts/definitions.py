"""The contracts' part of the code location: each dataset's partition deadline, checked on the
clock by the `partition_deadlines` job. (A contract's rules are checks of the curated asset,
declared with it: ingestion/assets.py.)"""

from __future__ import annotations

from dagster import Definitions

from lake_assets.clock_checks import checked_on_the_clock
from lake_assets.contracts.checks import build_deadline_check
from lake_assets.contracts.model import Contract
from lake_assets.ingestion.asset_keys import curated_key_of
from lake_assets.settings import Settings


def contracts_definitions(settings: Settings, contracts: dict[str, Contract]) -> Definitions:
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
    return checked_on_the_clock(
        "partition_deadlines",
        deadline_checks,
        minute=15,
        what="checks each dataset's newest partition past its deadline was published.",
    )
