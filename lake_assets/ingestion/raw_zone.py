"""Zone layout and the record kept for every raw object. Pure: keys in, keys out."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Literal

RAW_KEY = re.compile(
    r"^raw/source=(?P<source>[^/]+)/ingest_date=(?P<date>\d{4}-\d{2}-\d{2})/(?P<name>.+)$"
)


def raw_prefix(source_id: str, ingest_date: date | str | None = None) -> str:
    prefix = f"raw/source={source_id}/"
    return prefix if ingest_date is None else f"{prefix}ingest_date={ingest_date}/"


def raw_key(source_id: str, ingest_date: date | str, object_name: str) -> str:
    return f"{raw_prefix(source_id, ingest_date)}{object_name}"


def parse_raw_key(key: str) -> tuple[str, str, str] | None:
    """(source_id, ingest_date, object name) for a raw-zone key, None for any other key."""
    match = RAW_KEY.match(key)
    return (match["source"], match["date"], match["name"]) if match else None


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


def dead_letter_key(source_id: str, ingest_date: str, object_name: str) -> str:
    return f"dead-letter/source={source_id}/ingest_date={ingest_date}/{object_name}"


def run_output_prefix(dataset: str, run_id: str) -> str:
    """Each promotion run writes its own folder; no reader resolves it until the catalog
    pointer of a partition is switched to the run's published subfolder."""
    return f"curated/{dataset}/run={run_id}/"


def published_location(dataset: str, run_id: str, partition: str) -> str:
    return f"{run_output_prefix(dataset, run_id)}_zone=published/event_date={partition}/"


def written_quarantine_location(dataset: str, run_id: str, partition: str) -> str:
    """Where the job leaves rejected rows, before the orchestrator moves them to quarantine/."""
    return f"{run_output_prefix(dataset, run_id)}_zone=quarantined/event_date={partition}/"


def quarantine_location(dataset: str, run_id: str, partition: str) -> str:
    return f"quarantine/{dataset}/event_date={partition}/run={run_id}/"


FileStatus = Literal["PROFILED", "DEAD_LETTER"]


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
    reason: str | None = None  # why a dead-lettered file could not be read
