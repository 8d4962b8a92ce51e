"""The listing sweep behind a notification feed: what the arrival sensor does, once an hour, so
that an object whose S3 event notification never reached the queue is still profiled.

A notification is lost when the queue's policy or the bucket's notification configuration is
wrong for a while, when messages outlive the queue's retention while the daemon is down, or when
someone purges the queue. The objects are still in the raw zone; without a sweep they would wait
for someone to run `lake profile`. The sweep lists only the recent ingest dates of the declared
sources (today and the days before it, SWEPT_DAYS in all), so its cost does not grow with the
lake, and leaves out objects younger than SETTLE, whose notification may simply not have been
read yet. After a pause (the daemon down for days: its queue's messages may have outlived their
retention meanwhile) it lists every ingest date since the day before its last sweep, up to
MAX_SWEPT_DAYS. Anything it finds that is already profiled is dropped by the sensor as any
repeat is.

Dagster-free: the sensor (sensors.py) keeps the time of the last sweep in its cursor beside the
feed's own cursor.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from lake_assets.tables.locations import raw_prefix
from resources.arrivals import Arrival
from resources.storage import LakeStorage

SWEEP_EVERY = timedelta(hours=1)
SWEPT_DAYS = 3
# A pause longer than this is beyond the sweep: SQS keeps a message 14 days at most, and the
# sensor says to run `lake profile` for the days it leaves out.
MAX_SWEPT_DAYS = 35
SETTLE = timedelta(minutes=15)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class SweepCursor:
    """The arrival sensor's cursor: the feed's own, and when the raw zone was last swept."""

    feed: str | None = None
    swept_at: datetime | None = None

    @classmethod
    def parse(cls, cursor: str | None) -> SweepCursor:
        """A cursor this wrote, or one stored before the sweep existed (the feed's alone)."""
        try:
            state = json.loads(cursor) if cursor else None
        except ValueError:
            state = None
        if not (isinstance(state, dict) and set(state) == {"feed", "swept_at"}):
            return cls(feed=cursor)
        swept_at = state["swept_at"]
        return cls(state["feed"], datetime.fromisoformat(swept_at) if swept_at else None)

    def dumps(self) -> str:
        swept_at = self.swept_at.isoformat() if self.swept_at else None
        return json.dumps({"feed": self.feed, "swept_at": swept_at})


def sweep_due(swept_at: datetime | None, now: datetime) -> bool:
    return swept_at is None or now - swept_at >= SWEEP_EVERY


def swept_days(today: date, swept_at: datetime | None) -> tuple[list[date], int]:
    """The ingest dates a sweep lists, newest first: SWEPT_DAYS back from today, or back to the
    day before the last sweep when that is longer ago, at most MAX_SWEPT_DAYS; and how many days
    since the last sweep that leaves out (0 but after a pause longer than MAX_SWEPT_DAYS)."""
    wanted = SWEPT_DAYS if swept_at is None else max(SWEPT_DAYS, (today - swept_at.date()).days + 2)
    kept = min(wanted, MAX_SWEPT_DAYS)
    return [today - timedelta(days=back) for back in range(kept)], wanted - kept


def unannounced(
    storage: LakeStorage,
    source_ids: Collection[str],
    now: datetime,
    days: Collection[date],
    announced: Collection[tuple[str, str]] = (),
) -> list[Arrival]:
    """The settled objects of `source_ids` under the ingest dates `days`, except the (key,
    etag) pairs the feed `announced` in the same tick."""
    settled_before = now - SETTLE
    return [
        Arrival(key=info.key, etag=info.etag)
        for source_id in sorted(source_ids)
        for day in days
        for info in storage.list(raw_prefix(source_id, day))
        if info.last_modified <= settled_before and (info.key, info.etag) not in announced
    ]
