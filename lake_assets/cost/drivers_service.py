"""Gathering a month's drivers from where the lake keeps them and publishing them as the
`cost_drivers` dataset: the runs recorded in the Dagster instance's event log (recording.py),
the bytes of every dataset's current partitions (the catalog and the storage), and Athena's
query history on `aws` (none locally: the lake's own local queries read files through DuckDB or
Spark, which record no bytes scanned). Dagster-free but for the instance it is handed.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from lake_assets.cost import drivers
from lake_assets.cost.model import DRIVERS_DATASET, Driver, team_of_owner
from lake_assets.cost.recording import recorded_runs
from lake_assets.settings import Settings
from lake_assets.tables.locations import published_month_location
from lake_assets.tables.publish import publish_table
from resources.catalog import PartitionCatalog, PublishedPartition
from resources.storage import LakeStorage


def dataset_owners(settings: Settings):
    """dataset -> owner: a source's own, else the platform's."""
    owners = {source_id: source.owner for source_id, source in settings.sources.items()}
    return lambda dataset: owners.get(dataset, settings.platform_owner)


def bucket_of(settings: Settings) -> str:
    """The bucket a CUR line names: the lake bucket, or the local lake's folder name."""
    return settings.aws.bucket if settings.profile == "aws" else settings.lake_root.name


def storage_sizes(catalog: PartitionCatalog, storage: LakeStorage) -> dict[str, dict[str, int]]:
    """dataset -> storage class -> bytes of the dataset's current partitions."""
    sizes: dict[str, dict[str, int]] = {}
    for dataset in catalog.datasets():
        for partition in catalog.partitions(dataset):
            for info in storage.list(partition.location):
                classes = sizes.setdefault(dataset, {})
                classes[info.storage_class] = classes.get(info.storage_class, 0) + info.size
    return sizes


def team_workgroups(settings: Settings) -> set[str]:
    """The Athena workgroups whose history is read: one per team, named after it (the teams
    that own a source, and the platform's), and Athena's default, `primary`."""
    owners = {source.owner for source in settings.sources.values()} | {settings.platform_owner}
    return {team_of_owner(owner) for owner in owners} | {"primary"}


def query_scans(settings: Settings, month: str) -> list[drivers.QueryScan]:
    if settings.profile != "aws":
        return []
    from resources.aws.athena import AthenaQueryHistory

    start, end = drivers.month_window(month, slack=timedelta(0))
    history = AthenaQueryHistory(endpoint_url=settings.aws.endpoint_url, region=settings.aws.region)
    return list(history.scans(team_workgroups(settings), start, end))


def month_drivers(month, instance, settings, catalog, storage) -> tuple[list[Driver], int]:
    """Every driver of `month` and how many runs fed them."""
    owner_of, bucket = dataset_owners(settings), bucket_of(settings)
    runs = list(recorded_runs(instance, *drivers.month_window(month)))
    rows = drivers.run_rows(month, runs, owner_of, bucket, settings.aws.region)
    rows += drivers.storage_rows(month, storage_sizes(catalog, storage), owner_of, bucket)
    rows += drivers.query_rows(month, query_scans(settings, month))
    return rows, len(runs)


def publish_drivers(
    month: str,
    rows: list[Driver],
    runs: int,
    run_id: str,
    catalog: PartitionCatalog,
    storage: LakeStorage,
) -> PublishedPartition:
    """Publish the rows as the month's partition of `cost_drivers` (a re-run replaces it)."""
    location = published_month_location(DRIVERS_DATASET, run_id or uuid.uuid4().hex, month)
    table = drivers.drivers_table(rows)
    return publish_table(
        catalog, storage, DRIVERS_DATASET, month, location, table, run_id, {"runs": runs}
    )
