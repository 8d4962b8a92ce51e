"""The masked views' refresh: a run of `access/masked_views` whenever what they are made of
changes (a policy, a dataset's columns, a classification, lineage, a decision in a time window),
as the plan's fingerprint says against the one the views were last built from (the asset's last
materialization): a tick with nothing changed requests nothing, and a build that failed is
requested again, one run at a time, half an hour after it failed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dagster import (
    DagsterInstance,
    DagsterRunStatus,
    DefaultSensorStatus,
    ResourceParam,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)
from dagster._core.storage.tags import RUN_KEY_TAG

from lake_assets.access.assets import MASKED_VIEWS_KEY
from lake_assets.access.service import MaskedViews
from lake_assets.instants import utc_now
from lake_assets.settings import Settings
from resources.catalog import PartitionCatalog
from resources.classification_store import ClassificationStore
from resources.storage import LakeStorage

# How long after a failed build the views are asked for again.
RETRY_FAILED_AFTER = timedelta(minutes=30)


@sensor(
    name="masked_views_refresh",
    minimum_interval_seconds=300,
    asset_selection=[MASKED_VIEWS_KEY],
    # Started by the operator who deploys policies (ADR-0078): a lake without them
    # would evaluate every five minutes for nothing.
    default_status=DefaultSensorStatus.STOPPED,
    description="Rebuilds the masked views when policies, schemas or classifications change.",
)
def masked_views_refresh(
    context: SensorEvaluationContext,
    settings: ResourceParam[Settings],
    storage: ResourceParam[LakeStorage],
    catalog: ResourceParam[PartitionCatalog],
    classification: ResourceParam[ClassificationStore],
):
    service = MaskedViews(
        settings, {"storage": storage, "catalog": catalog, "classification": classification}
    )
    now = utc_now()
    fingerprint = service.plan(now).fingerprint
    if fingerprint == built_from(context.instance):
        return SensorResult(run_requests=[])
    planned = context.instance.get_latest_planned_materialization_info(MASKED_VIEWS_KEY)
    record = context.instance.get_run_record_by_id(planned.run_id) if planned else None
    last = record.dagster_run if record else None
    # One build at a time; a run created and never submitted (NOT_STARTED) builds nothing.
    if last is not None and not last.is_finished and last.status != DagsterRunStatus.NOT_STARTED:
        return SensorResult(run_requests=[], skip_reason=f"run {last.run_id} builds the views")
    # A failure its step's retries did not mend (a refused grant) is not asked again every
    # tick: the run's failure alert has gone out, and the next try of the same plan waits. A
    # plan changed since (a policy tightened) is asked for at once.
    failed_plan = last.tags.get(RUN_KEY_TAG, "").split("/after/")[0] if last else None
    if (
        last is not None
        and last.status == DagsterRunStatus.FAILURE
        and record.end_time
        and failed_plan == fingerprint
    ):
        again = datetime.fromtimestamp(record.end_time, UTC) + RETRY_FAILED_AFTER
        if now < again:
            return SensorResult(
                run_requests=[],
                skip_reason=f"run {last.run_id} failed to build the views; asked again at "
                f"{again:%H:%M} UTC",
            )
    # Keyed by the run before it: a tick evaluated again asks for a key Dagster has launched,
    # which Dagster skips; after a failed run the key is new.
    after = last.run_id if last else "none"
    return SensorResult(
        run_requests=[
            RunRequest(run_key=f"{fingerprint}/after/{after}", asset_selection=[MASKED_VIEWS_KEY])
        ]
    )


def built_from(instance: DagsterInstance) -> str | None:
    """The fingerprint of the plan the masked views were last built from, None before the
    first build. A plan whose views leaked was recorded and not registered: built again, it
    would leak again, so it waits for a change as a registered one does."""
    event = instance.get_latest_materialization_event(MASKED_VIEWS_KEY)
    materialization = event.asset_materialization if event else None
    recorded = materialization.metadata.get("fingerprint") if materialization else None
    return recorded.value if recorded else None
