"""The history table's own columns, by name: what the Spark merge writes and reads (merge.py),
what the pyarrow point query filters on (point_query.py) and what `lake scd as-of` prints.
Spark-free, so a point query imports no PySpark."""

from lake_assets.lineage.model import ColumnInput, Transformation, derived_from
from lake_assets.tables.locations import PARTITION

VALID_FROM, VALID_TO = "valid_from", "valid_to"
RECORDED_AT, SUPERSEDED_AT = "recorded_at", "superseded_at"
RECORDED_BY, SUPERSEDED_BY = "recorded_by", "superseded_by"  # as stored: transaction ids
OPENED_BY, CLOSED_BY = "opened_by", "closed_by"  # insert|update|reinstate; update|delete
BITEMPORAL_COLUMNS = (VALID_FROM, VALID_TO, RECORDED_AT, SUPERSEDED_AT, OPENED_BY, CLOSED_BY)
STORED_COLUMNS = (VALID_FROM, VALID_TO, RECORDED_BY, SUPERSEDED_BY, OPENED_BY, CLOSED_BY)
ROW_HASH = "row_hash"
# Columns the apply computes from no column of the snapshot: when and by which apply.
_APPLY_COLUMNS = (RECORDED_AT, SUPERSEDED_AT, RECORDED_BY, SUPERSEDED_BY, OPENED_BY, CLOSED_BY)


def history_column_lineage(
    source_id: str, columns, event_time_column: str, partition_column: str = PARTITION
) -> dict[str, list[dict]]:
    """Each history column's input columns in the curated snapshot `source_id` (the lineage
    store's ColumnInput), from the snapshot's columns or the history's own: a key, attribute or
    carried column is the snapshot's column; the valid interval comes from the snapshot date;
    row_hash digests every attribute; the transaction columns come from no column."""
    data = [
        c
        for c in columns
        if c not in (*STORED_COLUMNS, *BITEMPORAL_COLUMNS, ROW_HASH)
        and c not in (event_time_column, partition_column)
    ]

    def inputs(names, transformation: Transformation) -> list[ColumnInput]:
        return derived_from(*(f"{source_id}.{n}" for n in names), transformation=transformation)

    return {
        **{c: inputs([c], "IDENTITY") for c in data},
        VALID_FROM: inputs([event_time_column], "TRANSFORMATION"),
        VALID_TO: inputs([event_time_column], "TRANSFORMATION"),
        **{c: [] for c in _APPLY_COLUMNS},
        ROW_HASH: inputs(data, "TRANSFORMATION"),
    }
