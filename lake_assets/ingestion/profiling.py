"""Profiling on arrival: one raw payload in, the shape of its fields out. No Dagster, no Spark.

A payload is read in bounded blocks and folded into one accumulator per field, so memory follows
the block size, not the file size. Every block is profiled with vectorised pyarrow/numpy kernels;
Python only touches individual values when pyarrow cannot read a block (malformed lines, fields
whose JSON type flips inside a block), on the JSON-array path, and to write lists as JSON text.

What a field profile holds and why:
- the type, on the field type lattice (tables/types.py), widened across blocks rather than failing on drift;
- null and distinct counts, and a bottom-k sketch of value hashes, so the registry can tell a
  renamed field from a new one by value overlap (`jaccard_estimate`);
- the dominant value shape ("9999-99-99"), which survives renames and catches format drift;
- for date and timestamp fields, the event dates present, so promotion knows which partitions
  a file feeds.

Where the parts live: payload_formats.py reads JSON lines, a JSON array or CSV into the batches
of payload_batches.py; value_types.py, value_sketches.py and value_shapes.py profile one batch
of one field; this module folds them into a FileProfile.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Generator, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import asdict, dataclass, field
from itertools import repeat
from typing import IO

import pyarrow as pa
import pyarrow.compute as pc

from lake_assets.ingestion.curated_columns import column_clashes
from lake_assets.ingestion.event_dates import DateRows, merge_date_rows
from lake_assets.ingestion.payload_batches import Hint, _BadRecord, _Column, _Event
from lake_assets.ingestion.payload_errors import MalformedPayload
from lake_assets.ingestion.payload_formats import (
    _csv_events,
    _custom_events,
    _json_array_events,
    _json_lines_events,
)
from lake_assets.ingestion.value_shapes import _dates, _merge_shapes, _top_shapes
from lake_assets.ingestion.value_sketches import (
    _bottom_k,
    _distinct_estimate,
    _hash_strings,
    _merge_sketches,
)
from lake_assets.ingestion.value_types import (
    _TEMPORAL_TYPES,
    _canonical_text,
    _is_text,
    _narrowest,
    _text_type_counts,
    _value_type,
    conforming,
    dominant_type,
)

MAX_DATES = 400  # dates a field profile keeps for the registry; FileProfile.date_rows has all


# --- records -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldProfile:
    name: str  # nested objects flattened to dotted paths: "merchant.name"
    type: str  # one of tables.types.FIELD_TYPES
    row_count: int
    null_count: int  # null, or key missing in that record
    distinct_estimate: int  # exact below SKETCH_SIZE distinct values, KMV estimate above
    format_signature: str  # dominant shape: digits -> "9", letters -> "a"/"A", others kept
    format_share: float  # fraction of non-null values with that shape
    value_sketch: tuple[int, ...]  # the SKETCH_SIZE smallest value_hash()es, ascending
    dates: tuple[str, ...]  # date/timestamp fields: sorted distinct ISO dates (UTC if zoned)
    type_outliers: int = 0  # non-null values that do not conform to `type` (see TYPE_CONFORMANCE)

    @property
    def has_values(self) -> bool:
        """Whether any record holds a value for the field: only values are type evidence."""
        return self.null_count < self.row_count

    def to_dict(self) -> dict:
        data = asdict(self)
        data["value_sketch"] = list(self.value_sketch)
        data["dates"] = list(self.dates)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> FieldProfile:
        return cls(
            **{
                **data,
                "value_sketch": tuple(int(h) for h in data.get("value_sketch", ())),
                "dates": tuple(data.get("dates", ())),
            }
        )


@dataclass(frozen=True)
class FileProfile:
    format: str  # "json" or "csv"
    row_count: int  # rows successfully parsed
    malformed_rows: int  # JSON lines (or array elements) that were not objects
    fields: tuple[FieldProfile, ...]  # sorted by name
    # Date and timestamp fields: rows per date, every date (what the raw-file index keeps).
    date_rows: dict[str, DateRows] = field(default_factory=dict)
    # Fields read under keys their dotted name does not tell (payload_batches.dotted_key_path):
    # name -> each sequence of keys it was found under, for promotion to read it by (ADR-0186).
    key_paths: dict[str, list[list[str]]] = field(default_factory=dict)

    def field_types(self) -> dict[str, str]:
        return {f.name: f.type for f in self.fields}

    def field(self, name: str) -> FieldProfile | None:
        return next((f for f in self.fields if f.name == name), None)


# --- accumulation --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Partial:
    """What a field's values seen so far say; `_merge` folds two of them, in either order."""

    non_null: int = 0
    type: str | None = None  # the dominant type so far; None until a non-null value is seen
    type_counts: tuple[tuple[str, int], ...] = ()  # non-null values per type they read as
    sketch: tuple[int, ...] = ()
    shapes: tuple[tuple[str, int], ...] = ()
    dates: DateRows = ()
    dense: bool = False  # the latest batch's values were mostly distinct: a hint, not a result,
    # and the one part whose merge depends on order


