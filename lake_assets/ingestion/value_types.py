"""What type a column's values read as, on the `field_types` lattice: arrow's own type, or
untyped text narrowed by detectors and patterns, and the dominant type that TYPE_CONFORMANCE of
the values conform to.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# A field keeps the narrowest type that at least this share of its non-null values conform to;
# the others are counted as outliers (and quarantined by promotion) instead of making one "N/A"
# among thousands of amounts turn the field into a string, which the registry would call BREAKING.
TYPE_CONFORMANCE = 0.95

_TEMPORAL_TYPES = frozenset({"date", "timestamp"})
_DATE = r"\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])"
_TIME = r"(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{1,9})?"
_ZONE = r"(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)"
# One pattern for both: an ISO date, optionally followed by a time, is a timestamp if it has one.
_TEMPORAL = rf"^{_DATE}(?:[T ]{_TIME}{_ZONE}?)?$"


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
