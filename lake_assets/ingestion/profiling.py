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
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import asdict, dataclass, field
from functools import reduce
from itertools import repeat
from typing import IO, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.json as pj

from lake_assets.ingestion.event_dates import DateRows, count_days, merge_date_rows
from lake_assets.ingestion.payload_errors import csv_error_reason

SKETCH_SIZE = 128  # k of the bottom-k sketch: ~9% relative error on distinct counts above k
MAX_DATES = 400  # dates a field profile keeps for the registry; FileProfile.date_rows has all
MAX_SHAPES = 64  # shapes kept per field; enough to find a dominant one without unbounded growth
MAX_LINE_BYTES = 64 << 20  # a JSON line longer than this and the block: malformed, skipped
FALLBACK_ROWS = 10_000  # records converted per batch when pyarrow cannot read a block
ARROW_BLOCK_BYTES = 1 << 20  # pyarrow parses a block's 1 MiB sub-blocks on parallel threads
SAMPLE_BYTES = 64 << 10  # first lines parsed to learn which fields pyarrow reads as timestamps
# A field keeps the narrowest type that at least this share of its non-null values conform to;
# the others are counted as outliers (and quarantined by promotion) instead of making one "N/A"
# among thousands of amounts turn the field into a string, which the registry would call BREAKING.
TYPE_CONFORMANCE = 0.95
CSV_NULLS = ("", "NULL", "null")  # "NA" and "NaN" stay values: both are real codes in bank data

_TEMPORAL_TYPES = frozenset({"date", "timestamp"})
_DATE = r"\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])"
_TIME = r"(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{1,9})?"
_ZONE = r"(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)"
# One pattern for both: an ISO date, optionally followed by a time, is a timestamp if it has one.
_TEMPORAL = rf"^{_DATE}(?:[T ]{_TIME}{_ZONE}?)?$"
_OFFSET = r"[+-]\d{2}:\d{2}$"  # "Z" needs no conversion: the written date is the UTC date

Hint = Literal["typed", "text", "json"]
"""How to read a column: arrow's type is the value type ("typed"), untyped CSV text to narrow
("text"), or canonical JSON text of nested values ("json")."""


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

    def field_types(self) -> dict[str, str]:
        return {f.name: f.type for f in self.fields}

    def field(self, name: str) -> FieldProfile | None:
        return next((f for f in self.fields if f.name == name), None)


class MalformedPayload(Exception):
    """The payload cannot be profiled; `reason` says why, for the dead-letter record."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


# --- hashing and sketches ------------------------------------------------------------------------

# value_hash, spelled out so other runtimes can reproduce it. Split the text's n UTF-8 bytes into
# little-endian 64-bit words w_0..w_m (the last zero-padded); with MurmurHash3's finaliser fmix64,
#   h = fmix64((sum_j fmix64(w_j + j * S)  mod 2**64) ^ (n * S)),  S = 0x9E3779B97F4A7C15.
# Not blake2b: a sum of mixed words vectorises, so numpy hashes a whole column at once.
_SALT = np.uint64(0x9E3779B97F4A7C15)
_ALL_BITS = np.uint64(0xFFFFFFFFFFFFFFFF)
_HASH_SLICE_BYTES = 64 << 10  # slices whose temporaries stay in cache and off mmap (page faults)


def value_hash(text: str) -> int:
    """Stable 64-bit hash of a value's canonical text; the hash the value sketches hold."""
    return int(_hash_strings(pa.array([text], pa.string()))[0])


def jaccard_estimate(a: Sequence[int], b: Sequence[int]) -> float:
    """Jaccard similarity of two value sets from their bottom-k sketches.

    Among the union's k smallest hashes (k = the smaller sketch, unless a sketch is shorter than
    SKETCH_SIZE and so is its whole set), the fraction that both sketches hold.
    """
    sa, sb = set(a), set(b)
    if not sa or not sb:
        return 0.0
    sizes = [len(s) for s in (sa, sb) if len(s) >= SKETCH_SIZE]
    union = sorted(sa | sb)
    bottom = union[: min(sizes)] if sizes else union
    return sum(1 for h in bottom if h in sa and h in sb) / len(bottom)


