"""What was true on a date as known at a time, answered in this process from the history's
Parquet files with pyarrow: the local profile's `lake scd as-of`, which must answer in about a
second, where starting Spark alone takes ten or more.

It reads the plan the `history_as_of` job reads (apply.as_of_plan: the committed version's files
and the commit instants of its applies) and gives the same rows, in the same order and the same
JSON values (tested against the job on the same lake). The files are read whole but only the
rows true on the date (and of the keys asked for) are kept; a history of a few million rows is
what this suits. Remote storage or a larger table goes through the job (the `aws` profile).
"""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
from pyarrow import fs

from lake_assets.history.columns import (
    RECORDED_AT,
    RECORDED_BY,
    SUPERSEDED_AT,
    SUPERSEDED_BY,
    VALID_FROM,
    VALID_TO,
)
from lake_assets.instants import parse_instant
from lake_assets.runtime.rows import json_value, python_rows


def as_of_rows(plan: dict) -> list[dict]:
    """The rows the `history_as_of` job answers for `plan` (apply.as_of_by_job), without Spark."""
    history = plan["history"]
    stored = _dataset(history["uris"])
    on = pa.scalar(date.fromisoformat(plan["valid_at"]), pa.date32())
    wanted = (pc.field(VALID_FROM) <= on) & (
        pc.field(VALID_TO).is_null() | (pc.field(VALID_TO) > on)
    )
    for column, value in plan["keys"].items():
        wanted &= pc.field(column) == pa.scalar(value).cast(stored.schema.field(column).type)
    table = stored.to_table(filter=wanted)
    instants = {txn: parse_instant(at) for txn, at in history["instants"].items()}
    known = parse_instant(plan["known_at"])
    shown = [
        {RECORDED_BY: RECORDED_AT, SUPERSEDED_BY: SUPERSEDED_AT}.get(c, c)
        for c in table.column_names
        if c != "row_hash" and not c.startswith("_")
    ]
    rows = []
    for row in python_rows(table):
        # As jobs.with_transaction_times resolves them: an id without an instant is no time.
        recorded = instants.get(row.pop(RECORDED_BY))
        superseded_by = row.pop(SUPERSEDED_BY)
        superseded = instants.get(superseded_by) if superseded_by is not None else None
        if recorded is None or recorded > known or (superseded is not None and superseded <= known):
            continue
        row[RECORDED_AT], row[SUPERSEDED_AT] = recorded, superseded
        rows.append({c: json_value(row[c]) for c in shown})
    return sorted(rows, key=lambda r: [(r[k] is not None, r[k]) for k in plan["order_by"]])


def _dataset(uris: list[str]) -> ds.Dataset:
    filesystem, _ = fs.FileSystem.from_uri(uris[0])
    paths = [fs.FileSystem.from_uri(uri)[1] for uri in uris]
    return ds.dataset(paths, filesystem=filesystem, format="parquet")
