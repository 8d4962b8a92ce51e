"""Zone layout and the record kept for every raw object. Pure: keys in, keys out.

Every value a user or producer hands us that becomes part of a key (a source id, an ingest or
event date, an object name) is checked here against its grammar, so a value can never name a
place in another zone ("2026-03-05/../../curated/..."). See ADR-0028.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Literal

from lake_assets.tables.keys import InvalidKeyPart, check_date, check_key, check_source_id


@dataclass(frozen=True)
class PartitionCalendar:
    """The days the pipeline has partitions for: settings.partitions_start through today (UTC).
    An object dated outside it has no partition to be profiled or promoted in."""

    start: str
    today: date

    @classmethod
    def until_today(cls, start: str) -> PartitionCalendar:
        return cls(start, datetime.now(UTC).date())

    def problem(self, day: str) -> str | None:
        """Why `day` (a valid date) has no partition; None when it has one."""
        if day < self.start:
            return f"is before the first partition ({self.start}, settings.partitions_start)"
        if day > self.today.isoformat():
            return f"is after today ({self.today.isoformat()} UTC): no partition exists yet"
        return None


RAW_SOURCE = re.compile(r"^raw/source=(?P<source>[^/]*)/(?P<rest>.*)$")
RAW_KEY = re.compile(r"^ingest_date=(?P<date>[^/]*)/(?P<name>.+)$")


def raw_source_of(key: str) -> str | None:
    """The source folder a raw-zone key sits in (whatever the rest of it), None outside raw."""
    match = RAW_SOURCE.match(key)
    return match["source"] if match else None


def raw_key_problem(key: str, calendar: PartitionCalendar | None = None) -> str | None:
    """Why an object in a source's raw folder cannot be profiled (it is held), None if it can.

    Producers writing to S3 directly are not checked at landing: a key whose ingest date is
    not a date, or is outside the partition calendar, is held where it is and reported.
    """
    try:
        check_key(key)
    except ValueError as error:
        return str(error)
    match = RAW_SOURCE.match(key)
    if match is None:
        return "is not in the raw zone (raw/source=<id>/ingest_date=<YYYY-MM-DD>/<name>)"
    try:
        check_source_id(match["source"])
    except InvalidKeyPart as error:
        return str(error)
    placed = RAW_KEY.match(match["rest"])
    if placed is None:
        return "is not in an ingest_date=<YYYY-MM-DD>/ folder of its source"
    try:
        day = check_date(placed["date"])
    except InvalidKeyPart as error:
        return str(error)
    if calendar is not None and (problem := calendar.problem(day)):
        return f"ingest date {day} {problem}"
    return None


def parse_raw_key(key: str) -> tuple[str, str, str] | None:
    """(source_id, ingest_date, object name) for a raw-zone key whose source id and ingest
    date follow their grammars; None for any other key (see raw_key_problem for why)."""
    if raw_key_problem(key) is not None:
        return None
    source = RAW_SOURCE.match(key)
    placed = RAW_KEY.match(source["rest"])
    return source["source"], placed["date"], placed["name"]


LANDING_STAMP = re.compile(r"^(\d{8}T\d{12}Z)-")


def landing_name(landed_at: datetime, token: str, original_name: str) -> str:
    """`lake ingest` names objects `<landing time>-<token>-<name>`: unique, and in time order."""
    return f"{landed_at.astimezone(UTC).strftime('%Y%m%dT%H%M%S%fZ')}-{token}-{original_name}"


def landed_at(object_name: str, last_modified: datetime) -> datetime:
    """When a payload landed: the time in its name if `lake ingest` put it there, else the
    object's modification time (producers writing to S3 directly)."""
    match = LANDING_STAMP.match(object_name)
    if match:
        return datetime.strptime(match[1], "%Y%m%dT%H%M%S%fZ").replace(tzinfo=UTC)
    return last_modified


# DUPLICATE: the same bytes as an earlier object of the source (`duplicate_of`); never promoted.
# SET_ASIDE: an operator excluded the object from promotion; HELD_EMPTY: a snapshot delivery
# with no rows, waiting for an operator to confirm it (raw_decisions.py). None is promoted.
FileStatus = Literal["PROFILED", "DEAD_LETTER", "DUPLICATE", "SET_ASIDE", "HELD_EMPTY"]


@dataclass
class RawFile:
    """What profiling learned about one raw object; the index promotion plans from."""

    source_id: str
    key: str
    etag: str
    ingest_date: str
    size: int
    status: FileStatus
    profiled_at: str
    landed_at: str | None = None  # processing time: when the payload reached the raw zone
    version: str | None = None  # the registry version this file's schema matched
    row_count: int = 0
    malformed_rows: int = 0
    # Rows per event date of the event-time field, as runs of consecutive days (every date,
    # see event_dates.py): the partitions a file feeds and how many rows it gives each.
    date_rows: dict[str, list[list]] = field(default_factory=dict)
    # Records indexed before date_rows: the first 400 distinct dates of each date field and its
    # null count. Promotion still reads them for those records.
    field_dates: dict[str, list[str]] = field(default_factory=dict)
    field_nulls: dict[str, int] = field(default_factory=dict)
    reason: str | None = None  # why a file was dead-lettered, set aside or held
    sha256: str | None = None  # of the bytes: a re-delivery is recognised by its content
    duplicate_of: str | None = None  # a DUPLICATE's original, the object that claimed the hash
    replayed_at: str | None = None  # when a dead letter was profiled again and joined the index
    json_array: bool = False  # a JSON payload that is one array of records, not JSON lines
    # Fields under keys their dotted name does not tell: name -> key sequences (FileProfile).
    key_paths: dict[str, list[list[str]]] = field(default_factory=dict)
    # Operator decisions on this object, oldest first: {action, from, to, reason, by, at}.
    decisions: list[dict] = field(default_factory=list)


def received_record(source_id: str, info, status: FileStatus, now: datetime) -> RawFile:
    """The index record of raw object `info` (an ObjectInfo: key, etag, size, last_modified)
    as received, before profiling or duplicate detection fills in what they learn."""
    _, ingest_date, name = parse_raw_key(info.key)
    return RawFile(
        source_id=source_id,
        key=info.key,
        etag=info.etag,
        ingest_date=ingest_date,
        size=info.size,
        status=status,
        profiled_at=now.isoformat(),
        landed_at=landed_at(name, info.last_modified).isoformat(),
    )
