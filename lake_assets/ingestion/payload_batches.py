"""What the payload readers hand the profiler: batches of leaf columns, and the records they
could not read. pyarrow tables become batches directly; records parsed by Python (the fallback
for blocks pyarrow cannot read, and JSON arrays) are converted a batch at a time.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

import pyarrow as pa

from lake_assets.ingestion.value_types import _json_text
from lake_assets.tables.types import ARROW_TYPES

FALLBACK_ROWS = 10_000  # records converted per batch when pyarrow cannot read a block

Hint = Literal["typed", "text", "json"]
"""How to read a column: arrow's type is the value type ("typed"), untyped CSV text to narrow
("text"), or canonical JSON text of nested values ("json")."""


_Column = tuple[str, "pa.Array | pa.ChunkedArray", Hint]  # a name may repeat within a batch
KeyPath = tuple[str, ...]


@dataclass(frozen=True)
class _Batch:
    rows: int
    columns: list[_Column]
    # The keys of leaves nested under or in a key that holds a dot ({"merchant": {"site.id"}}):
    # their dotted name does not say which keys they are (see dotted_key_path).
    key_paths: frozenset[KeyPath] = frozenset()


def dotted_key_path(path: KeyPath, name: str) -> bool:
    """Whether a leaf's keys (`path`, dotted into `name`) are not read from its name alone.
    Promotion reads a name as nested at every dot, or as one key (ADR-0029); a key holding a
    dot below the top level, or one holding an object, is neither (ADR-0186). Counted on the
    name, which every leaf has anyway: a key holding a dot adds one (a sixth of converting a
    batch of records, tested key by key)."""
    return len(path) > 1 and name.count(".") >= len(path)


@dataclass(frozen=True)
class _BadRecord:
    where: str  # "line 12" or "element 3"
    reason: str


_Event = _Batch | _BadRecord


# --- arrow batches -------------------------------------------------------------------------------


def _leaves(
    path: KeyPath, column: pa.Array | pa.ChunkedArray
) -> Iterator[tuple[KeyPath, pa.Array | pa.ChunkedArray]]:
    """Struct columns as leaf columns with their keys; a parent's nulls carry into its
    children."""
    t = column.type
    if pa.types.is_struct(t) and t.num_fields:
        for child, field in zip(column.flatten(), t, strict=True):
            yield from _leaves((*path, field.name), child)
    else:
        yield path, column


def _table_batch(table: pa.Table | pa.RecordBatch, hint: Hint) -> _Batch:
    leaves = [
        (".".join(path), path, values)
        for name, column in zip(table.column_names, table.columns, strict=True)
        for path, values in _leaves((name,), column)
    ]
    return _Batch(
        table.num_rows,
        [(name, values, hint) for name, _, values in leaves],
        frozenset(path for name, path, _ in leaves if dotted_key_path(path, name)),
    )


# --- Python records (fallback and JSON arrays) ---------------------------------------------------


def _flat(record: dict) -> Iterator[tuple[KeyPath, object]]:
    """The leaves of a parsed record with their keys; iterative, since json.loads nests up to
    ~1000 deep."""
    stack: list[tuple[KeyPath, dict]] = [((), record)]
    while stack:
        prefix, obj = stack.pop()
        for key, value in obj.items():
            if isinstance(value, dict) and value:
                stack.append(((*prefix, key), value))
            else:
                yield (*prefix, key), value


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
            yield pa.array(group, pa.type_for_alias(ARROW_TYPES[kind])), "typed"


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
    paths: set[KeyPath] = set()
    for record in records:
        for path, value in _flat(record):
            name = ".".join(path)
            columns.setdefault(name, []).append(value)
            if dotted_key_path(path, name):
                paths.add(path)
    return _Batch(
        len(records),
        [(name, a, hint) for name, vals in columns.items() for a, hint in _python_arrays(vals)],
        frozenset(paths),
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
                # Decoded first: json.loads guesses UTF-16 or UTF-32 for bytes with NULs in
                # them, where Spark reads every line as UTF-8 (a BOM is skipped on both sides).
                yield f"line {number}", json.loads(line.decode("utf-8-sig"))
            except (ValueError, RecursionError) as error:  # UnicodeDecodeError is a ValueError
                yield _BadRecord(f"line {number}", _clip(_json_error(error)))