def _distinct_estimate(sketch: tuple[int, ...]) -> int:
    """Exact while the sketch holds every value; else the KMV estimator (k - 1) / U_(k)."""
    if len(sketch) < SKETCH_SIZE:
        return len(sketch)
    return round((SKETCH_SIZE - 1) * 2.0**64 / (sketch[SKETCH_SIZE - 1] + 1))


def _merge_sketches(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(sorted(set(a) | set(b))[:SKETCH_SIZE])


def _bottom_k(hashes: np.ndarray) -> tuple[int, ...]:
    """The SKETCH_SIZE smallest distinct hashes."""
    take = SKETCH_SIZE
    while True:  # repeated values can crowd the smallest `take`: take more until k are distinct
        if hashes.size <= take:
            return tuple(int(h) for h in np.unique(hashes)[:SKETCH_SIZE])
        smallest = np.unique(np.partition(hashes, take - 1)[:take])
        if smallest.size >= SKETCH_SIZE:
            return tuple(int(h) for h in smallest[:SKETCH_SIZE])
        take *= 8


def _integers(values: pa.Array) -> np.ndarray:
    """A null-free integer array as numpy, zero-copy (Array.to_numpy first imports pandas)."""
    width = values.type.byte_width
    data = values.buffers()[1]
    return np.frombuffer(data, f"<i{width}", count=len(values), offset=values.offset * width)


def _string_buffers(texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, bytes) of a string array without copying; offsets index into the bytes."""
    _, offsets, data = texts.buffers()
    bounds = np.frombuffer(offsets, np.int32, count=len(texts) + 1, offset=texts.offset * 4)
    raw = np.frombuffer(data, np.uint8) if data is not None else np.empty(0, np.uint8)
    return bounds.astype(np.int64), raw


def _fmix64(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xFF51AFD7ED558CCD)
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xC4CEB9FE1A85EC53)
    return h ^ (h >> np.uint64(33))


def _hash_strings(texts: pa.Array) -> np.ndarray:
    """value_hash of every string of a (null-free) string array, as uint64."""
    offsets, data = _string_buffers(texts)
    bounds = np.searchsorted(
        offsets, np.arange(offsets[0], offsets[-1], _HASH_SLICE_BYTES), side="right"
    )
    cuts = np.unique(np.concatenate(([0], bounds - 1, [len(texts)])))
    sums = np.zeros(len(texts), np.uint64)
    for lo, hi in zip(cuts[:-1], cuts[1:], strict=True):
        sums[lo:hi] = _word_sums(offsets[lo : hi + 1], data)
    return _fmix64(sums ^ (np.diff(offsets).astype(np.uint64) * _SALT))


def _word_sums(offsets: np.ndarray, data: np.ndarray) -> np.ndarray:
    """sum_j fmix64(w_j + j * S) of each string between consecutive offsets."""
    lengths = np.diff(offsets)
    if lengths.size and (lengths == lengths[0]).all():
        return _fixed_word_sums(data[offsets[0] : offsets[-1]], int(lengths[0]), lengths.size)
    words = (lengths + 7) // 8
    sums = np.zeros(len(lengths), np.uint64)
    padded = np.zeros(offsets[-1] - offsets[0] + 8, np.uint8)  # the last word reads 8 bytes
    padded[:-8] = data[offsets[0] : offsets[-1]]
    # Every byte offset as the start of an unaligned 64-bit word, without copying.
    at_byte = np.ndarray((padded.size - 7,), dtype="<u8", buffer=padded, strides=(1,))
    first = np.cumsum(words) - words
    index = np.arange(first[-1] + words[-1]) - np.repeat(first, words)
    word = at_byte[np.repeat(offsets[:-1] - offsets[0], words) + 8 * index]
    left = np.minimum(np.repeat(lengths, words) - 8 * index, 8).astype(np.uint64)
    word &= _ALL_BITS >> (np.uint64(8) * (np.uint64(8) - left))  # drop the next string's bytes
    filled = words > 0  # reduceat would give empty strings their neighbour's first term
    sums[filled] = np.add.reduceat(_fmix64(word + index.astype(np.uint64) * _SALT), first[filled])
    return sums


def _fixed_word_sums(data: np.ndarray, length: int, count: int) -> np.ndarray:
    """_word_sums when every string has the same length (ids, codes, dates): a matrix of words."""
    width = (length + 7) // 8
    padded = np.zeros((count, width * 8), np.uint8)
    padded[:, :length] = data.reshape(count, length)
    salts = np.arange(width, dtype=np.uint64) * _SALT
    return _fmix64(padded.view("<u8") + salts).sum(axis=1, dtype=np.uint64)


# --- shapes and dates ----------------------------------------------------------------------------


def _shape_table() -> np.ndarray:
    table = np.arange(256, dtype=np.uint8)
    table[ord("0") : ord("9") + 1] = ord("9")
    table[ord("a") : ord("z") + 1] = ord("a")
    table[ord("A") : ord("Z") + 1] = ord("A")
    return table


_SHAPE_BYTES = _shape_table()


def _shapes(texts: pa.Array) -> pa.Array:
    """Each string's shape; ASCII by byte lookup, other text by Unicode classes (slower)."""
    offsets, data = _string_buffers(texts)
    used = data[offsets[0] : offsets[-1]]
    if used.size and used.max() >= 0x80:
        digits = pc.replace_substring_regex(texts, r"\p{Nd}", "9")
        lower = pc.replace_substring_regex(digits, r"[\p{Ll}\p{Lm}\p{Lo}]", "a")
        return pc.replace_substring_regex(lower, r"[\p{Lu}\p{Lt}]", "A")
    shaped = pa.py_buffer(np.take(_SHAPE_BYTES, data))  # faster than fancy indexing
    return pa.Array.from_buffers(
        pa.string(), len(texts), [None, texts.buffers()[1], shaped], offset=texts.offset
    )


def _top_shapes(texts: pa.Array, counts: pa.Array | None) -> tuple[tuple[str, int], ...]:
    """The commonest shapes, each text counted `counts` times (once if None)."""
    shapes = _shapes(texts)
    if (single := _single_shape(shapes)) is not None:  # ids, dates, timestamps: skip hashing
        return ((single, len(texts) if counts is None else int(_integers(counts).sum())),)
    encoded = pc.dictionary_encode(shapes)
    weights = None if counts is None else _integers(counts).astype(np.float64)
    totals = np.bincount(_integers(encoded.indices), weights, minlength=len(encoded.dictionary))
    top = np.argpartition(-totals, MAX_SHAPES)[:MAX_SHAPES] if totals.size > MAX_SHAPES else None
    top = np.argsort(-totals, kind="stable") if top is None else top[np.argsort(-totals[top])]
    return tuple((encoded.dictionary[int(i)].as_py(), int(totals[i])) for i in top)


def _single_shape(shapes: pa.Array) -> str | None:
    """The shape all share, found by comparing bytes; None if they differ."""
    offsets, data = _string_buffers(shapes)
    width = int(offsets[1] - offsets[0])
    if (np.diff(offsets) != width).any():
        return None
    rows = data[offsets[0] : offsets[-1]].reshape(len(shapes), width)
    return shapes[0].as_py() if (rows == rows[0]).all() else None


def _merge_shapes(
    a: tuple[tuple[str, int], ...], b: tuple[tuple[str, int], ...]
) -> tuple[tuple[str, int], ...]:
    counts = Counter(dict(a))
    counts.update(dict(b))
    return tuple(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_SHAPES])


