"""The access Resource of a dataset, built from what the lake records about it: its zone and
owner, each column's sensitivity and semantic type from the classification store (an
operator's decision wins over automation; a column without a label has no sensitivity: not yet
classified, which denies), and each derived column's `origins`, recursively, so a restriction
follows the data through every derived dataset and a two-hop derivation is a chain.

The static column lineage is read from the derived tables' declarations, the source of truth
the runs record from: silver (`column_lineage` of lake_assets/silver/*_table.py), gold (derived
from each table's SQL, gold/lineage.py), the mart (marts/columns.py) and the histories
(history/columns.py, from the history's columns). The lineage store holds the same per run, but
only for what has run, and a decision must not depend on whether a table was built yet.

A derived column nobody classified is classified by its derivation: the strictest sensitivity of
its origins, where an origin through a declared safe transformation (access/safe.py) counts as
what that transformation yields; an origin without a sensitivity leaves it without one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cached_property
from typing import Any

from lake_assets.access.model import Column, Origin, Resource
from lake_assets.access.safe import relaxed_attributes
from lake_assets.classification.model import SENSITIVITIES
from lake_assets.contracts.model import Contract
from lake_assets.gold.lineage import column_lineage as gold_column_lineage
from lake_assets.gold.tables import GOLD_TABLES, GoldTable
from lake_assets.history.apply import WHOLE_TABLE, history_dataset
from lake_assets.history.columns import history_column_lineage
from lake_assets.ingestion.curated_columns import LINEAGE_COLUMNS, column_name
from lake_assets.layers.model import DerivedTable
from lake_assets.marts.columns import MART_DATASET, SPEND_COLUMN_LINEAGE, SPEND_COLUMNS
from lake_assets.settings import SourceConfig, load_sources
from lake_assets.silver.customer_table import SILVER_CRM_CONTACTS, SILVER_CUSTOMER
from lake_assets.silver.fx_rates_table import SILVER_FX_RATES
from lake_assets.silver.orders_table import SILVER_ORDERS
from lake_assets.slo.model import SLO_DATASETS
from lake_assets.tables.locations import PARTITION
from resources.catalog import PartitionCatalog
from resources.classification_store import ClassificationStore

SILVER_TABLES: tuple[DerivedTable, ...] = (
    SILVER_CRM_CONTACTS,
    SILVER_CUSTOMER,
    SILVER_FX_RATES,
    SILVER_ORDERS,
)
PLATFORM_OWNER = "team:data-platform"
PLATFORM_COLUMN = {"sensitivity": "internal", "semantic_type": "platform", "classified_by": "lake"}
PLATFORM_DATASETS = frozenset(SLO_DATASETS)
# The columns the lake adds to every row, which it labels itself. Not every name it uses: a
# quarantined row's `_raw_record` holds the payload as delivered.
PLATFORM_COLUMNS = frozenset({*LINEAGE_COLUMNS, PARTITION})


def resource_of(
    dataset: str,
    columns: Iterable[str] | None = None,
    *,
    catalog: PartitionCatalog,
    classifications: ClassificationStore,
    sources: Mapping[str, SourceConfig] | None = None,
    contracts: Mapping[str, Contract] | None = None,
    gold_tables: Mapping[str, GoldTable] = GOLD_TABLES,
) -> Resource:
    """The Resource of `dataset` with `columns` (all its columns when None)."""
    lake = LakeAttributes(catalog, classifications, sources, contracts, gold_tables)
    return lake.resource(dataset, columns)


class LakeAttributes:
    """Attributes and lineage as one lake records them; each dataset's classifications and
    lineage are read once per instance."""

    def __init__(
        self,
        catalog: PartitionCatalog,
        classifications: ClassificationStore,
        sources: Mapping[str, SourceConfig] | None = None,
        contracts: Mapping[str, Contract] | None = None,
        gold_tables: Mapping[str, GoldTable] = GOLD_TABLES,
    ):
        self.catalog, self.classifications = catalog, classifications
        self.sources = load_sources() if sources is None else sources
        self.contracts = contracts or {}
        self.gold = {t.dataset: t for t in gold_tables.values()}
        self._labels: dict[str, dict] = {}
        self._lineage: dict[str, Mapping[str, list[dict]]] = {}

    @cached_property
    def _histories(self) -> dict[str, SourceConfig]:
        return {history_dataset(s.source_id): s for s in self.sources.values() if s.history}

    def zone(self, dataset: str) -> str | None:
        if dataset in self.gold:
            return "gold"
        if dataset in {t.dataset for t in SILVER_TABLES}:
            return "silver"
        if dataset == MART_DATASET:
            return "mart"
        if dataset in self._histories:
            return "history"
        return "curated" if dataset in self.sources else None

    def owner(self, dataset: str) -> str:
        if dataset in self.contracts:
            return self.contracts[dataset].owner
        source = self.sources.get(dataset) or self._histories.get(dataset)
        return source.asset_owner if source else PLATFORM_OWNER

    def resource(self, dataset: str, columns: Iterable[str] | None = None) -> Resource:
        names = self.columns_of(dataset) if columns is None else list(columns)
        return Resource(
            dataset, self.attributes(dataset), tuple(self.column(dataset, n) for n in names)
        )

    def attributes(self, dataset: str) -> dict[str, str]:
        """The dataset's own attributes: its name, owner and zone (none for a dataset the lake
        does not know, so a policy naming a zone does not match it)."""
        attributes = {"dataset": dataset, "owner": self.owner(dataset)}
        zone = self.zone(dataset)
        if zone:
            attributes["zone"] = zone
        return attributes

    def columns_of(self, dataset: str) -> list[str]:
        """The dataset's columns: declared for a derived table, else as last published."""
        if dataset in self.gold:
            return list(self.gold[dataset].columns)
        declared = {t.dataset: t.columns for t in SILVER_TABLES} | {MART_DATASET: SPEND_COLUMNS}
        if dataset in declared:
            return list(declared[dataset])
        published = self.catalog.partitions(dataset)
        return list(published[-1].columns) if published else []

    def column(self, dataset: str, name: str, within: tuple[str, ...] = ()) -> Column:
        """The column with its own attributes and, for a derived one, its origins."""
        here = f"{dataset}.{name}"
        inputs = self.lineage(dataset).get(name) if here not in within else None
        origins = tuple(
            Origin(
                dataset=source,
                column=self.column(source, column, (*within, here)),
                transformation=i["transformation"],
                safe=i.get("safe"),
                # Decided as the source dataset is: a grant by zone or owner covers it there.
                dataset_attributes=self.attributes(source),
            )
            for i in inputs or ()
            for source, column in [i["input"].rsplit(".", 1)]
        )
        own = self.labels(dataset).get(name)
        if own is None and dataset in PLATFORM_DATASETS:
            # The platform's own tables (the SLOs' states): what the lake says of itself.
            own = PLATFORM_COLUMN
        elif own is None and name in PLATFORM_COLUMNS:
            # The platform's own columns (the event date partition, the provenance columns),
            # which the classifier leaves alone: the lake says what they are. Named, so a
            # payload's `_nric` is classified like any column, and denied until it is.
            own = PLATFORM_COLUMN
        elif own is None and inputs is not None:
            own = derived_attributes(origins)
        return Column(name, own or {}, origins)

    def labels(self, dataset: str) -> dict[str, dict[str, Any]]:
        """Column -> its labels from the classification store's current record."""
        if dataset not in self._labels:
            found = {}
            for column, record in self.classifications.columns(dataset).items():
                current = record.current
                if current and current.sensitivity:
                    found[column] = {
                        "sensitivity": current.sensitivity,
                        "semantic_type": current.semantic_type,
                        "classified_by": current.decided_by,
                    }
                elif current:
                    # Sent to review (ADR-0145, ADR-0174): no sensitivity, so denied, and not
                    # labelled by its derivation meanwhile, which may be laxer.
                    found[column] = {"classified_by": current.decided_by}
            self._labels[dataset] = found
        return self._labels[dataset]

    def lineage(self, dataset: str) -> Mapping[str, list[dict]]:
        """Column -> its input columns (the lineage store's ColumnInput); empty for a dataset
        that is not derived."""
        if dataset not in self._lineage:
            self._lineage[dataset] = self._declared_lineage(dataset)
        return self._lineage[dataset]

    def _declared_lineage(self, dataset: str) -> Mapping[str, list[dict]]:
        if dataset in self.gold:
            # One hop: a gold input stays a dataset of its own, so the chain names it and the
            # safety of an aggregate is judged in the table that declares its minimum group.
            return gold_column_lineage(self.gold[dataset], {})
        silver = {t.dataset: t for t in SILVER_TABLES}
        if dataset in silver:
            return silver[dataset].column_lineage
        if dataset == MART_DATASET:
            return SPEND_COLUMN_LINEAGE
        if dataset in self._histories:
            source = self._histories[dataset]
            # The history's columns as published, else its snapshots' (before a first apply).
            published = self.catalog.current(dataset, WHOLE_TABLE) or next(
                reversed(self.catalog.partitions(source.source_id)), None
            )
            return history_column_lineage(
                source.source_id,
                published.columns if published else (),
                column_name(source.event_time_field),
            )
        return {}


def derived_attributes(origins: tuple[Origin, ...]) -> dict[str, Any]:
    """What a derived column nobody classified is, from its origins: the strictest of their
    sensitivities (a safe origin counts as what its transformation yields); no sensitivity if
    any unsafe origin has none (not classified: denies). A copy of one column is of that
    column's semantic type, anything computed is "derived": what it is computed from restricts
    it through its origins, and the decision names that path. A column computed from no column
    (a run id, a flag the job sets) is internal."""
    if not origins:
        return {"sensitivity": "internal", "classified_by": "lineage"}
    labels = [relaxed_attributes(o.safe) if o.safe else o.column.attributes for o in origins]
    levels = [label.get("sensitivity") for label in labels]
    if None in levels:
        return {"classified_by": "lineage"}
    types = {label.get("semantic_type") for label in labels}
    copied = len(types) == 1 and all(o.safe or o.transformation == "IDENTITY" for o in origins)
    return {
        "sensitivity": min(levels, key=SENSITIVITIES.index),
        "semantic_type": types.pop() if copied else "derived",
        "classified_by": "lineage",
    }
