"""The history table's own columns, by name: what the Spark merge writes and reads (merge.py),
what the pyarrow point query filters on (point_query.py) and what `lake scd as-of` prints.
Spark-free, so a point query imports no PySpark."""

VALID_FROM, VALID_TO = "valid_from", "valid_to"
RECORDED_AT, SUPERSEDED_AT = "recorded_at", "superseded_at"
RECORDED_BY, SUPERSEDED_BY = "recorded_by", "superseded_by"  # as stored: transaction ids
OPENED_BY, CLOSED_BY = "opened_by", "closed_by"  # insert|update|reinstate; update|delete
BITEMPORAL_COLUMNS = (VALID_FROM, VALID_TO, RECORDED_AT, SUPERSEDED_AT, OPENED_BY, CLOSED_BY)
STORED_COLUMNS = (VALID_FROM, VALID_TO, RECORDED_BY, SUPERSEDED_BY, OPENED_BY, CLOSED_BY)