_EMPTY = _Partial()


def _merge(a: _Partial, b: _Partial) -> _Partial:
    counts = Counter(dict(a.type_counts))
    counts.update(dict(b.type_counts))
    type_counts = tuple(sorted(counts.items()))
    return _Partial(
        non_null=a.non_null + b.non_null,
        type=dominant_type(type_counts),
        type_counts=type_counts,
        sketch=_merge_sketches(a.sketch, b.sketch),
        shapes=_merge_shapes(a.shapes, b.shapes),
        dates=merge_date_rows(a.dates, b.dates),
        dense=b.dense if b.type else a.dense,
    )


def _observe(column: pa.Array | pa.ChunkedArray, hint: Hint, seen: _Partial) -> _Partial:
    """Profile one batch of one field; `seen` is the field so far, to skip needless work."""
    values = column.drop_null()
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()  # kernels run ~3x faster on one contiguous array
    if len(values) == 0:
        return _EMPTY
    if hint == "text" and seen.type != "string":
        values = _narrowest(values)
    if seen.dense:  # counting repeats would cost more than it saves: treat each value alike
        texts, counts = _canonical_text(values), None
    else:  # counted before they become text: numbers hash faster, and fewer are formatted
        counted = pc.value_counts(
            _canonical_text(values) if pa.types.is_nested(values.type) else values
        )
        texts, counts = _canonical_text(counted.field("values")), counted.field("counts")
    kind = "json" if hint == "json" else _value_type(values.type, texts, seen.type)
    type_counts = ((kind, len(values)),)
    temporal = (texts, counts) if kind in _TEMPORAL_TYPES else None
    if kind == "string" and _is_text(values.type) and seen.type != "string":
        type_counts, temporal = _text_type_counts(texts, counts)
    sketch = _bottom_k(_hash_strings(texts))
    distinct = _distinct_estimate(sketch) if counts is None else len(texts)
    return _Partial(
        non_null=len(values),
        type=dominant_type(type_counts),
        type_counts=type_counts,
        sketch=sketch,
        shapes=_top_shapes(texts, counts),
        dates=_dates(*temporal) if temporal is not None and len(temporal[0]) else (),
        dense=distinct > len(values) // 2,
    )


def _field_profile(name: str, acc: _Partial, rows: int) -> FieldProfile:
    kind = acc.type or "string"
    shape, count = acc.shapes[0] if acc.shapes else ("", 0)
    return FieldProfile(
        name=name,
        type=kind,
        row_count=rows,
        null_count=max(rows - acc.non_null, 0),
        distinct_estimate=_distinct_estimate(acc.sketch),
        format_signature=shape,
        format_share=count / acc.non_null if acc.non_null else 0.0,
        value_sketch=acc.sketch,
        dates=tuple(day for day, _ in acc.dates[:MAX_DATES]) if kind in _TEMPORAL_TYPES else (),
        type_outliers=acc.non_null - conforming(acc.type_counts, kind),
    )


def _is_placeholder(name: str, acc: _Partial, names: Iterable[str]) -> bool:
    """An object that was only ever null in some block, while its children show elsewhere."""
    return acc.type is None and any(other.startswith(f"{name}.") for other in names)


def _observe_column(column: _Column, seen: dict[str, _Partial]) -> _Partial:
    name, values, hint = column
    return _observe(values, hint, seen[name])