def _dates(texts: pa.Array, counts: pa.Array | None) -> DateRows:
    """Rows per date of ISO date/timestamp texts (`counts` rows each, or one): the date as
    written, or in UTC when an offset is given.

    UTC because promotion partitions by the UTC event date, as Spark does in a UTC session.
    """
    weights = pa.array(np.ones(len(texts), np.int64)) if counts is None else counts
    offset = pc.match_substring_regex(texts, _OFFSET) if _any_offset(texts) else None
    return count_days(texts, weights, offset)


def _any_offset(texts: pa.Array) -> bool:
    """Whether an ISO text ends in ±HH:MM; a look at two bytes each, far cheaper than a pattern."""
    offsets, data = _string_buffers(texts)
    ends = offsets[1:][np.diff(offsets) >= 6]
    sign, colon = data[ends - 6], data[ends - 3]
    return bool((((sign == ord("+")) | (sign == ord("-"))) & (colon == ord(":"))).any())


# --- types ---------------------------------------------------------------------------------------

Detector = Callable[[pa.Array], "pa.Array | None"]
"""A narrowing of untyped text: the values as that type if every one is, else None."""


def _cast_detector(target: pa.DataType) -> Detector:
    def detect(values: pa.Array) -> pa.Array | None:
        try:
            return pc.cast(values, target)
        except pa.ArrowInvalid:
            return None

    return detect


