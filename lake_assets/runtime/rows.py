"""Rows a Spark job answers with: written by the job into the folder its plan names, read back
by the orchestrator through the lake's storage (a local folder or S3 alike).

A job's result comes back as one Pipes message and must stay small (jobs.MAX_RESULT_BYTES), so a
job whose answer is rows (the as-of query) returns `write_rows`'s `{"rows", "rows_at"}` instead
of the rows; `take_rows` gives the caller the rows as JSON values (dates as text, instants as the
lake prints them: instants.format_instant) and removes the folder, which no table refers to.

Spark-free on the orchestrator's side: pyarrow reads the Parquet files the job wrote.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from lake_assets.instants import format_instant

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from resources.storage import LakeStorage


def write_rows(frame: DataFrame, uri: str) -> dict:
    """The job's side: `frame` (in the order the caller wants its rows) written as Parquet to
    `uri`, a folder of its own; the result that says where, and how many rows."""
    frame.write.mode("error").parquet(uri)
    return {"rows": frame.sparkSession.read.parquet(uri).count(), "rows_at": uri}


def take_rows(storage: LakeStorage, result: dict) -> list[dict]:
    """The orchestrator's side: the rows a job wrote (`result` is what `write_rows` returned),
    in the order it wrote them, as JSON values; their folder is removed once they are read."""
    root, uri = storage.uri("").rstrip("/") + "/", result["rows_at"]
    if not uri.startswith(root):
        raise ValueError(f"a job wrote its rows to {uri}, outside the lake at {root}")
    folder = uri[len(root) :]
    # Spark names each part by the task that wrote it: in key order, the frame's order.
    parts = sorted(info.key for info in storage.list(folder) if info.key.endswith(".parquet"))
    rows = [
        {column: json_value(value) for column, value in row.items()}
        for key in parts
        for row in python_rows(pq.read_table(pa.BufferReader(storage.get_bytes(key))))
    ]
    if len(rows) != result["rows"]:
        raise RuntimeError(f"{uri} holds {len(rows)} rows; the job wrote {result['rows']}")
    storage.delete_prefix(folder)
    return rows


def python_rows(table: pa.Table) -> list[dict]:
    """Rows as Python values; timestamps at microseconds in UTC, as Spark keeps them."""
    columns = [
        table[c].cast(pa.timestamp("us", tz="UTC"))
        if pa.types.is_timestamp(table.schema.field(c).type)
        else table[c]
        for c in table.column_names
    ]
    return pa.Table.from_arrays(columns, names=table.column_names).to_pylist()


def json_value(value: Any) -> Any:
    """A value as a job's rows carry it: dates and decimals as text, instants in UTC with their
    offset."""
    if isinstance(value, datetime):
        return format_instant(value)
    if isinstance(value, date | Decimal):
        return str(value)
    return value
