"""What the webserver shows on a source's assets, built from what the core returned: each
promoted partition's own figures and location, the curated table's columns, and the raw files
that arrived on an ingest date.

Dagster metadata only; the figures come from promotion's result and the storage listing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from dagster import (
    CodeReferencesMetadataValue,
    LocalFileCodeReference,
    MetadataValue,
    TableColumn,
    TableColumnConstraints,
    TableSchema,
)

from lake_assets.contracts.gate import AWAITING, CHECKED_AGAINST
from lake_assets.contracts.model import Contract
from lake_assets.ingestion.promotion import PartitionResult
from lake_assets.settings import REPO_ROOT, SourceConfig
from resources.classification_store import ColumnRecord
from resources.storage import ObjectInfo

# Keys listed in one metadata entry; the counts are always complete.
LISTED_KEYS = 50
# Dagster's own keys (its TableMetadataSet and UriMetadataSet), which the webserver draws as a
# column table, a row count and a location.
COLUMN_SCHEMA, PARTITION_ROW_COUNT, URI = (
    "dagster/column_schema",
    "dagster/partition_row_count",
    "dagster/uri",
)


def generated_metadata(source: SourceConfig) -> dict:
    """A generated source's assets link to the spec they were generated from (the webserver
    shows it as the asset's code reference, as for Dagster's own YAML components)."""
    if source.generation is None:
        return {}
    spec = LocalFileCodeReference(
        file_path=str(REPO_ROOT / "pipelines" / f"{source.source_id}.yaml"),
        line_number=1,
        label="pipeline spec",
    )
    return {"dagster/code_references": CodeReferencesMetadataValue(code_references=[spec])}


def pipeline_run_tags(source: SourceConfig) -> dict[str, str]:
    """Tags of the runs a schedule or sensor requests for a generated source: which pipeline,
    generated from which spec, so a run can be traced to its spec without its code location."""
    if source.generation is None:
        return {}
    return {"lake/pipeline": source.source_id, "lake/spec_hash": source.generation.spec_hash}


def classification_tags(record: ColumnRecord | None) -> dict[str, str]:
    """A column's classification as column tags (what the catalog holds when the schema is
    recorded; a column not classified yet has none)."""
    current = record.current if record else None
    if current is None:
        return {}
    return {
        "classification/semantic_type": current.semantic_type or "needs_review",
        "classification/sensitivity": current.sensitivity or "needs_review",
        "classification/confidence": f"{current.confidence:.2f}",
        "classification/decided_by": current.decided_by,
    }


def curated_table_schema(
    columns: Mapping[str, str],
    contract: Contract | None,
    classifications: Mapping[str, ColumnRecord] | None = None,
) -> TableSchema:
    """The curated table's columns in output order with their lake field types, tagged with
    their classification; a column the contract declares `nullable: false` is non-null
    (promotion quarantines its null rows)."""
    required = {c.name for c in contract.columns if not c.nullable} if contract else set()
    known = classifications or {}
    return TableSchema(
        columns=[
            TableColumn(
                name,
                type=kind,
                constraints=TableColumnConstraints(nullable=name not in required),
                tags=classification_tags(known.get(name)),
            )
            for name, kind in columns.items()
        ]
    )


def classified_table_schema(
    columns: Sequence[str], classifications: Mapping[str, ColumnRecord]
) -> TableSchema:
    """The classification asset's columns: each with its semantic type as type and tags."""
    return TableSchema(
        columns=[
            TableColumn(
                name,
                type=(r.current.semantic_type or "needs_review")
                if (r := classifications.get(name)) and r.current
                else "unclassified",
                tags=classification_tags(classifications.get(name)),
            )
            for name in columns
        ]
    )


def promoted_partition_metadata(
    written: PartitionResult | None,
    raw_keys: Sequence[str],
    location_uri: str | None,
    blocked_by: Sequence[str] = (),
    awaiting: Sequence[str] = (),
    checked_against: Mapping[str, str] | None = None,
) -> dict:
    """One partition's own materialization: its rows, files, raw inputs and published folder
    (none when the contract blocked it: the partition keeps its earlier version), the
    referential rules `awaiting` their reference and the reference versions it was
    `checked_against` (dataset -> run; ADR-0132)."""
    published = written.rows_published if written and location_uri else 0
    metadata = {
        "rows_in": written.rows_in if written else 0,
        "rows_published": published,
        "rows_quarantined": written.rows_quarantined if written else 0,
        # The share of the day's rows that passed (what a quality_score rule judges), plotted
        # per partition by the webserver; held or published alike.
        "quality_score": round(written.rows_published / written.rows_in, 4)
        if written and written.rows_in
        else 1.0,
        "files_written": len(written.files) if written else 0,
        "raw_files_read": len(raw_keys),
        "raw_files": MetadataValue.json(list(raw_keys[:LISTED_KEYS])),
        PARTITION_ROW_COUNT: published,
    }
    if blocked_by:
        metadata["blocked_by"] = MetadataValue.json(list(blocked_by))
    if awaiting:
        metadata[AWAITING] = MetadataValue.json(list(awaiting))
    if checked_against:
        metadata[CHECKED_AGAINST] = MetadataValue.json(dict(checked_against))
    if location_uri:
        metadata["location"] = MetadataValue.path(location_uri)
        metadata[URI] = location_uri
    return metadata


def arrival_metadata(objects: Iterable[ObjectInfo], folder_uri: str) -> dict:
    """The raw files of one ingest date: how many, their bytes, their keys and their folder."""
    objects = sorted(objects, key=lambda o: o.key)
    return {
        "files": len(objects),
        "bytes": sum(o.size for o in objects),
        "keys": MetadataValue.json([o.key for o in objects[:LISTED_KEYS]]),
        "location": MetadataValue.path(folder_uri),
        URI: folder_uri,
    }
