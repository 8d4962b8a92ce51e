"""What the command groups share: the resources of the configured profile, and runs of assets
through Dagster (one run for a partition or a range) with a report of what failed."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from uuid import uuid4

from lake_assets.platform.instance import LAKE_TELEMETRY, LOCAL_MAX_CONCURRENT_RUNS, run_queue
from lake_assets.runtime.run_tags import range_tags
from lake_assets.settings import Settings


def _resources(settings: Settings) -> Mapping:
    """The profile's resources; the Spark runner (Dagster, PySpark) only if a command uses it."""
    from resources import command_resources

    return command_resources(settings)


def date_argument(value: str) -> str:
    """argparse type for a date that becomes part of a key: a real YYYY-MM-DD date."""
    from lake_assets.tables.keys import check_date

    try:
        return check_date(value, "date")
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


# --- runs through Dagster -------------------------------------------------------------------


# What the lake needs of a local DAGSTER_HOME, each a top-level key of its dagster.yaml: no
# telemetry and at most two runs in flight, as lake_assets/platform/instance.py says why (the
# production instance it renders has the same keys).
DAGSTER_HOME_SETTINGS = {
    "telemetry": LAKE_TELEMETRY,
    "concurrency": run_queue(LOCAL_MAX_CONCURRENT_RUNS),
}
# Keys by which a user's dagster.yaml already decides what a setting would.
_DECIDED_BY = {
    "telemetry": {"telemetry"},
    "concurrency": {"concurrency", "run_queue", "run_coordinator"},
}


def set_up_dagster_home(home: Path) -> list[str]:
    """Add to `home`'s dagster.yaml (created if missing) each setting it does not decide yet;
    return the keys added. What a user wrote (comments included) stays as it is."""
    import yaml

    config_file = home / "dagster.yaml"
    home.mkdir(parents=True, exist_ok=True)
    text = config_file.read_text() if config_file.exists() else ""
    present = set(yaml.safe_load(text) or {})
    added = [key for key in DAGSTER_HOME_SETTINGS if not present & _DECIDED_BY[key]]
    if added:
        prefix = "" if not text or text.endswith("\n") else "\n"
        settings = "".join(yaml.safe_dump({k: DAGSTER_HOME_SETTINGS[k]}) for k in added)
        config_file.write_text(text + prefix + settings)
    return added


def quiet_dagster() -> None:
    """Keep Dagster's beta and preview warnings (Definitions.map_asset_specs, partitioned checks)
    out of a command's output; called where a command starts using Dagster, so commands that do
    not use it never import it."""
    import warnings

    from dagster import BetaWarning, PreviewWarning

    warnings.filterwarnings("ignore", category=BetaWarning)
    warnings.filterwarnings("ignore", category=PreviewWarning)


def dagster_instance():
    """The instance under DAGSTER_HOME (set up if needed), so runs started here show in the
    webserver; an ephemeral one without it."""
    from dagster import DagsterInstance

    quiet_dagster()
    home = os.environ.get("DAGSTER_HOME")
    if not home:
        return DagsterInstance.ephemeral()
    set_up_dagster_home(Path(home))
    return DagsterInstance.get()


def command_charge(settings: Settings, dataset: str):
    """Whom a `lake` command's Spark run on `dataset` is charged to: the team of the source it
    comes from (a source's table or its history), else the platform's; recorded on
    DAGSTER_HOME's instance (an ephemeral one without it keeps nothing)."""
    from lake_assets.cost.recording import Charge
    from lake_assets.ingestion.asset_keys import HISTORY_SUFFIX

    source = settings.sources.get(dataset.removesuffix(HISTORY_SUFFIX))
    owner = source.asset_owner if source else settings.platform_owner
    return Charge(dataset, owner, dagster_instance())


def materialize_partitions(
    settings,
    keys,
    first: str,
    last: str | None = None,
    resources=None,
    instance=None,
    on_event: Callable | None = None,
    whole_job: bool = False,
):
    """Materialize asset `keys` for one partition or a range, as one run (single-run backfill)
    of the named job of their capability (lake_assets/definitions.py), with `keys` selected
    (with `whole_job`, the job as its schedule runs it: its checks on other assets too).
    `on_event(entry)` is called with each event of the run as the instance records it, while
    the run goes on (`partition_progress` makes one)."""
    from lake_assets.definitions import build_definitions, job_of
    from lake_assets.slo.model import SLO_CHECK

    defs = build_definitions(settings, resources)
    tags = {}
    partition_key = first
    if last and last != first:
        partition_key = None
        tags = range_tags(first, last)
    instance = instance or dagster_instance()
    run_id = str(uuid4())
    if on_event is not None:
        instance.add_event_listener(run_id, on_event)
    job = defs.resolve_job_def(job_of(defs, keys))
    if not whole_job:
        # A subset's checks default to every check of its assets, the `slo` checks included,
        # which report the slo job's evaluation and belong to its runs.
        checks = defs.resolve_asset_graph().asset_check_keys
        job = job.get_subset(
            asset_selection=set(keys),
            asset_check_selection={
                c for c in checks if c.asset_key in keys and c.name != SLO_CHECK
            },
        )
    return job.execute_in_process(
        partition_key=partition_key,
        tags=tags,
        # The command line prints its own summary; Dagster's step log stays in the run record.
        run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}},
        instance=instance,
        run_id=run_id,
        raise_on_error=False,
    )


