"""What a column's values say about it, measured on a deterministic sample: cardinality ratio,
Shannon entropy, null ratio, lengths and character classes, and the share of values in each
format of `formats.DETECTORS` (and, in prose, the share of rows holding an embedded format).

`sample_table` draws the sample from record batches in one pass without holding more than the
sample and one batch: each row's key is a seeded hash of its position, and the sample is the
rows with the `size` smallest keys (a bottom-k reservoir), so the same partition always gives
the same sample. A `ColumnProfile` serialises to JSON: it is the column's baseline for drift.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lake_assets.classification.formats import DETECTORS, EMBEDDED, format_name, mykad

# Prose is looked into for embedded formats: most values have five words or more.
PROSE_SHARE = 0.5
# So is a text column holding JSON: nearly all its values parse as an array or an object (a
# day's odd plain value does not turn it back into opaque text and make it drift).
JSON_SHARE = 0.9


def sample_table(source: pa.Table | Iterable[pa.RecordBatch], size: int, seed: int = 0) -> pa.Table:
    """Up to `size` rows of `source`, the same rows for the same source and seed, in their
    original order. Memory holds the sample and one batch, however many rows `source` has."""
    batches = source.to_batches() if isinstance(source, pa.Table) else source
    kept: pa.Table | None = None
    keys = np.empty(0, dtype=np.uint64)
    positions = np.empty(0, dtype=np.int64)
    start = 0
    for batch in batches:
        position = np.arange(start, start + batch.num_rows, dtype=np.int64)
        start += batch.num_rows
        batch_keys = _row_keys(position, seed)
        if len(keys) >= size:  # only rows that beat the current k-th smallest key can enter
            entering = batch_keys < keys.max()
            batch, batch_keys, position = (
                batch.filter(pa.array(entering)),
                batch_keys[entering],
                position[entering],
            )
        table = pa.Table.from_batches([batch])
        kept = table if kept is None else pa.concat_tables([kept, table]).combine_chunks()
        keys, positions = np.concatenate([keys, batch_keys]), np.concatenate([positions, position])
        if len(keys) > size:
            best = np.argpartition(keys, size - 1)[:size]
            best.sort()  # keeps the rows in their original order
            kept, keys, positions = kept.take(pa.array(best)), keys[best], positions[best]
    if kept is None:  # an empty partition samples to an empty table of its schema
        if isinstance(source, pa.Table):
            return source.slice(0, 0)
        raise ValueError("nothing to sample: the source has no record batches")
    return kept.take(pa.array(np.argsort(positions, kind="stable")))


def _row_keys(position: np.ndarray, seed: int) -> np.ndarray:
    """splitmix64 of (seed, position): uniform, independent of the batch boundaries."""
    with np.errstate(over="ignore"):
        z = position.astype(np.uint64) + np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


@dataclass(frozen=True)
class ColumnProfile:
    column: str
    arrow_type: str
    rows: int  # rows sampled
    null_ratio: float
    distinct: int
    cardinality_ratio: float  # distinct / non-null
    entropy: float  # Shannon entropy of the value distribution, in bits
    normalised_entropy: float  # entropy / log2(non-null): 0 a constant, 1 all distinct
    length_mean: float
    length_max: int
    # Share of characters that are digits, letters, whitespace, anything else.
    char_classes: dict[str, float] = field(default_factory=dict)
    # Detector -> share of non-null values in its format (shape and every check).
    format_shares: dict[str, float] = field(default_factory=dict)
    # Detector -> share with its shape; "detector.check" -> share of the shaped failing a check.
    shape_shares: dict[str, float] = field(default_factory=dict)
    check_failures: dict[str, float] = field(default_factory=dict)
    # Text only: detector -> share of non-null values holding the format somewhere inside.
    embedded_shares: dict[str, float] = field(default_factory=dict)

    @property
    def non_null(self) -> int:
        return round(self.rows * (1 - self.null_ratio))

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, body: dict) -> ColumnProfile:
        return cls(**body)


def profile_column(name: str, column: pa.Array | pa.ChunkedArray) -> ColumnProfile:
    """The signals of one sampled column."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    rows, non_null = len(column), len(column) - column.null_count
    # Integers are read as printed too: IC and account numbers are often stored as numbers.
    kind = column.type
    nested = pa.types.is_nested(kind)
    text = nested or _is_text(kind) or pa.types.is_integer(kind) or pa.types.is_date(kind)
    values = pc.drop_null(column)
    if nested:  # a list or struct is read as its JSON text: what it holds is still found in it
        values = pa.array([json.dumps(v, default=str) for v in values.to_pylist()], pa.string())
    values = _as_text(values) if text else values
    # A `json` field is curated as its text (ADR-0123): read as the list or struct it holds.
    nested = nested or (_is_text(kind) and _holds_json(values))
    counts = pc.value_counts(values).field("counts").to_numpy() if non_null else np.empty(0)
    entropy = _entropy(counts)
    lengths = pc.utf8_length(values).to_numpy(zero_copy_only=False) if text else np.zeros(0)
    bytes_seen = _bytes_seen(values) if text else np.zeros(256, dtype=np.int64)
    classes = _char_classes(bytes_seen)
    formats, shapes, failures, embedded = (
        _formats(values, bytes_seen, nested, _is_text(kind), pa.types.is_integer(kind))
        if text
        else ({}, {}, {}, {})
    )
    return ColumnProfile(
        column=name,
        arrow_type=str(column.type),
        rows=rows,
        null_ratio=_ratio(rows - non_null, rows),
        distinct=len(counts),
        cardinality_ratio=_ratio(len(counts), non_null),
        entropy=round(entropy, 4),
        normalised_entropy=round(entropy / math.log2(non_null), 4) if non_null > 1 else 0.0,
        length_mean=round(float(lengths.mean()), 2) if len(lengths) else 0.0,
        length_max=int(lengths.max()) if len(lengths) else 0,
        char_classes=classes,
        format_shares=formats,
        shape_shares=shapes,
        check_failures=failures,
        embedded_shares=embedded,
    )


