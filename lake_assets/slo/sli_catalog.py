"""Catalog completeness SLI: the share of a dataset's columns classified above the confidence
threshold and owned.

From the catalog (the columns of the dataset's newest published partition, less the platform's
own lineage and partition columns, as classification.service.classified_columns leaves them
out), the classification store (each column's current classification: an operator's decision,
else automation's) and the owner the contract (else the source) declares. A column is good when
its dataset has an owner and its classification names a semantic type with at least
`slo.threshold` confidence (config/classification.yaml's review_threshold when the SLO
names none); an
operator's decision is always confident.

The lake keeps the classification of now, not its history, so the SLI is judged at the
evaluation: one event per column, all in the last slice of [start, end). The history of the
SLI is the SLO tables the evaluation publishes (slo_sli, one row per SLO and day), not a new
record in the classification store. That state stands for the whole window (the events'
`record_from` is the window's start), so its budget is the ratio itself: two columns in ten
unclassified against 99% have spent it twenty times over, however young the SLO.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from lake_assets.classification.service import classified_columns
from lake_assets.slo.model import Events, Slo
from lake_assets.slo.slices import Judged, count_judged, slice_count
from resources.classification_store import ColumnRecord

if TYPE_CHECKING:
    from lake_assets.slo.records import LakeRecords


def column_problem(record: ColumnRecord | None, owner: str | None, threshold: float) -> str:
    """Why a column does not count as catalogued ("" when it does)."""
    if owner is None:
        return "the dataset has no declared owner"
    current = record.current if record else None
    if current is None:
        return "not classified"
    if current.semantic_type is None:
        return f"needs review ({current.confidence:.2f})"
    if current.decided_by != "operator" and current.confidence < threshold:
        return f"{current.semantic_type} at {current.confidence:.2f}, below {threshold:.2f}"
    return ""


def completeness_judged(
    dataset: str,
    columns: Sequence[str],
    records: Mapping[str, ColumnRecord],
    owner: str | None,
    threshold: float,
    at: datetime,
) -> list[Judged]:
    judged = []
    for column in columns:
        problem = column_problem(records.get(column), owner, threshold)
        judged.append(Judged(at, not problem, f"{dataset}.{column}", reason=problem))
    return judged


def completeness_of(
    slo: Slo, dataset: str, records: LakeRecords, start: datetime, end: datetime
) -> Events:
    published = records.catalog.partitions(dataset)
    columns = classified_columns(list(published[-1].columns)) if published else []
    threshold = slo.threshold if slo.threshold is not None else records.review_threshold
    last_slice = start + slo.cadence * (slice_count(start, end, slo.cadence) - 1)
    judged = completeness_judged(
        dataset,
        columns,
        records.classifications.columns(dataset),
        records.owner(dataset),
        threshold,
        last_slice,
    )
    return replace(count_judged(start, end, slo.cadence, judged), record_from=start)
