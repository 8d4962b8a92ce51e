"""What the command groups share: the resources of the configured profile, and runs of assets
through Dagster (one run for a partition or a range) with a report of what failed."""

from __future__ import annotations

import os
from pathlib import Path

from lake_assets.settings import Settings


def _resources(settings: Settings) -> dict:
    from resources import build_resources

    return build_resources(settings)


# --- runs through Dagster -------------------------------------------------------------------


def dagster_instance():
    """The instance under DAGSTER_HOME (created if missing), so runs started here show in the
    webserver; an ephemeral one without it."""
    from dagster import DagsterInstance

    home = os.environ.get("DAGSTER_HOME")
    if not home:
        return DagsterInstance.ephemeral()
    Path(home).mkdir(parents=True, exist_ok=True)
    return DagsterInstance.get()


def materialize_partitions(
    settings, keys, first: str, last: str | None = None, resources=None, instance=None
):
    """Materialize asset `keys` for one partition or a range, as one run (single-run backfill)
    of the named job of their capability (lake_assets/definitions.py), with `keys` selected."""
    from lake_assets.definitions import build_definitions, job_of

    defs = build_definitions(settings, resources)
    tags = {}
    partition_key = first
    if last and last != first:
        partition_key = None
        tags = {
            "dagster/asset_partition_range_start": first,
            "dagster/asset_partition_range_end": last,
        }
    return defs.resolve_job_def(job_of(defs, keys)).execute_in_process(
        asset_selection=list(keys),
        partition_key=partition_key,
        tags=tags,
        # The command line prints its own summary; Dagster's step log stays in the run record.
        run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}},
        instance=instance or dagster_instance(),
        raise_on_error=False,
    )


def step_failures(result) -> list[str]:
    """The user-facing reason of each failed step: Dagster wraps it, the cause says it."""
    reasons = []
    for event in result.all_events:
        if event.is_step_failure:
            error = event.event_specific_data.error
            while error.cause is not None:
                error = error.cause
            reasons.append(f"{event.step_key}: {error.message.strip()}")
    return reasons


def report_run(result) -> int:
    for reason in step_failures(result):
        print(f"FAILED {reason}")
    for event in result.all_events:
        if event.event_type_value == "ASSET_CHECK_EVALUATION":
            data = event.event_specific_data
            if not data.passed:
                print(
                    f"CHECK FAILED {data.asset_key.to_user_string()}:{data.check_name}: {data.description}"
                )
    return 0 if result.success else 1