# Narrowest first: "1" is an integer before it is a double or a boolean.
_NUMBER_DETECTORS: tuple[Detector, ...] = tuple(
    _cast_detector(t) for t in (pa.int64(), pa.float64())
)
_OTHER_DETECTORS: tuple[Detector, ...] = tuple(_cast_detector(t) for t in (pa.bool_(), pa.date32()))
# A leading "+" or zero marks an identifier written in digits (a phone number, an account or
# IC number, a postcode): as a number it would lose that character, so it stays text.
_IDENTIFIER_DIGITS = r"^(?:\+|-?0\d)"


def _narrowest(values: pa.Array) -> pa.Array:
    detectors = _OTHER_DETECTORS
    if not pc.any(pc.match_substring_regex(values, _IDENTIFIER_DIGITS)).as_py():
        detectors = _NUMBER_DETECTORS + detectors
    return next((typed for typed in (d(values) for d in detectors) if typed is not None), values)


_ARROW_TYPES: tuple[tuple[Callable[[pa.DataType], bool], str], ...] = (
    (pa.types.is_boolean, "boolean"),
    (pa.types.is_integer, "integer"),
    (pa.types.is_floating, "double"),
    (pa.types.is_decimal, "double"),
    (pa.types.is_date, "date"),
    (pa.types.is_timestamp, "timestamp"),
    (pa.types.is_nested, "json"),
)


def _is_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def _text_type(texts: pa.Array) -> str:
    """date if every value is an ISO date, timestamp if each is a date or timestamp, else string.

    A mix of dates and timestamps is a timestamp: the lattice widens date to timestamp.
    """
    if not pc.all(pc.match_substring_regex(texts, _TEMPORAL)).as_py():
        return "string"
    return "timestamp" if pc.max(pc.utf8_length(texts)).as_py() > 10 else "date"


def _value_type(t: pa.DataType, texts: pa.Array, known: str | None) -> str:
    if _is_text(t):
        # Once a field is something else, text can only make it a string: skip the regex.
        return _text_type(texts) if known in (None, *_TEMPORAL_TYPES) else "string"
    return next((name for test, name in _ARROW_TYPES if test(t)), "string")


