"""The grammar of lake keys. Pure: values in, checked values out.

Every value a user or producer hands us that becomes part of a key (a source id, an ingest or
event date, an object name) is checked here against its grammar, so a value can never name a
place in another zone ("2026-03-05/../../curated/..."). See ADR-0028 "keys built from user
input".
"""

from __future__ import annotations

import re
from datetime import date


def check_key(key: str, prefix: bool = False) -> str:
    """`key` if it is normalised: relative, '/'-separated, no empty, '.' or '..' segment, no
    backslash or control character. S3 would store "raw/../curated/x" as a literal key that
    Hadoop and a disk resolve elsewhere, so no backend accepts one. A `prefix` may be empty
    or end with '/'."""
    body = key[:-1] if prefix and key.endswith("/") else key
    if prefix and body == "":
        return key
    problem = None
    if body == "":
        problem = "is empty"
    elif body.startswith("/"):
        problem = "starts with '/'"
    elif "\\" in body or any(ord(c) < 32 or c == "\x7f" for c in body):
        problem = "holds a backslash or a control character"
    elif any(segment in ("", ".", "..") for segment in body.split("/")):
        problem = "has an empty, '.' or '..' segment"
    if problem:
        raise ValueError(f"key {key!r} {problem}: lake keys are normalised relative paths")
    return key


class InvalidKeyPart(ValueError):
    """A value that becomes part of a lake key does not follow its grammar."""

    def __init__(self, part: str, value: object, reason: str):
        self.part, self.value, self.reason = part, value, reason
        super().__init__(f"{part} {value!r} {reason}")


# Source ids are also Dagster asset key parts and Glue table names: lower case, digits, "_".
SOURCE_ID = re.compile(r"[a-z][a-z0-9_]{0,62}")
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# What `lake ingest` names an object: no "/", no leading dot (hidden and in-flight files).
LANDED_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,254}")


def check_source_id(value: object) -> str:
    if not isinstance(value, str) or not SOURCE_ID.fullmatch(value):
        raise InvalidKeyPart(
            "source id", value, "must be a lower-case letter then up to 62 of a-z, 0-9 and _"
        )
    return value


def check_date(value: object, part: str = "ingest date") -> str:
    """A real calendar date written YYYY-MM-DD; returns it as text."""
    if isinstance(value, date):
        return value.isoformat()
    if not isinstance(value, str) or not DATE.fullmatch(value):
        raise InvalidKeyPart(part, value, "is not a date written YYYY-MM-DD")
    try:
        date.fromisoformat(value)
    except ValueError:
        raise InvalidKeyPart(part, value, "is not a real calendar day") from None
    return value


def check_object_name(value: object) -> str:
    if not isinstance(value, str) or not LANDED_NAME.fullmatch(value):
        raise InvalidKeyPart(
            "object name",
            value,
            "must be 1-255 of A-Z, a-z, 0-9, '.', '_', '-', not starting with '.'",
        )
    return value
