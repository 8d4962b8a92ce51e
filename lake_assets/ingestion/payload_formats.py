"""The payload formats read in bounded blocks: JSON lines, a JSON array (whole), CSV with a
header row; and a custom format, read whole by its pipeline's reader hook. Each yields the
batches and bad records of payload_batches.
"""

from __future__ import annotations

import json
import mmap
import os
import re
from collections.abc import Iterator
from functools import reduce
from typing import IO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.json as pj

from lake_assets.ingestion.payload_batches import (
    _BadRecord,
    _Batch,
    _Event,
    _json_error,
    _parsed_lines,
    _records_events,
    _table_batch,
)
from lake_assets.ingestion.payload_errors import MalformedPayload, csv_error_reason

MAX_LINE_BYTES = 64 << 20  # a JSON line longer than this and the block: malformed, skipped
ARROW_BLOCK_BYTES = 1 << 20  # pyarrow parses a block's 1 MiB sub-blocks on parallel threads
SAMPLE_BYTES = 64 << 10  # first lines parsed to learn which fields pyarrow reads as timestamps
CSV_NULLS = ("", "NULL", "null")  # "NA" and "NaN" stay values: both are real codes in bank data


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
    chunk: memoryview, pins: pa.StructType | None, lines: int
) -> tuple[_Batch | None, pa.StructType | None]:
    """The chunk of `lines` lines as read by pyarrow, or None where pyarrow cannot read it or be
    trusted to."""
    if _LEADING_NULL.match(chunk):  # pyarrow 26 segfaults when the first row is `null`
        return None, pins
    try:
        table, pins = _read_chunk(chunk, pins)
        batch = _table_batch(table, "typed")
    # UnicodeDecodeError from invalid UTF-8 keys; RecursionError from walking a type nested
    # some 500 deep, which pyarrow reads and json.loads (iterated by _flat) takes too.
    except (pa.ArrowException, UnicodeDecodeError, RecursionError):
        return None, pins
    if _has_empty_row(table) or _values_apart(table.num_rows, lines, chunk):
        return None, pins
    return batch, pins


def _values_apart(rows: int, lines: int, chunk: memoryview) -> bool:
    """Whether pyarrow's rows are not one per line that is not blank. pyarrow reads a row from
    each, unless a line holds more than one JSON value (`{..} {..}`, or two split by a lone CR):
    it reads several rows there, and Spark's parsers the first value alone. Such a line is one
    malformed record, to json.loads (the fallback: "Extra data") and to promotion
    (raw_records._one_value). Fewer rows than lines, or a blank first or last line (a byte-order
    mark alone, a file's trailing empty line), has the chunk's blank lines counted; else rows as
    many as lines is taken as one value a line. Left unseen: blank lines inside a chunk hiding
    as many extra values. Spark then reads fewer records than profiled, and the audit refuses
    the file, naming it."""
    if rows > lines:
        return True
    if rows < lines or _BLANK_FIRST.match(chunk) or _last_line_blank(chunk):
        return rows != _value_lines(chunk, lines)
    return False


def _last_line_blank(chunk: memoryview) -> bool:
    """Whether the chunk's last line holds only whitespace, from its last few bytes."""
    tail = bytes(chunk[-_TAIL_BYTES:])
    if tail.endswith(b"\n"):
        tail = tail[:-1]  # the last line's own newline
    return not tail[tail.rfind(b"\n") + 1 :].strip(b" \t\r")


_TAIL_BYTES = 64
# Lines holding nothing but JSON's whitespace (blank: no record): the first, one between two
# newlines (the last, where a file ends without a newline, is looked at apart).
_BLANK_FIRST = re.compile(rb"[ \t\r]*\n")
_BLANK_BETWEEN = re.compile(rb"\n[ \t\r]*(?=\n)")


def _value_lines(chunk: memoryview, lines: int) -> int:
    """The chunk's lines (`lines` of them) that are not blank."""
    blank = len(_BLANK_BETWEEN.findall(chunk)) + (_BLANK_FIRST.match(chunk) is not None)
    if chunk[-1:] == b"\n":
        return lines - blank
    # The last line has no newline: only a file's last chunk, so its copy costs once per file.
    text = bytes(chunk)
    return lines - blank - (not text[text.rfind(b"\n") + 1 :].strip(b" \t\r"))


def _has_empty_row(table: pa.Table) -> bool:
    """Whether a row holds no value: pyarrow reads a `null` line, not an object, as such a row."""
    if table.num_columns == 0:
        return table.num_rows > 0
    filled = reduce(pc.or_, (pc.is_valid(column) for column in table.columns))
    return not pc.all(filled).as_py()


