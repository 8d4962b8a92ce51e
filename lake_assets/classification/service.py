"""Keeping the catalog's classifications current, one published partition at a time.

After a curated partition is published, `classify_partition` reads that partition only (through
the table reader, the catalog's pointer and manifest), samples and profiles it, and classifies
only the columns that are new (a new schema version added them), whose values drifted from
their baseline past the policy's limits, or whose baseline was too small to judge and is
outgrown; a year of history is never re-read. Automation's opinion is merged under any operator
decision (never over it) and never opens a column by itself (`_with_opinion`), is written back
only where it changed, and every drift is an alert naming dataset, column, partition and the
share observed.

Dagster-free: the asset, the sensor and the CLI call this with the profile's resources; the
classifier's functions come in a `Classifier` (the core's by default, a test's own in tests).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from lake_assets.classification.adapter import Classifier, core_classifier
from lake_assets.classification.drift import Drift
from lake_assets.classification.model import ColumnClassification
from lake_assets.ingestion.curated_columns import LAKE_COLUMNS
from lake_assets.tables.reader import read_version_arrow
from resources.catalog import PartitionCatalog, PublishedPartition
from resources.classification_store import ClassificationStore, ColumnRecord
from resources.notifier import Alert, Notifier
from resources.storage import LakeStorage

DRIFT_ALERT = "classification.drift"


@dataclass(frozen=True)
class PartitionClassification:
    """What classifying one published partition did."""

    dataset: str
    partition: str
    run_id: str  # the published version classified
    new_columns: tuple[str, ...] = ()
    drifted: dict[str, Drift] = field(default_factory=dict)
    classified: tuple[ColumnClassification, ...] = ()
    written: tuple[str, ...] = ()  # columns whose catalog entry changed
    review: tuple[str, ...] = ()  # classified below the review threshold
    disagreements: dict[str, str] = field(default_factory=dict)  # column -> the difference


def classified_columns(columns: Sequence[str]) -> list[str]:
    # The lake's own columns (lineage, the partition, what promotion writes beside a row), by
    # name: no field may take one (ADR-0186), while a payload's `_nric` (or `#nric`, curated as
    # `_nric`) is someone's data however it begins.
    return [c for c in columns if c not in LAKE_COLUMNS]


class ClassificationService:
    def __init__(
        self,
        catalog: PartitionCatalog,
        storage: LakeStorage,
        store: ClassificationStore,
        notifier: Notifier,
        classifier: Classifier | None = None,
    ):
        self.catalog, self.storage, self.store, self.notifier = catalog, storage, store, notifier
        self.classifier = classifier or core_classifier()

    def version(self, dataset: str, partition: str) -> PublishedPartition:
        version = self.catalog.current(dataset, partition)
        if version is None:
            published = [p.partition for p in self.catalog.partitions(dataset)]
            raise LookupError(
                f"{dataset}[{partition}] is not published"
                + (f"; published: {published[0]}..{published[-1]}" if published else "")
            )
        return version

    def pending(self, dataset: str) -> list[str]:
        """Published partitions whose current version was never classified: what a sensor
        requests, so a restart or a quiet day requests nothing."""
        done = self.store.classified(dataset)
        return [
            p.partition
            for p in self.catalog.partitions(dataset)
            if done.get(p.partition) != p.run_id
        ]

    def classify_partition(
        self, dataset: str, partition: str, everything: bool = False
    ) -> PartitionClassification:
        """Classify what is new or drifted in one published partition (`everything`: every
        column, as `lake classify` does), write back what changed, alert on drift."""
        version = self.version(dataset, partition)
        sample = self.classifier.sample(read_version_arrow(self.storage, version))
        # The platform's own columns (lineage, contract bookkeeping) are neither profiled nor
        # context: they hold no one's data.
        sample = sample.select(classified_columns(sample.column_names))
        profiles = self.classifier.profile(sample)
        columns = list(profiles)
        baselines = self.store.baselines(dataset)
        new = [c for c in columns if c not in baselines]
        drifted = {
            c: moved
            for c in columns
            if c in baselines and (moved := self.classifier.drift(baselines[c], profiles[c]))
        }
        # Classified again, quietly: a baseline too small to judge drift against, outgrown.
        outgrown = [
            c
            for c in columns
            if c in baselines
            and c not in drifted
            and self.classifier.outgrows(baselines[c], profiles[c])
        ]
        chosen = columns if everything else [*new, *drifted, *outgrown]
        results = (
            self.classifier.classify(dataset, sample, (partition, partition), chosen, profiles)
            if chosen
            else []
        )
        stored = self.store.columns(dataset)
        records = [
            _with_opinion(stored.get(r.column) or ColumnRecord(dataset, r.column), r)
            for r in results
        ]
        results = [record.automated for record in records]
        # Only automation's opinions: a decision an operator made during this run is kept.
        written = self.store.write(dataset, records, keep_decisions=True)
        self.store.put_baselines(dataset, {r.column: profiles[r.column] for r in results})
        self.store.mark_classified(dataset, partition, version.run_id)
        by_column = {r.column: r for r in results}
        for column, moved in drifted.items():
            self.notifier.send(drift_alert(dataset, partition, column, moved, by_column[column]))
        return PartitionClassification(
            dataset=dataset,
            partition=partition,
            run_id=version.run_id,
            new_columns=tuple(new),
            drifted=drifted,
            classified=tuple(results),
            written=tuple(written),
            review=tuple(r.column for r in results if r.needs_review),
            disagreements={r.column: r.disagreement for r in records if r.disagreement is not None},
        )

    def decide(self, dataset: str, column: str, semantic_type: str, reason: str) -> ColumnRecord:
        """An operator's decision on a column: it is the column's classification from now on,
        and automation's later opinions are recorded beside it, never over it."""
        if not reason.strip():
            raise ValueError(f"{dataset}.{column}: an operator's decision needs a --reason")
        known = table_columns_of(self.catalog, dataset)
        if column not in known:
            raise LookupError(
                f"{dataset} has no column {column!r}; its columns: {', '.join(known)}"
            )
        try:
            sensitivity = self.classifier.sensitivity_of(semantic_type)
        except KeyError as error:
            raise ValueError(f"{dataset}.{column}: {error.args[0]}") from None
        published = [p.partition for p in self.catalog.partitions(dataset)]
        decision = ColumnClassification(
            dataset=dataset,
            column=column,
            candidates=(),
            semantic_type=semantic_type,
            sensitivity=sensitivity,
            confidence=1.0,
            classifier_version="operator",
            partitions=(published[0], published[-1]),
            decided_by="operator",
            reason=reason,
        )
        record = replace(
            self.store.columns(dataset).get(column) or ColumnRecord(dataset, column),
            decision=decision,
        )
        self.store.write(dataset, [record])
        return record