def _json_text(value: object) -> str:
    """Canonical text of a nested value: compact, sorted keys, so equal values hash equal."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _canonical_text(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    t = values.type
    if pa.types.is_string(t):
        return values
    if pa.types.is_nested(t):
        return pa.array([_json_text(v) for v in values.to_pylist()], pa.string())
    return pc.cast(values, pa.string())


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


# What a text value reads as, narrowest first; a value takes the first pattern it matches.
_TEXT_PATTERNS = (
    ("integer", r"^-?(?:0|[1-9]\d*)$"),  # no "+" or leading zero: see _IDENTIFIER_DIGITS
    ("double", r"^-?(?:(?:0|[1-9]\d*)(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$"),
    ("boolean", r"^(?:true|false|TRUE|FALSE|True|False)$"),
    ("date", rf"^{_DATE}$"),
    ("timestamp", _TEMPORAL),
)


def _text_type_counts(
    texts: pa.Array, counts: pa.Array | None
) -> tuple[tuple[tuple[str, int], ...], tuple[pa.Array, pa.Array | None]]:
    """How many values of a text column read as each type, and its temporal values with their
    counts (for dates).

    Only for columns whose values do not all read as one type, so the regexes run rarely.
    """
    weights = np.ones(len(texts), np.int64) if counts is None else counts.to_numpy()
    unassigned = np.ones(len(texts), bool)
    found: dict[str, int] = {}
    temporal = np.zeros(len(texts), bool)
    for kind, pattern in _TEXT_PATTERNS:
        matches = pc.match_substring_regex(texts, pattern).to_numpy(zero_copy_only=False)
        if kind in _TEMPORAL_TYPES:
            temporal |= matches
        hit = matches & unassigned
        if hit.any():
            found[kind] = int(weights[hit].sum())
            unassigned &= ~hit
    if unassigned.any():
        found["string"] = int(weights[unassigned].sum())
    keep = pa.array(temporal)
    return tuple(sorted(found.items())), (
        pc.filter(texts, keep),
        None if counts is None else pc.filter(counts, keep),
    )


# Each type with the narrower types it promotes from, in the order a field's type is chosen.
_CONFORMING = (
    ("boolean", ("boolean",)),
    ("integer", ("integer",)),
    ("double", ("integer", "double")),
    ("date", ("date",)),
    ("timestamp", ("date", "timestamp")),
    ("json", ("json",)),
)


def conforming(type_counts: Iterable[tuple[str, int]], kind: str) -> int:
    """How many of the counted values can be read as `kind`."""
    accepted = dict(_CONFORMING).get(kind, ())
    return sum(n for k, n in type_counts if k in accepted or kind == "string")


def dominant_type(type_counts: tuple[tuple[str, int], ...]) -> str | None:
    """The narrowest type that TYPE_CONFORMANCE of the values read as; else string."""
    total = sum(n for _, n in type_counts)
    if not total:
        return None
    for kind, _ in _CONFORMING:
        if conforming(type_counts, kind) >= TYPE_CONFORMANCE * total:
            return kind
    return "string"


_Column = tuple[str, "pa.Array | pa.ChunkedArray", Hint]  # a name may repeat within a batch


@dataclass(frozen=True)
class _Batch:
    rows: int
    columns: list[_Column]


@dataclass(frozen=True)
class _BadRecord:
    where: str  # "line 12" or "element 3"
    reason: str


_Event = _Batch | _BadRecord


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
    dated = {p.name: fields[p.name].dates for p in profiles if p.type in _TEMPORAL_TYPES}
    return FileProfile(fmt, rows, bad, profiles, dated)


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


# --- arrow batches -------------------------------------------------------------------------------


def _leaves(
    name: str, column: pa.Array | pa.ChunkedArray
) -> Iterator[tuple[str, pa.Array | pa.ChunkedArray]]:
    """Struct columns as dotted leaf columns; a parent's nulls carry into its children."""
    t = column.type
    if pa.types.is_struct(t) and t.num_fields:
        for child, field in zip(column.flatten(), t, strict=True):
            yield from _leaves(f"{name}.{field.name}", child)
    else:
        yield name, column


def _table_batch(table: pa.Table | pa.RecordBatch, hint: Hint) -> _Batch:
    columns = [
        (leaf, values, hint)
        for name, column in zip(table.column_names, table.columns, strict=True)
        for leaf, values in _leaves(name, column)
    ]
    return _Batch(table.num_rows, columns)


# --- Python records (fallback and JSON arrays) ---------------------------------------------------


def _flat(record: dict) -> Iterator[tuple[str, object]]:
    """Dotted leaves of a parsed record; iterative, since json.loads nests up to ~1000 deep."""
    stack = [("", record)]
    while stack:
        prefix, obj = stack.pop()
        for key, value in obj.items():
            if isinstance(value, dict) and value:
                stack.append((f"{prefix}{key}.", value))
            else:
                yield f"{prefix}{key}", value


