"""Where a run's drivers go in Dagster: the one place every Spark job of every capability passes
(the runner's `run(context, job, plan)`, resources/spark_runner.py) records them on its step.

- On every materialization of the step, numeric `cost/*` entries: the step's runs divided over
  the (asset, partition) materializations it makes, so the UI plots each dataset's consumption
  over time and sums never count a job twice.
- On the first of them only, the full records of the step's runs (RECORD_ENTRY, JSON): what the
  `cost/drivers` asset reads back from the instance's event log (`recorded_runs`), once per
  execution however many assets and partitions the step makes. Not an observation of the
  table: the commands read a step's observations as partition outcomes (cli/runs.py,
  history/cli.py). A step that fails after its job materializes nothing, and records nothing.
- A check's step (a contract's trial, contracts/trial_watch.py) materializes nothing: each of
  its runs is an observation, with the same entries, of the asset it checks (a contract's,
  which no command reads as a partition's outcome), so its runs reach the drivers too and are
  charged to the dataset the check is for. A check that fails after its job still records it.

- A `lake` command's run (`SparkRunner.run_standalone` with a `Charge`: `lake lateness`,
  `lake contract try`, `lake scd as-of` on the aws profile) is the one op of a `lake_command`
  run on the lake's instance, whose tags name the dataset it is for and its owner; each of its
  runs is an observation of LAKE_COMMANDS, an asset declared for them and read by no command.

Who ran it, for the record and for an EMR job run's tags: the step's assets (a check's step: the
checked assets; a command's run: its charge) name the datasets, the first one's owner the team,
and a generated pipeline's job its pipeline (otherwise the dataset the step makes is its
pipeline).
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from dagster import (
    AssetKey,
    AssetObservation,
    AssetRecordsFilter,
    AssetSpec,
    DagsterInstance,
    MetadataValue,
)

from lake_assets.cost.model import PLATFORM_PIPELINE, team_of_owner
from lake_assets.cost.run_drivers import RECORD_ENTRY, RecordedRun, materialization_metadata
from lake_assets.ingestion.asset_keys import charged_dataset, contract_of
from lake_assets.runtime.jobs import PIPELINE_JOB_PREFIX

# Where the runs of `lake` commands are observed, and the tags of such a run naming whom it is for.
LAKE_COMMANDS = AssetKey(["cost", "lake_commands"])
CHARGED_DATASET_TAG, CHARGED_OWNER_TAG = "lake/charged_dataset", "lake/charged_owner"


@dataclass(frozen=True)
class Charge:
    """Whom a `lake` command's Spark run is for: the dataset it reads, that dataset's owner
    (`team:<name>`, the platform's for a table of no source), and the lake's instance its run
    is recorded on (an ephemeral one keeps nothing: a lake without DAGSTER_HOME)."""

    dataset: str
    owner: str
    instance: DagsterInstance

    @property
    def tags(self) -> dict[str, str]:
        return {CHARGED_DATASET_TAG: self.dataset, CHARGED_OWNER_TAG: self.owner}


def lake_commands_spec(platform_owner: str) -> AssetSpec:
    return AssetSpec(
        LAKE_COMMANDS,
        group_name="lake_commands",
        owners=[platform_owner],
        description="The Spark runs of `lake` commands (lateness, contract trials, as-of "
        "queries on the runner): each an observation carrying its drivers, charged to the "
        "dataset the command read.",
    )


# The runs each step recorded so far: a step that runs several jobs shows their sum.
_STEP_RUNS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_PAGE = 1000


def _in_asset(context) -> bool:
    # Not an op outside any asset (`run_standalone`).
    return context is not None and getattr(context, "has_assets_def", False)


def _asset_keys(context) -> list:
    """The assets the step materializes."""
    keys = context.selected_asset_keys if _in_asset(context) else ()
    return sorted(keys, key=lambda key: key.to_user_string())


def _checked_assets(context) -> list:
    """The contracts' assets a step that materializes nothing checks (a trial's step): declared,
    never built, and no command reads their observations. Not a table's: a multi-asset's step
    run for its checks alone records nothing, since the commands read a table's observations
    as partition outcomes."""
    if not _in_asset(context) or context.selected_asset_keys:
        return []
    checked = {check.asset_key for check in context.selected_asset_check_keys}
    contracts = [key for key in checked if contract_of(key) is not None]
    return sorted(contracts, key=lambda key: key.to_user_string())


def _charged(context) -> tuple[str | None, str | None]:
    """The dataset and owner a `lake` command's run is for (its Charge's tags), else Nones."""
    if context is None or _in_asset(context):
        return None, None
    tags = context.run.tags
    return tags.get(CHARGED_DATASET_TAG), tags.get(CHARGED_OWNER_TAG)


def step_identity(context, job: str) -> dict:
    """datasets, team and pipeline of the step running `job` (empty outside an asset and
    without a charge)."""
    keys = _asset_keys(context) or _checked_assets(context)
    datasets = [d for d in map(charged_dataset, keys) if d is not None]
    owners = context.job_def.asset_layer.asset_graph.get(keys[0]).owners if keys else ()
    if not keys:
        dataset, owner = _charged(context)
        datasets, owners = ([dataset] if dataset else []), ([owner] if owner else ())
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
        _observe(context, run)
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


def _observe(context, run: RecordedRun) -> None:
    """`run` as an observation of each asset a check's step checks, or of LAKE_COMMANDS for a
    charged command's run (its own entries: every such run is observed once)."""
    checked = _checked_assets(context) or ([LAKE_COMMANDS] if _charged(context)[0] else [])
    if not checked:
        return  # no contract's asset and no charge (a table's checks alone, a bare command)
    values = materialization_metadata([run], len(checked))
    for key in checked:
        full = {RECORD_ENTRY: MetadataValue.json([run.as_json()])} if key == checked[0] else {}
        context.log_event(AssetObservation(asset_key=key, metadata={**values, **full}))


def _partitions(context) -> list[str | None]:
    """The partitions the step materializes ([None]: the asset has none)."""
    partitioned = context.has_partition_key or context.has_partition_key_range
    if context.assets_def.partitions_def is None or not partitioned:
        return [None]
    return list(context.partition_keys)


def recorded_runs(
    instance: DagsterInstance, after: datetime, before: datetime
) -> Iterator[RecordedRun]:
    """Every run recorded on `instance` between the two instants (by when it was recorded), on
    a materialization or an observation."""
    for key in instance.get_asset_keys():
        window = AssetRecordsFilter(
            asset_key=key, after_timestamp=after.timestamp(), before_timestamp=before.timestamp()
        )
        for fetch in (instance.fetch_materializations, instance.fetch_observations):
            cursor = None
            while True:
                page = fetch(window, limit=_PAGE, cursor=cursor)
                for event in page.records:
                    recorded = event.asset_event
                    entry = (recorded.metadata or {}).get(RECORD_ENTRY)
                    for record in entry.value if entry is not None else ():
                        yield RecordedRun.from_json(record)
                if not page.has_more:
                    break
                cursor = page.cursor
