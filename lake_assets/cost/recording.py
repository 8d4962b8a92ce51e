"""Where a run's drivers go in Dagster: the one place every Spark job of every capability passes
(the runner's `run(context, job, plan)`, resources/spark_runner.py) records them on its step.

- On every materialization of the step, numeric `cost/*` entries: the step's runs divided over
  the (asset, partition) materializations it makes, so the UI plots each dataset's consumption
  over time and sums never count a job twice.
- On the first of them only, the full records of the step's runs (RECORD_ENTRY, JSON): what the
  `cost/drivers` asset reads back from the instance's event log (`recorded_runs`), once per
  execution however many assets and partitions the step makes. Not an AssetObservation: the
  commands read a step's observations as partition outcomes (cli/runs.py, history/cli.py).
  A step that fails after its job materializes nothing, and records nothing.

Who ran it, for the record and for an EMR job run's tags: the step's assets name the datasets,
the first asset's owner the team, and a generated pipeline's job its pipeline (otherwise the
dataset the step makes is its pipeline).
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from datetime import datetime

from dagster import AssetRecordsFilter, DagsterInstance, MetadataValue

from lake_assets.cost.model import PLATFORM_PIPELINE, team_of_owner
from lake_assets.cost.run_drivers import RECORD_ENTRY, RecordedRun, materialization_metadata
from lake_assets.ingestion.asset_keys import dataset_of
from lake_assets.runtime.jobs import PIPELINE_JOB_PREFIX

# The runs each step recorded so far: a step that runs several jobs shows their sum.
_STEP_RUNS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_PAGE = 1000


def _asset_keys(context) -> list:
    if context is None or not getattr(context, "has_assets_def", False):
        return []  # an op outside any asset (`run_standalone`): nothing to record it on
    return sorted(context.selected_asset_keys, key=lambda key: key.to_user_string())


def step_identity(context, job: str) -> dict:
    """datasets, team and pipeline of the step running `job` (empty outside an asset)."""
    keys = _asset_keys(context)
    datasets = [d for d in map(dataset_of, keys) if d is not None]
    owners = context.assets_def.specs_by_key[keys[0]].owners if keys else ()
    pipeline = (
        job.removeprefix(PIPELINE_JOB_PREFIX) if job.startswith(PIPELINE_JOB_PREFIX) else None
    )
    return {
        "datasets": datasets,
        "team": team_of_owner(owners[0]) if owners else None,
        # A generated pipeline's job is its pipeline's; every other job is the platform's (the
        # value Terraform's resources and the tagging check know, config/cost/tagging.yaml).
        "pipeline": pipeline or PLATFORM_PIPELINE,
    }


def record(context, run: RecordedRun) -> None:
    """Record `run` on the step of `context` (nothing outside an asset)."""
    keys = _asset_keys(context)
    if not keys:
        return
    runs = _STEP_RUNS.setdefault(context, [])
    runs.append(run)
    partitions = _partitions(context)
    values = materialization_metadata(runs, len(keys) * len(partitions))
    every = [(key, partition) for key in keys for partition in partitions]
    for key, partition in every:
        full = {RECORD_ENTRY: MetadataValue.json([r.as_json() for r in runs])}
        context.add_asset_metadata(
            {**values, **(full if (key, partition) == every[0] else {})},
            asset_key=key,
            partition_key=partition,
        )


def _partitions(context) -> list[str | None]:
    """The partitions the step materializes ([None]: the asset has none)."""
    partitioned = context.has_partition_key or context.has_partition_key_range
    if context.assets_def.partitions_def is None or not partitioned:
        return [None]
    return list(context.partition_keys)


def recorded_runs(
    instance: DagsterInstance, after: datetime, before: datetime
) -> Iterator[RecordedRun]:
    """Every run recorded on `instance` between the two instants (by when it was recorded)."""
    for key in instance.get_asset_keys():
        cursor = None
        while True:
            page = instance.fetch_materializations(
                AssetRecordsFilter(
                    asset_key=key,
                    after_timestamp=after.timestamp(),
                    before_timestamp=before.timestamp(),
                ),
                limit=_PAGE,
                cursor=cursor,
            )
            for event in page.records:
                entry = (event.asset_materialization.metadata or {}).get(RECORD_ENTRY)
                for record in entry.value if entry is not None else ():
                    yield RecordedRun.from_json(record)
            if not page.has_more:
                break
            cursor = page.cursor