def _python_arrays(values: list) -> Iterator[tuple[pa.Array, Hint]]:
    """A column of parsed JSON values as one arrow array per JSON type present."""
    groups: dict[str, list] = {}
    for value in values:
        if value is not None:
            kind, plain = _json_value(value)
            groups.setdefault(kind, []).append(plain)
    if not groups:
        yield pa.nulls(0), "typed"  # the field exists, with nulls only
    for kind, group in groups.items():
        if kind == "json":
            yield pa.array(group, pa.string()), "json"
        elif kind == "string":
            yield _utf8_array(group), "typed"
        else:
            yield pa.array(group, _PYTHON_TYPES[kind]), "typed"


_PYTHON_TYPES = {"boolean": pa.bool_(), "integer": pa.int64(), "double": pa.float64()}
_INT64 = (-(2**63), 2**63 - 1)


def _json_value(value: object) -> tuple[str, object]:
    """A parsed JSON value's kind, and the value as that kind's arrow array takes it."""
    if isinstance(value, bool):
        return "boolean", value
    if isinstance(value, int):
        if _INT64[0] <= value <= _INT64[1]:
            return "integer", value
        try:
            return "double", float(value)  # as pyarrow reads integers beyond int64
        except OverflowError:
            return "string", str(value)
    if isinstance(value, float):
        return "double", value
    if isinstance(value, str):
        return "string", value
    return "json", _json_text(value)


def _utf8_array(texts: list[str]) -> pa.Array:
    try:
        return pa.array(texts, pa.string())
    except UnicodeEncodeError:  # lone surrogates from "\ud800" escapes
        return pa.array([t.encode("utf-8", "replace").decode("utf-8") for t in texts], pa.string())


def _records_batch(records: list[dict]) -> _Batch:
    columns: dict[str, list] = {}
    for record in records:
        for name, value in _flat(record):
            columns.setdefault(name, []).append(value)
    return _Batch(
        len(records),
        [(name, a, hint) for name, vals in columns.items() for a, hint in _python_arrays(vals)],
    )


def _clip(reason: str, limit: int = 300) -> str:
    """Reasons quote the payload; a dead-letter record needs the gist, not the bytes."""
    return reason if len(reason) <= limit else f"{reason[:limit]}..."


def _json_error(error: Exception) -> str:
    """Where and why, never the text: reasons reach alerts (json's messages quote nothing)."""
    if isinstance(error, json.JSONDecodeError):
        return f"{error.msg} at column {error.colno}"
    if isinstance(error, UnicodeDecodeError):
        return f"not valid UTF-8 at byte {error.start + 1}"
    return type(error).__name__


def _records_events(items: Iterable[tuple[str, object] | _BadRecord]) -> Iterator[_Event]:
    """Batches of the objects among parsed (position, value) pairs; anything else is bad."""
    batch: list[dict] = []
    for item in items:
        if isinstance(item, _BadRecord):
            yield item
        elif not isinstance(item[1], dict):
            yield _BadRecord(item[0], f"expected a JSON object, got {type(item[1]).__name__}")
        else:
            batch.append(item[1])
            if len(batch) == FALLBACK_ROWS:
                yield _records_batch(batch)
                batch = []
    if batch:
        yield _records_batch(batch)


def _parsed_lines(chunk: memoryview, first_line: int) -> Iterator[tuple[str, object] | _BadRecord]:
    for number, line in enumerate(bytes(chunk).split(b"\n"), start=first_line):
        if line.strip():
            try:
                yield f"line {number}", json.loads(line)
            except (ValueError, RecursionError) as error:  # UnicodeDecodeError is a ValueError
                yield _BadRecord(f"line {number}", _clip(_json_error(error)))


# --- JSON lines ----------------------------------------------------------------------------------


def _pin(t: pa.DataType) -> pa.DataType | None:
    """The type that stops pyarrow reading ISO text as timestamps; None if `t` has none.

    pyarrow infers "2026-03-02" and "2026-03-02T10:00:00+02:00" alike as timestamp[s], losing
    both the date/timestamp distinction and the text the sketches hash. Pinned to string, such
    fields are typed by the same pattern as text from every other path.
    """
    if pa.types.is_timestamp(t):
        return pa.string()
    if pa.types.is_struct(t):
        kids = [pa.field(f.name, p) for f in t if (p := _pin(f.type)) is not None]
        return pa.struct(kids) if kids else None
    if pa.types.is_list(t):
        item = _pin(t.value_type)
        return None if item is None else pa.list_(item)
    return None