def _formats(
    values: pa.Array,
    bytes_seen: np.ndarray,
    nested: bool = False,
    typed_text: bool = False,
    integers: bool = False,
) -> tuple[dict, dict, dict, dict]:
    formats, shapes, failures, embedded = {}, {}, {}, {}
    n = len(values)
    if not n:
        return formats, shapes, failures, embedded
    # Cheap gates skip detectors whose shapes cannot match: most columns are not most formats.
    has = {
        "digit": bytes_seen[_DIGITS].any(),
        "letter": bytes_seen[_LETTERS].any(),
        "@": bytes_seen[ord("@")] > 0,
    }
    for detector in DETECTORS:
        name = format_name(detector)
        if not all(has[needed] for needed in _NEEDS.get(name, ())):
            continue
        found = detector(_ic_printed(values) if integers and detector is mykad else values)
        if found.shaped:
            shapes[name] = _ratio(found.shaped, n)
            formats[name] = _ratio(found.valid, n)
            for check, count in found.failed.items():
                failures[f"{name}.{check}"] = _ratio(count, found.shaped)
    if nested or formats.get("free_text", 0) >= PROSE_SHARE:
        # A list's or struct's text holds its values among JSON punctuation, as prose does.
        # Pasted numbers and addresses are rare in prose: look only in rows with a digit or @.
        candidates = values.filter(pc.match_substring_regex(values, r"[0-9@]"))
    elif typed_text:
        # A short note ("IC 850101-14-5678 verified") is no prose but holds a pasted number as
        # well: look in the rows where a digit or @ stands beside other words (a whole value in
        # a format is counted above).
        candidates = values.filter(pc.match_substring_regex(values, r"(?s)[0-9@].*\s|\s.*[0-9@]"))
    else:
        candidates = values.slice(0, 0)
    if len(candidates):
        for detector in EMBEDDED:
            found = detector(candidates, within_text=True)
            if found.valid:
                embedded[format_name(detector)] = _ratio(found.valid, n)
    return formats, shapes, failures, embedded


# What a value must contain for a format's shape to match it.
_NEEDS = {
    "email": ("@", "letter"),
    "iban": ("digit", "letter"),
    "person_name": ("letter",),
    "address": ("digit", "letter"),
    "free_text": ("letter",),
    **dict.fromkeys(
        ("mykad", "payment_card", "phone", "bank_account", "date_of_birth", "date"), ("digit",)
    ),
}
_DIGITS = np.arange(ord("0"), ord("9") + 1)
_LETTERS = np.r_[ord("A") : ord("Z") + 1, ord("a") : ord("z") + 1]
_SPACES = np.array([ord(c) for c in " \t\n\r"])


def _ic_printed(values: pa.Array) -> pa.Array:
    """Integers as an IC number is printed: one born in 2000-2009 starts with 0, which an integer
    column drops, leaving 11 digits. Only the IC's test reads them padded: 11 digits are a bank
    account's length too."""
    eleven = pc.equal(pc.utf8_length(values), 11)
    return pc.if_else(eleven, pc.utf8_lpad(values, 12, "0"), values)


def _holds_json(values: pa.Array) -> bool:
    """Whether JSON_SHARE of the (trimmed) values or more parse as the JSON text of an array or
    an object (a `json` field's); a bracketed log line or template is not JSON."""
    if not len(values):
        return False
    least = JSON_SHARE * len(values)
    bracketed = values.filter(pc.match_substring_regex(values, r"(?s)^(\[.*\]|\{.*\})$"))
    return len(bracketed) >= least and sum(map(_is_json, bracketed.to_pylist())) >= least


def _is_json(text: str) -> bool:
    try:
        return isinstance(json.loads(text), list | dict)
    except ValueError:
        return False


def _is_text(kind: pa.DataType) -> bool:
    return (
        pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or (pa.types.is_dictionary(kind) and _is_text(kind.value_type))
    )


def _as_text(values: pa.Array) -> pa.Array:
    """Values as trimmed strings: detectors read text; numbers and dates are read as printed."""
    if pa.types.is_dictionary(values.type):
        values = values.dictionary_decode()
    if not pa.types.is_string(values.type):  # detectors read 32-bit offsets
        values = values.cast(pa.string())
    return pc.utf8_trim_whitespace(values)


def _entropy(counts: np.ndarray) -> float:
    if not len(counts):
        return 0.0
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum())


def _bytes_seen(values: pa.Array) -> np.ndarray:
    """How often each byte occurs in the values: one numpy pass instead of a regex per class."""
    if not len(values):
        return np.zeros(256, dtype=np.int64)
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int32)[values.offset :]
    data = np.frombuffer(values.buffers()[2], dtype=np.uint8)
    return np.bincount(data[offsets[0] : offsets[len(values)]], minlength=256)


def _char_classes(bytes_seen: np.ndarray) -> dict[str, float]:
    """Share of digits, ASCII letters, whitespace and anything else (a non-ASCII character
    counts once per byte of its UTF-8 encoding, as other)."""
    total = int(bytes_seen.sum())
    if not total:
        return {}
    counted = {
        "digit": int(bytes_seen[_DIGITS].sum()),
        "letter": int(bytes_seen[_LETTERS].sum()),
        "space": int(bytes_seen[_SPACES].sum()),
    }
    counted["other"] = total - sum(counted.values())
    return {name: _ratio(count, total) for name, count in counted.items()}


def _ratio(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0