def _fold(fmt: str, events: Generator[_Event, None, None]) -> FileProfile:
    fields: dict[str, _Partial] = {}
    key_paths: set[tuple[str, ...]] = set()
    rows, bad, first_bad = 0, 0, None
    # Fields of a batch are observed in parallel and the next batch is parsed meanwhile:
    # pyarrow and numpy release the GIL, and read_json, the yardstick, uses every core too.
    with ThreadPoolExecutor(os.cpu_count()) as pool, closing(_read_ahead(events)) as stream:
        for event in stream:
            if isinstance(event, _BadRecord):
                bad += 1
                first_bad = first_bad or f"{event.where}: {event.reason}"
                continue
            rows += event.rows
            key_paths |= event.key_paths
            seen = {name: fields.get(name, _EMPTY) for name, _, _ in event.columns}
            observed = pool.map(_observe_column, event.columns, repeat(seen))
            for (name, _, _), partial in zip(event.columns, observed, strict=True):
                fields[name] = _merge(fields.get(name, _EMPTY), partial)
    if rows == 0 and bad:
        raise MalformedPayload(f"not valid JSON: {first_bad}")
    if fmt == "json" and rows == 0:
        raise MalformedPayload("empty payload: no JSON records")
    profiles = tuple(
        _field_profile(name, acc, rows)
        for name, acc in sorted(fields.items())
        if not _is_placeholder(name, acc, fields)
    )
    if clashes := column_clashes(p.name for p in profiles):
        # Spark would fail the promotion, or silently publish one value for both (ADR-0186).
        raise MalformedPayload(f"fields the lake cannot publish: {'; '.join(clashes)}")
    dated = {p.name: fields[p.name].dates for p in profiles if p.type in _TEMPORAL_TYPES}
    paths: dict[str, list[list[str]]] = {}
    for path in sorted(key_paths):
        paths.setdefault(".".join(path), []).append(list(path))
    return FileProfile(fmt, rows, bad, profiles, dated, paths)


def _read_ahead(events: Generator[_Event, None, None]) -> Iterator[_Event]:
    """The same events, each produced on another thread while the previous one is consumed."""
    # Exits in reverse: the read in flight finishes, then the source closes its payload.
    with closing(events), ThreadPoolExecutor(1) as reader:
        pending = reader.submit(next, events, None)
        try:
            while (event := pending.result()) is not None:
                pending = reader.submit(next, events, None)
                yield event
        finally:
            pending.cancel()  # one already running is awaited before the payload is closed


# --- entry point ---------------------------------------------------------------------------------

_BOM = b"\xef\xbb\xbf"


def _payload_start(fh: IO[bytes], block_size: int) -> tuple[int, bytes | None]:
    """Offset past a UTF-8 BOM, and the first non-whitespace byte (None if there is none)."""
    start = len(_BOM) if fh.read(len(_BOM)) == _BOM else 0
    fh.seek(start)
    while block := fh.read(block_size):
        if text := block.lstrip():
            return start, text[:1]
    return start, None


def profile_file(
    path: str | os.PathLike,
    fmt: str,
    *,
    max_bytes: int | None = None,
    block_size: int = 16 << 20,
    reader=None,
    encoding: str = "UTF-8",
) -> FileProfile:
    """Profile one payload ("json": lines or an array of objects; "csv": with a header row;
    "custom": the records `reader(bytes as delivered, encoding)` returns).

    Raises MalformedPayload, with its reason, for a payload that cannot be profiled.
    """
    if fmt not in ("json", "csv", "custom") or (fmt == "custom") != (reader is not None):
        raise ValueError(f"unknown payload format {fmt!r} (custom goes with a reader)")
    size = os.path.getsize(path)
    if max_bytes is not None and size > max_bytes:
        raise MalformedPayload(f"payload is {size} bytes, over the {max_bytes}-byte limit")
    with open(path, "rb") as fh:
        if reader is not None:
            return _fold(fmt, _custom_events(fh, encoding, reader))
        start, first = _payload_start(fh, block_size)
        if first is None:
            raise MalformedPayload("empty payload")
        fh.seek(start)
        if fmt == "csv":
            events = _csv_events(os.fspath(path), block_size)
        elif first == b"[":
            events = _json_array_events(fh)
        else:
            events = _json_lines_events(fh, block_size)
        return _fold(fmt, events)