def _line_chunks(fh: IO[bytes], block_size: int) -> Iterator[tuple[int, int, memoryview | None]]:
    """(first line number, lines, whole lines) about block_size at a time; None for an over-long
    line.

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
        newlines = block.count(b"\n", 0, cut)
        # The last line of a file may have no newline of its own.
        lines = newlines + (0 < cut and block[cut - 1 : cut] != b"\n")
        yield number, lines, memoryview(block)[:cut] if cut else None
        number += newlines if cut else 1


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
    for first_line, lines, chunk in _line_chunks(fh, block_size):
        if chunk is None:
            yield _BadRecord(f"line {first_line}", f"longer than {MAX_LINE_BYTES} bytes")
            continue
        batch, pins = _arrow_batch(chunk, pins, lines)
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
        document = json.loads(fh.read().decode("utf-8-sig"))  # UTF-8 always: no guessing
    except json.JSONDecodeError as error:
        where = f"line {error.lineno}: {error.msg} at column {error.colno}"
        raise MalformedPayload(f"not valid JSON: {where}") from error
    except (ValueError, RecursionError) as error:
        raise MalformedPayload(f"not valid JSON: {_json_error(error)}") from error
    yield from _records_events((f"element {i}", value) for i, value in enumerate(document))


# --- custom (a pipeline's reader hook) ------------------------------------------------------------


def _custom_events(fh: IO[bytes], encoding: str, reader) -> Iterator[_Event]:
    # Read whole, as a JSON array is. Profiled as the JSON texts Spark reads (record_texts), so
    # that both sides see the same values and count the same records.
    from lake_assets.pipelines.hooks import HookBroken, record_texts

    try:
        texts = record_texts(reader, fh.read(), encoding)
    except HookBroken as error:
        raise MalformedPayload(str(error)) from error
    yield from _records_events((f"record {i}", json.loads(t)) for i, t in enumerate(texts))


# --- CSV -----------------------------------------------------------------------------------------


def _check_header(names: list[str]) -> None:
    """Refuses a header that Spark's CSV reader would rename: an empty name (read as `_c<i>`),
    a name holding a CR (read with LF instead) or a name given twice in any case (each read
    with its position appended). Promotion finds columns by the profiled names, so such a
    column was published empty (ADR-0185, ADR-0190)."""
    seen: dict[str, int] = {}
    for position, name in enumerate(names, start=1):
        if not name:
            raise MalformedPayload(f"not valid CSV: line 1, column {position} has no name")
        if "\r" in name:  # Spark's reader rewrites a CR or CRLF in a quoted value as LF
            raise MalformedPayload(
                f"not valid CSV: line 1, column {position} ({name!r}) holds a carriage return"
            )
        first = seen.setdefault(name.lower(), position)
        if first != position:
            raise MalformedPayload(
                f"not valid CSV: line 1 names column {first} ({names[first - 1]!r}) again in "
                f"column {position} ({name!r}); names differing only in case are one column "
                "to Spark, Glue and Athena"
            )


# A record's end outside quotes: a quoted value (a quote opens one only where a value starts:
# after a comma, a line break, or at the file's start, a byte-order mark's too; doubled quotes
# inside) is matched whole, so the line breaks it holds are skipped.
_CSV_FRAMING = re.compile(rb'(?:(?<![^,\r\n])|(?<=\A\xef\xbb\xbf))"[^"]*(?:""[^"]*)*"|(\r\n|\r|\n)')
_LINE_BREAK = re.compile(rb"\r\n|\r|\n")
_ENDINGS = {b"\r\n": "CRLF", b"\n": "LF", b"\r": "CR"}


def _check_line_endings(path: str, block_size: int) -> None:
    """Refuses a CSV whose records end in more than one way (CRLF, LF, a lone CR). pyarrow ends
    a record at any of them; Spark's reader at the kind of the file's first line break alone
    (inside quotes or not), so it reads such a file as fewer records (the audit refuses the
    day) or keeps a CR at the end of a record's last value (published as part of it).
    Counting each kind costs a pass at C speed; only a file holding two kinds (in records'
    ends or in quoted values) is framed record by record to tell which."""
    counts, previous = {b"\r\n": 0, b"\r": 0, b"\n": 0}, b""
    with open(path, "rb") as fh:
        while block := fh.read(block_size):
            counts[b"\n"] += block.count(b"\n")
            counts[b"\r\n"] += previous.endswith(b"\r") and block.startswith(b"\n")
            if cr := block.count(b"\r"):
                counts[b"\r"] += cr
                counts[b"\r\n"] += block.count(b"\r\n")
            previous = block
    lone = (counts[b"\r"] - counts[b"\r\n"], counts[b"\n"] - counts[b"\r\n"])
    if sum(1 for n in (counts[b"\r\n"], *lone) if n) < 2:
        return
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as content:
        first, record, end = _first_other_ending(content)
    if end:
        where = "the header" if record == 0 else f"record {record}"
        raise MalformedPayload(
            f"not valid CSV: the file's first line break is {_ENDINGS[first]} and {where} "
            f"ends with {_ENDINGS[end]}; Spark ends every record as the first line break ends, "
            "so every line must end alike (re-send it with one kind of line ending)"
        )


def _first_other_ending(content) -> tuple[bytes, int, bytes | None]:
    """The file's first line break; the first record (0: the header) that ends otherwise."""
    first = _LINE_BREAK.search(content)[0]
    ends = (match[1] for match in _CSV_FRAMING.finditer(content) if match[1])
    for record, end in enumerate(ends):
        if end != first:
            return first, record, end
    return first, 0, None


def _csv_events(path: str, block_size: int) -> Iterator[_Event]:
    read = pcsv.ReadOptions(block_size=block_size)
    # Exports quote multi-line memos and addresses; allowing that costs pyarrow some parallelism.
    parse = pcsv.ParseOptions(newlines_in_values=True)
    _check_line_endings(path, block_size)
    try:
        with pcsv.open_csv(path, read_options=read, parse_options=parse) as header:
            names = header.schema.names
        if names and names[0].lstrip("\ufeff \t").startswith(("{", "[")):
            # JSON sent to a CSV source parses as CSV (its first line a header of odd names),
            # and would show as a schema break: it is a payload of the wrong format.
            raise MalformedPayload(
                "not valid CSV: line 1 is JSON, not a header; the source declares format csv"
            )
        _check_header(names)
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
