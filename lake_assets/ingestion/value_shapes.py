"""Shapes and dates of a column's values: the dominant shape ("9999-99-99"), which survives
renames and catches format drift, and the rows per event date of date and timestamp fields.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lake_assets.ingestion.event_dates import DateRows, count_days
from lake_assets.ingestion.value_sketches import _integers, _string_buffers

MAX_SHAPES = 64  # shapes kept per field; enough to find a dominant one without unbounded growth
_OFFSET = r"[+-]\d{2}:\d{2}$"  # "Z" needs no conversion: the written date is the UTC date


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