def partition_progress(asset_key, on_partition: Callable[[str, dict], None]) -> Callable:
    """A run's event listener that calls `on_partition(partition, metadata)` as each partition
    of `asset_key` is recorded (materialized, or observed by a run with nothing to do), so a
    command prints each partition's outcome while the run goes on."""

    def listen(entry) -> None:
        if entry.dagster_event is not None and (
            found := recorded_partition(entry.dagster_event, asset_key)
        ):
            on_partition(*found)

    return listen


def recorded_partition(event, asset_key) -> tuple[str, dict] | None:
    """(partition, metadata values) of a materialization or observation of `asset_key`."""
    if event.event_type_value == "ASSET_MATERIALIZATION":
        recorded = event.event_specific_data.materialization
    elif event.event_type_value == "ASSET_OBSERVATION":
        recorded = event.event_specific_data.asset_observation
    else:
        return None
    if recorded.asset_key != asset_key:
        return None
    return recorded.partition, {name: value.value for name, value in recorded.metadata.items()}


def innermost(error):
    """Dagster wraps an error (a step's, a tick's); the innermost cause says it in the user's
    terms."""
    while error.cause is not None:
        error = error.cause
    return error


def _root_cause(failure_event):
    return innermost(failure_event.event_specific_data.error)


def _reason(failure_event) -> str:
    return f"{failure_event.step_key}: {_root_cause(failure_event).message.strip()}"


def step_failures(result) -> list[str]:
    """The user-facing reason of each failed step."""
    return [_reason(event) for event in result.all_events if event.is_step_failure]


def failure_lines(events) -> list[str]:
    """What failed among a run's `events` (Dagster events), each with its reason: a step
    (`FAILED step: error`), a check (`CHECK FAILED asset:check: description`), or the run
    itself when no step says why (its worker died, it could not start)."""
    lines = []
    for event in events:
        # A step stopped by a blocking check: the check's own line below says which and why.
        if event.is_step_failure and _root_cause(event).cls_name != "DagsterAssetCheckFailedError":
            lines.append(f"FAILED {_reason(event)}")
    for event in events:
        if event.event_type_value == "ASSET_CHECK_EVALUATION":
            data = event.event_specific_data
            if not data.passed:
                reason = f": {data.description}" if data.description else ""
                lines.append(
                    f"CHECK FAILED {data.asset_key.to_user_string()}:{data.check_name}{reason}"
                )
    if not any(event.is_step_failure for event in events):
        lines += [f"FAILED run: {event.message}" for event in events if event.is_run_failure]
    return lines


def report_run(result) -> int:
    """Print what failed (steps and checks), each with its reason; the exit status."""
    for line in failure_lines(result.all_events):
        print(line)
    return 0 if result.success else 1


def reexecute_from_failure(run_id: str, instance=None):
    """Re-execute failed run `run_id` from failure, as the webserver's "Re-execute from failure"
    does (ReexecutionOptions.from_failure): a new run in the failed run's group (its parent and
    root run ids), with its tags and config, that executes only the steps that failed or never
    ran, the steps that succeeded being known from the parent's event log. The job is the code
    location's (lake_assets.definitions, rebuilt from the settings now), run in this process as
    every `lake` run is. Returns the new run's result."""
    from dagster import DagsterRunStatus, ReexecutionOptions, execute_job
    from dagster._core.definitions.reconstruct import ReconstructableRepository
    from dagster._core.storage.tags import (
        PARENT_RUN_ID_TAG,
        RESUME_RETRY_TAG,
        ROOT_RUN_ID_TAG,
        TAGS_TO_MAYBE_OMIT_ON_RETRY,
    )

    instance = instance or dagster_instance()
    parent = instance.get_run_by_id(run_id)
    if parent is None:
        where = os.environ.get("DAGSTER_HOME") or "no DAGSTER_HOME (set it to the runs' home)"
        raise LookupError(f"no run {run_id} in the Dagster instance of {where}")
    if parent.status != DagsterRunStatus.FAILURE:
        raise ValueError(
            f"run {run_id} is {parent.status.value}: only a failed run is re-executed from failure"
        )
    location = ReconstructableRepository.for_module("lake_assets.definitions", "lake_definitions")
    if not location.get_definition().has_job(parent.job_name):
        raise ValueError(
            f"run {run_id} ran {parent.job_name}, which the code location has no job of: "
            "run its assets again (lake promote, lake build, ...)"
        )
    # The tags the webserver's re-execution gives: the parent's but those of its outcome, and
    # the run group's (which execute_job records as fields only).
    tags = {k: v for k, v in parent.tags.items() if k not in TAGS_TO_MAYBE_OMIT_ON_RETRY}
    tags |= {
        PARENT_RUN_ID_TAG: run_id,
        ROOT_RUN_ID_TAG: parent.root_run_id or run_id,
        RESUME_RETRY_TAG: "true",
    }
    return execute_job(
        location.get_reconstructable_job(parent.job_name),
        instance,
        # In this process, as every `lake` run (the daemon's runs execute each step in a
        # process of its own; the steps are the same).
        run_config={**parent.run_config, "execution": {"config": {"in_process": {}}}},
        tags=tags,
        reexecution_options=ReexecutionOptions.from_failure(run_id, instance),
    )
