"""The classification sensor: one run per dataset for the partitions published since they were
last classified (their current version's run id differs from the one classified), so a start
with nothing new requests nothing and a restart never floods the queue."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from dagster import (
    AssetSelection,
    DefaultSensorStatus,
    ResourceParam,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)

from lake_assets.classification.assets import classification_key_of
from lake_assets.runtime.run_tags import range_tags
from resources.catalog import PartitionCatalog
from resources.classification_store import ClassificationStore


def classification_requests(
    source_ids: Sequence[str], catalog: PartitionCatalog, store: ClassificationStore
) -> list[RunRequest]:
    """Per dataset with unclassified published versions: one single-run range over them, keyed
    by those versions, so a tick repeated before the run finishes requests it once."""
    requests = []
    for sid in source_ids:
        done = store.classified(sid)
        pending = [p for p in catalog.partitions(sid) if done.get(p.partition) != p.run_id]
        if not pending:
            continue
        versions = repr([(p.partition, p.run_id) for p in pending])
        first, last = pending[0].partition, pending[-1].partition
        requests.append(
            RunRequest(
                run_key=f"classify/{sid}/{hashlib.sha256(versions.encode()).hexdigest()[:16]}",
                asset_selection=[classification_key_of(sid)],
                tags=range_tags(first, last),
            )
        )
    return requests


def build_classification_sensor(source_ids: Sequence[str]):
    @sensor(
        name="classification_staleness",
        minimum_interval_seconds=60,
        asset_selection=AssetSelection.assets(*[classification_key_of(s) for s in source_ids]),
        default_status=DefaultSensorStatus.RUNNING,
        description="Classifies curated partitions published since their last classification.",
    )
    def classification_staleness(
        context: SensorEvaluationContext,
        catalog: ResourceParam[PartitionCatalog],
        classification: ResourceParam[ClassificationStore],
    ):
        return SensorResult(
            run_requests=classification_requests(source_ids, catalog, classification)
        )

    return classification_staleness
