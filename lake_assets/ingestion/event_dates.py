"""Rows per event date: how the raw-file index records which partitions a file feeds.

Profiling counts, for every date or timestamp field, the records falling on each date. The index
keeps these counts for the field that is the source's event time, losslessly and compactly: as
runs of consecutive days, `[[first day, rows, rows, ...], ...]`, a few bytes per day whatever a
file spans. Promotion selects a partition's files by them, and the reconciliation counts each
file's rows by them (ADR-0013 as amended). Pure: arrays and records in, counts out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, timedelta

import pyarrow as pa
import pyarrow.compute as pc

from lake_assets.ingestion.raw_zone import RawFile

DateRows = tuple[tuple[str, int], ...]
"""Rows per ISO date, sorted by date."""

Runs = list[list]
"""DateRows as runs of consecutive days: [[first day, rows of that day, of the next, ...], ...]."""


def count_days(texts: pa.Array, weights: pa.Array, offset: pa.Array | None) -> DateRows:
    """Rows per date of ISO date/timestamp texts (`weights` rows each): the date as written, or
    in UTC where `offset` says the text has one. Anything not YYYY-MM-DD is left out (an offset
    can push 9999-12-31 into year 10000)."""
    if not len(texts):
        return ()
    days = pc.utf8_slice_codeunits(texts, 0, 10)
    if offset is not None:
        written = pc.invert(offset)
        days = pa.concat_arrays([days.filter(written), _utc_dates(texts.filter(offset))])
        weights = pa.concat_arrays([weights.filter(written), weights.filter(offset)])
    summed = pa.table({"day": days, "rows": weights}).group_by("day").aggregate([("rows", "sum")])
    kept = summed.filter(pc.equal(pc.utf8_length(summed["day"]), 10))
    return tuple(sorted(zip(kept["day"].to_pylist(), kept["rows_sum"].to_pylist(), strict=True)))


def _utc_dates(texts: pa.Array) -> pa.Array:
    try:
        # Seconds precision: nanosecond timestamps cannot hold years past 2262.
        whole_seconds = pc.replace_substring_regex(texts, r"\.\d+", "")
        utc = pc.cast(pc.cast(whole_seconds, pa.timestamp("s", "UTC")), pa.date32())
        return pc.cast(utc, pa.string())
    except pa.ArrowInvalid:  # e.g. "2026-02-30T..." passes the pattern but is no real date
        return pc.utf8_slice_codeunits(texts, 0, 10)


def merge_date_rows(a: DateRows, b: DateRows) -> DateRows:
    if not a or not b:
        return a or b
    merged = dict(a)
    for day, rows in b:
        merged[day] = merged.get(day, 0) + rows
    return tuple(sorted(merged.items()))


def encode_runs(date_rows: DateRows) -> Runs:
    """Consecutive days share one run. Texts that are no calendar date ("2026-02-30") are left
    out: promotion cannot read them as dates either, so their rows count as undated."""
    runs: Runs = []
    previous = None
    for text, rows in date_rows:
        try:
            day = date.fromisoformat(text)
        except ValueError:
            continue
        if previous is not None and day - previous == timedelta(days=1):
            runs[-1].append(rows)
        else:
            runs.append([text, rows])
        previous = day
    return runs


def decode_runs(runs: Sequence[Sequence]) -> dict[str, int]:
    decoded = {}
    for first, *counts in runs:
        start = date.fromisoformat(first)
        for offset, rows in enumerate(counts):
            decoded[(start + timedelta(days=offset)).isoformat()] = rows
    return decoded


def index_event_dates(
    date_rows: Mapping[str, DateRows],
    event_field: str | None,
    to_partition: Callable[[str], str] | None = None,
) -> dict[str, Runs]:
    """What the index keeps of a file's dates: the rows per date of its event-time field (its
    name in the file's schema version). While the version cannot name it (a rename not yet
    approved), every date field is kept, since any of them may turn out to be the event time.
    With a pipeline's partitioner (`to_partition`), the rows per partition date instead: what
    the plan selects files by and Spark assigns rows to."""
    fields = [event_field] if event_field is not None else list(date_rows)
    return {
        name: encode_runs(
            by_partition(date_rows[name], to_partition) if to_partition else date_rows[name]
        )
        for name in fields
        if name in date_rows
    }


def by_partition(date_rows: DateRows, to_partition: Callable[[str], str]) -> DateRows:
    """Rows per partition date: the counts of the dates one partition takes, summed. A text that
    is no calendar date stays as it is: Spark reads no date from it either, so its rows go to
    the file's ingest date on both sides."""
    summed: dict[str, int] = {}
    for text, rows in date_rows:
        try:
            day = date.fromisoformat(text).isoformat()
        except ValueError:
            summed[text] = summed.get(text, 0) + rows
            continue
        day = to_partition(day)
        summed[day] = summed.get(day, 0) + rows
    return tuple(sorted(summed.items()))


def partition_rows(record: RawFile, event_field: str | None) -> dict[str, int]:
    """Rows of a raw file per event-date partition, as promotion assigns them: each row to its
    event date, and every row without a readable one (null, unreadable, no calendar date, a
    malformed line) to the file's ingest date, where promotion quarantines it. A file without
    rows feeds its ingest date with none."""
    rows = decode_runs(record.date_rows.get(event_field, ())) if event_field else {}
    undated = record.row_count + record.malformed_rows - sum(rows.values())
    if undated > 0 or not rows:
        rows[record.ingest_date] = rows.get(record.ingest_date, 0) + max(undated, 0)
    return rows
