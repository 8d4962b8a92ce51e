"""The masked views' refresh: a run of `access/masked_views` whenever what they are made of
changes (a policy, a dataset's columns, a classification, lineage, a decision in a time window),
as the plan's fingerprint says; a tick with nothing changed requests nothing."""

from __future__ import annotations

from dagster import (
    DefaultSensorStatus,
    ResourceParam,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)

from lake_assets.access.assets import MASKED_VIEWS_KEY
from lake_assets.access.service import MaskedViews
from lake_assets.instants import utc_now
from lake_assets.settings import Settings
from resources.catalog import PartitionCatalog
from resources.classification_store import ClassificationStore
from resources.storage import LakeStorage


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
    fingerprint = service.plan(utc_now()).fingerprint
    if fingerprint == context.cursor:
        return SensorResult(run_requests=[])
    return SensorResult(
        run_requests=[RunRequest(asset_selection=[MASKED_VIEWS_KEY])], cursor=fingerprint
    )