# How far a sensitivity closes a column. A column that needs review has none and is denied to
# every reader (ADR-0076): the strictest.
_STRICTNESS = {"public": 0, "internal": 1, "confidential": 2, "pii": 3, None: 4}


def _with_opinion(record: ColumnRecord, opinion: ColumnClassification) -> ColumnRecord:
    """`record` with automation's new `opinion`, applied at once when nobody decided the column
    and it keeps the label automation gave it on evidence, closes the column further, or
    replaces a label given on no evidence (an empty sample). Any other change (a laxer
    sensitivity, or another type of the same one: access treats `mykad` and `phone` apart)
    sends the column to review until an operator decides (`lake classify set`), so a day whose
    sample happens to look harmless never opens a column."""
    before = record.automated
    held = (
        record.decision is None
        and before is not None
        and bool(before.candidates)
        and opinion.semantic_type != before.semantic_type
        and _STRICTNESS[opinion.sensitivity] <= _STRICTNESS[before.sensitivity]
    )
    if held:
        opinion = replace(
            opinion,
            semantic_type=None,
            sensitivity=None,
            reason=f"automation would change it from {_label(before)} to {_label(opinion)}: "
            "an operator decides (lake classify set)",
        )
    return replace(record, automated=opinion)


def _label(classification: ColumnClassification) -> str:
    if classification.needs_review:
        return "needs review"
    return f"{classification.semantic_type} ({classification.sensitivity})"


def table_columns_of(catalog: PartitionCatalog, dataset: str) -> list[str]:
    """A dataset's classifiable columns as the catalog publishes them; an unknown dataset is an
    error naming it."""
    published = catalog.partitions(dataset)
    if not published:
        raise LookupError(f"unknown dataset {dataset!r}: nothing of it is published")
    columns: dict[str, None] = {}
    for version in published:
        columns.update(dict.fromkeys(version.columns))
    return classified_columns(list(columns))


def drift_alert(
    dataset: str, partition: str, column: str, moved: Drift, now: ColumnClassification
) -> Alert:
    return Alert(
        kind=DRIFT_ALERT,
        subject=(
            f"{dataset}.{column} drifted in partition {partition}: {moved.signal} "
            f"{moved.baseline:.1%} -> {moved.observed:.1%}; reclassified as {_label(now)}"
        ),
        detail={
            "dataset": dataset,
            "column": column,
            "partition": partition,
            "signal": moved.signal,
            "baseline": moved.baseline,
            "share": moved.observed,
            "semantic_type": now.semantic_type,
            "sensitivity": now.sensitivity,
            "confidence": now.confidence,
            "reason": now.reason,
        },
    )
