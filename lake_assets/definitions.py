"""The whole lake as one Dagster code location (workspace.yaml points here): each capability's
definitions (its definitions.py), merged, with the resources of the configured profile, and one
named job per capability that every `lake` command and the demo run through."""

from __future__ import annotations

from collections.abc import Sequence

from dagster import (
    AssetKey,
    AssetSelection,
    AssetSpec,
    Definitions,
    PartitionsDefinition,
    define_asset_job,
)

from lake_assets.access.definitions import access_definitions
from lake_assets.alarms.definitions import alarms_definitions
from lake_assets.classification.definitions import classification_definitions
from lake_assets.compaction.definitions import compaction_definitions
from lake_assets.contracts.definitions import contracts_definitions
from lake_assets.cost.definitions import COST_GROUP, COST_JOB, cost_definitions
from lake_assets.events.definitions import events_definitions
from lake_assets.graph import checked_graph
from lake_assets.pipelines.definitions import pipelines_definitions
from lake_assets.pull.definitions import pull_definitions
from lake_assets.recovery.definitions import recovery_definitions
from lake_assets.settings import Settings, load_settings
from lake_assets.slo.assets import SLO_GROUP, SLO_JOB, slo_definitions
from partitions import daily_partitions
from resources import build_resources

# The named job of each partitioned asset group. A run of a selection outside any job is recorded
# as `__ephemeral_asset_job__`, which the webserver cannot re-execute; a run of one of these
# jobs (with the selection) shows under its name and can be launched again from the UI.
CAPABILITY_JOBS = {
    "registry": ("profile", "Profile a day's new raw payloads into schema versions."),
    "curated": ("promote", "Promote event dates to curated Parquet, one run for a range."),
    "history": ("history", "Apply published snapshots to the bi-temporal history."),
    "marts": ("marts", "Build the marts from curated partitions."),
    "classification": ("classify", "Classify the columns of published curated partitions."),
    "silver": ("silver", "Build the conformed silver tables from published bronze partitions."),
    "gold": ("gold", "Build the gold facts, dimensions and KPIs from published silver."),
}


def capability_jobs(partitions_def: PartitionsDefinition) -> list:
    return [
        define_asset_job(
            name,
            selection=AssetSelection.groups(group),
            partitions_def=partitions_def,
            description=description,
        )
        for group, (name, description) in CAPABILITY_JOBS.items()
    ]


def job_of(defs: Definitions, keys: Sequence[AssetKey]) -> str:
    """The named job that runs asset `keys`: the job of their group (one group per run)."""
    graph = defs.resolve_asset_graph()
    groups = {graph.get(key).group_name for key in keys}
    # Cost attribution's and the SLOs' jobs are built with their assets (their definitions).
    jobs = {group: name for group, (name, _) in CAPABILITY_JOBS.items()} | {
        COST_GROUP: COST_JOB,
        SLO_GROUP: SLO_JOB,
    }
    names = {jobs[group] for group in groups if group in jobs}
    if len(groups) != 1 or len(names) != 1:
        raise ValueError(
            f"{', '.join(k.to_user_string() for k in keys)} are not the assets of one job "
            f"({', '.join(sorted(set(jobs.values())))})"
        )
    return names.pop()


def build_definitions(settings: Settings, resources: dict | None = None) -> Definitions:
    partitions_def = daily_partitions(settings.partitions_start)
    contracts, tables, rules, data = checked_graph(settings, partitions_def)

    # Applied once here: a source's assets name the source's owner, the rest are the platform's.
    def owned(spec: AssetSpec) -> AssetSpec:
        return spec if spec.owners else spec.replace_attributes(owners=[settings.platform_owner])

    return Definitions.merge(
        *data,
        compaction_definitions(settings),
        classification_definitions(settings, partitions_def),
        contracts_definitions(settings, contracts, tables),
        events_definitions(rules),
        pull_definitions(settings),
        access_definitions(settings),
        alarms_definitions(),
        pipelines_definitions(settings),
        cost_definitions(settings),
        slo_definitions(settings),
        recovery_definitions(),
        Definitions(
            jobs=capability_jobs(partitions_def),
            resources=resources if resources is not None else build_resources(settings),
        ),
    ).map_asset_specs(func=owned)


def lake_definitions() -> Definitions:
    """The code location as the environment's settings make it now: `defs` below, and the job a
    re-execution from failure reconstructs by this name (lake_assets/cli/runs.py), which must
    not be the `defs` an earlier import built for another lake."""
    return build_definitions(load_settings())


defs = lake_definitions()
