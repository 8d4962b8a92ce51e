"""Why a payload could not be read, in words that name places (line, column), never values.

Reasons reach the raw-file index, the dead-letter zone's `.reason.json` and alerts (SNS), all
read far more widely than the payload: an email or a phone number quoted from a bad row would
leak there. pyarrow's CSV errors quote the offending row, so they are re-worded from their
structure, and the row's line is found by reading the file again with Python's csv module.
"""

from __future__ import annotations

import csv
import os
import re

_FIELD_COUNT = re.compile(r"Expected (\d+) columns, got (\d+)")
_COLUMN = re.compile(r"In CSV column #(\d+)")


def csv_error_reason(path: str | os.PathLike, error: Exception) -> str:
    """A reason for a CSV pyarrow cannot read, naming the line or column and the problem."""
    message = str(error)
    if counts := _FIELD_COUNT.search(message):
        expected, got = int(counts[1]), int(counts[2])
        fields = f"{got} field{'' if got == 1 else 's'}"
        return f"{_first_row_of_width(path, expected)}: {fields} where the header has {expected}"
    utf8 = isinstance(error, UnicodeDecodeError) or "UTF8" in message
    problem = "not valid UTF-8" if utf8 else f"unreadable ({type(error).__name__})"
    if column := _COLUMN.search(message):
        return f"column #{int(column[1]) + 1}: {problem}"
    return problem


def _first_row_of_width(path: str | os.PathLike, expected: int) -> str:
    """'line N' of the first record whose field count is not `expected`; 'a row' if not found."""
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as fh:
        reader = csv.reader(fh)
        try:
            start = 1
            for row in reader:
                if row and len(row) != expected:
                    return f"line {start}"
                start = reader.line_num + 1
        except csv.Error:  # a field over csv's size limit: the row is the one being read
            return f"line {start}"
    return "a row"


class MalformedPayload(Exception):
    """The payload cannot be profiled; `reason` says why, for the dead-letter record."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason
