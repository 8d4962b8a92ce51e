"""How a payload is read, decided once at profiling so that Spark reads it the same way.

Layout: a JSON payload whose first character (after a UTF-8 byte-order mark and whitespace) is
"[" is one array of records, as the profiler reads it; any other is JSON lines. The raw-file
index records it, and promotion reads the file the same way (raw_records.py).

Encoding: a source declares `source.encoding:` in pipelines/<source>.yaml (default UTF-8, whose byte-order mark is
skipped as before). The profiler reads UTF-8 only, so a payload in another encoding is profiled
from a UTF-8 copy; Spark reads the raw bytes with the same charset. Raw keeps the bytes as sent.
"""

from __future__ import annotations

import codecs
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lake_assets.ingestion.payload_errors import MalformedPayload

DEFAULT_ENCODING = "UTF-8"
# Python codec name -> the charset name Spark is given. Only charsets Spark's `decode` reads
# (JSON payloads are decoded whole by it) on both Spark 3.5 and 4.x.
_SPARK_CHARSETS = {
    "utf-8": "UTF-8",
    "iso8859-1": "ISO-8859-1",
    "ascii": "US-ASCII",
    "utf-16": "UTF-16",
    "utf-16-le": "UTF-16LE",
    "utf-16-be": "UTF-16BE",
}
_TRANSCODE_CHARS = 1 << 20
_BOM = b"\xef\xbb\xbf"


def is_json_array(path: Path | str) -> bool:
    """Whether a (UTF-8) JSON payload is one array document rather than JSON lines."""
    with open(path, "rb") as payload:
        head = payload.read(len(_BOM))
        head = head[len(_BOM) :] if head == _BOM else head
        while not (text := head.lstrip()) and (head := payload.read(1 << 16)):
            pass
        return text[:1] == b"["


def canonical_encoding(name: str) -> str:
    """The declared encoding as both readers name it; ValueError naming the supported ones."""
    try:
        codec = codecs.lookup(str(name)).name
    except LookupError:
        codec = None
    if codec not in _SPARK_CHARSETS:
        supported = ", ".join(sorted(set(_SPARK_CHARSETS.values())))
        raise ValueError(f"unsupported encoding {name!r}; supported: {supported}")
    return _SPARK_CHARSETS[codec]


@contextmanager
def utf8_view(path: Path | str, encoding: str) -> Iterator[Path]:
    """The payload as UTF-8: itself when it is declared UTF-8, else a transcoded copy.

    Raises MalformedPayload when the bytes are not valid in the declared encoding.
    """
    if encoding == DEFAULT_ENCODING:
        yield Path(path)
        return
    handle, copy = tempfile.mkstemp(suffix=Path(path).suffix)
    try:
        with open(path, encoding=encoding, newline="") as source, os.fdopen(handle, "wb") as out:
            while text := source.read(_TRANSCODE_CHARS):
                out.write(text.encode("utf-8"))
    except UnicodeError as error:
        os.unlink(copy)
        raise MalformedPayload(f"not valid {encoding}: {error}") from error
    try:
        yield Path(copy)
    finally:
        os.unlink(copy)