def _child(t: pa.StructType, name: str) -> pa.DataType | None:
    return t.field(name).type if t.get_field_index(name) >= 0 else None


def _merge_pins(a: pa.DataType | None, b: pa.DataType | None) -> pa.DataType | None:
    if a is None or a == b:
        return b
    if b is None:
        return a
    if pa.types.is_struct(a) and pa.types.is_struct(b):
        names = dict.fromkeys([f.name for f in a] + [f.name for f in b])
        return pa.struct([(n, _merge_pins(_child(a, n), _child(b, n))) for n in names])
    if pa.types.is_list(a) and pa.types.is_list(b):
        return pa.list_(_merge_pins(a.value_type, b.value_type))
    return b


def _parse_json(chunk: bytes | memoryview, pins: pa.StructType | None) -> pa.Table:
    options = pj.ParseOptions(
        newlines_in_values=False,
        explicit_schema=None if pins is None else pa.schema(list(pins)),
        unexpected_field_behavior="infer",  # pins name a few fields; the rest are inferred
    )
    read = pj.ReadOptions(block_size=ARROW_BLOCK_BYTES)
    return pj.read_json(
        pa.BufferReader(pa.py_buffer(chunk)), read_options=read, parse_options=options
    )


def _read_chunk(
    chunk: memoryview, pins: pa.StructType | None
) -> tuple[pa.Table, pa.StructType | None]:
    """The chunk as a table with no inferred timestamps, and the pins that achieved it."""
    if pins is None:  # pins found in the first lines spare most chunks a second parse
        pins = _sample_pins(chunk)
    table = _parse_json(chunk, pins)
    wider = _merge_pins(pins, _pin(pa.struct(list(table.schema))))
    if wider != pins:
        table, pins = _parse_json(chunk, wider), wider
    table.validate(full=True)  # pyarrow's JSON reader leaves invalid UTF-8 in place
    return table, pins


def _sample_pins(chunk: memoryview) -> pa.StructType | None:
    head = bytes(chunk[:SAMPLE_BYTES])
    head = head[: head.rfind(b"\n") + 1]
    try:
        return _pin(pa.struct(list(_parse_json(head, None).schema))) if head else None
    except pa.ArrowException:  # the full parse will meet the same problem and say so
        return None


_LEADING_NULL = re.compile(rb"[ \t\r\n]*null")


def _arrow_batch(
    chunk: memoryview, pins: pa.StructType | None
) -> tuple[_Batch | None, pa.StructType | None]:
    """The chunk as read by pyarrow, or None where pyarrow cannot read it or be trusted to."""
    if _LEADING_NULL.match(chunk):  # pyarrow 26 segfaults when the first row is `null`
        return None, pins
    try:
        table, pins = _read_chunk(chunk, pins)
        batch = _table_batch(table, "typed")
    except (pa.ArrowException, UnicodeDecodeError):  # the latter from invalid UTF-8 keys
        return None, pins
    return (None if _has_empty_row(table) else batch), pins


def _has_empty_row(table: pa.Table) -> bool:
    """Whether a row holds no value: pyarrow reads a `null` line, not an object, as such a row."""
    if table.num_columns == 0:
        return table.num_rows > 0
    filled = reduce(pc.or_, (pc.is_valid(column) for column in table.columns))
    return not pc.all(filled).as_py()


def _line_chunks(fh: IO[bytes], block_size: int) -> Iterator[tuple[int, memoryview | None]]:
    """(first line number, whole lines) about block_size at a time; None for an over-long line.

    Zero-copy: a chunk is a view of the block read, and the partial line after its last newline
    is read again with the next block rather than copied into it.
    """
    number = 1
    while block := fh.read(block_size):
        cut = block.rfind(b"\n") + 1
        if cut:
            fh.seek(cut - len(block), os.SEEK_CUR)
        else:
            block = _rest_of_line(fh, block, block_size)
            cut = len(block)
        yield number, memoryview(block)[:cut] if cut else None
        number += block.count(b"\n", 0, cut) if cut else 1


