"""The `slo` checks' keys, for the jobs that must leave them out.

Dagster adds to a run every check of the assets it materializes. The `slo` check of a dataset
reports the `slo` job's evaluation and runs only in that job: a promotion, a sensor's run or a
backfill of the dataset must not run it (it would fail wanting an evaluation of the run's
partition, and it would add a step to every run). Every other job and asset sensor selects
its assets minus these keys. The datasets are read from the SLO files without validating them
(config.load_slos does that when the code location loads), so any capability can call this.
"""

from __future__ import annotations

from dagster import AssetCheckKey, AssetSelection

from lake_assets.ingestion.asset_keys import asset_of
from lake_assets.slo.config import declared_datasets

SLO_CHECK = "slo"


def slo_check_keys(sources) -> list[AssetCheckKey]:
    """The key of every dataset's `slo` check; `sources` are the lake's source ids."""
    return [AssetCheckKey(asset_of(d, sources), SLO_CHECK) for d in sorted(declared_datasets())]


def without_slo_checks(selection: AssetSelection, sources) -> AssetSelection:
    return selection - AssetSelection.checks(*slo_check_keys(sources))
