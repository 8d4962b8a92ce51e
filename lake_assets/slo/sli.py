"""The one entry point of the SLIs: `events_for(slo, records, start, end)` -> the SLO's good
and total events per slice, read by its SLI's module (sli_*.py) from the lake's records
(records.py)."""

from __future__ import annotations

from datetime import datetime

from lake_assets.slo import sli_catalog, sli_cost, sli_freshness, sli_pipeline, sli_quality
from lake_assets.slo.model import (
    COMPLETENESS,
    COST,
    FRESHNESS,
    LATENCY,
    PIPELINE_LATENCY,
    QUALITY,
    RECOVERY,
    SUCCESS,
    Events,
    Slo,
)
from lake_assets.slo.records import LakeRecords
from lake_assets.slo.slices import summed

_READERS = {
    FRESHNESS: sli_freshness.freshness_of,
    LATENCY: sli_freshness.latency_of,
    QUALITY: sli_quality.quality_of,
    SUCCESS: sli_pipeline.success_of,
    RECOVERY: sli_pipeline.recovery_of,
    PIPELINE_LATENCY: sli_pipeline.pipeline_latency_of,
    COST: sli_cost.cost_of,
    COMPLETENESS: sli_catalog.completeness_of,
}


def events_for(slo: Slo, records: LakeRecords, start: datetime, end: datetime) -> Events:
    """The SLO's good and total events per slice of its cadence over [start, end), UTC; a
    group's datasets summed. Raises SliUnavailable when no record can measure it."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be aware datetimes (UTC)")
    read = _READERS[slo.sli]
    return summed([read(slo, dataset, records, start, end) for dataset in slo.datasets])