def _rest_of_line(fh: IO[bytes], head: bytes, block_size: int) -> bytes:
    """A line longer than a block, read to its end; b"" (the line skipped) past MAX_LINE_BYTES."""
    parts, size = [head], len(head)
    while block := fh.read(block_size):
        end = block.find(b"\n") + 1
        if end:
            fh.seek(end - len(block), os.SEEK_CUR)
            block = block[:end]
        size += len(block)
        if size <= MAX_LINE_BYTES:
            parts.append(block)
        else:
            parts.clear()  # no buffering once too long
        if end:
            break
    return b"".join(parts)


def _json_lines_events(fh: IO[bytes], block_size: int) -> Iterator[_Event]:
    # Not pyarrow.json.open_json: its streaming reader fixes the schema from the first block and
    # fails on a later block with a new field or a widened type, which is the drift we profile.
    # Each chunk is read whole by read_json instead; chunks are bounded, so memory still is.
    pins = None
    for first_line, chunk in _line_chunks(fh, block_size):
        if chunk is None:
            yield _BadRecord(f"line {first_line}", f"longer than {MAX_LINE_BYTES} bytes")
            continue
        batch, pins = _arrow_batch(chunk, pins)
        if batch is None:
            # pyarrow rejects a whole chunk for one bad line or one field changing JSON type;
            # json.loads finds the bad lines and keeps the good ones.
            yield from _records_events(_parsed_lines(chunk, first_line))
        else:
            yield batch


# --- JSON array ----------------------------------------------------------------------------------


def _json_array_events(fh: IO[bytes]) -> Iterator[_Event]:
    # A JSON array is one document, so it is parsed whole and its memory grows with the file:
    # only max_bytes bounds it. Large feeds should send JSON lines, which stream.
    try:
        document = json.loads(fh.read())
    except json.JSONDecodeError as error:
        where = f"line {error.lineno}: {error.msg} at column {error.colno}"
        raise MalformedPayload(f"not valid JSON: {where}") from error
    except (ValueError, RecursionError) as error:
        raise MalformedPayload(f"not valid JSON: {_json_error(error)}") from error
    yield from _records_events((f"element {i}", value) for i, value in enumerate(document))


# --- CSV -----------------------------------------------------------------------------------------


def _csv_events(path: str, block_size: int) -> Iterator[_Event]:
    read = pcsv.ReadOptions(block_size=block_size)
    # Exports quote multi-line memos and addresses; allowing that costs pyarrow some parallelism.
    parse = pcsv.ParseOptions(newlines_in_values=True)
    try:
        with pcsv.open_csv(path, read_options=read, parse_options=parse) as header:
            names = header.schema.names
        # All text, typed per block by _TEXT_DETECTORS: pyarrow would fix each column's type
        # from the first block and fail on a later block that widens it.
        convert = pcsv.ConvertOptions(
            column_types={name: pa.string() for name in names},
            strings_can_be_null=True,
            null_values=list(CSV_NULLS),
        )
        with pcsv.open_csv(
            path, read_options=read, parse_options=parse, convert_options=convert
        ) as reader:
            yield _Batch(0, [(name, pa.nulls(0, pa.string()), "text") for name in names])
            for batch in reader:
                yield _table_batch(batch, "text")
    except (pa.ArrowException, UnicodeDecodeError) as error:  # the latter from the header
        raise MalformedPayload(f"not valid CSV: {csv_error_reason(path, error)}") from error


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
) -> FileProfile:
    """Profile one payload ("json": lines or an array of objects; "csv": with a header row).

    Raises MalformedPayload, with its reason, for a payload that cannot be profiled.
    """
    if fmt not in ("json", "csv"):
        raise ValueError(f"unknown payload format {fmt!r}")
    size = os.path.getsize(path)
    if max_bytes is not None and size > max_bytes:
        raise MalformedPayload(f"payload is {size} bytes, over the {max_bytes}-byte limit")
    with open(path, "rb") as fh:
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
