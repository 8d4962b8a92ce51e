"""Records later than a source's lookback window: held, alerted once, folded in on request.

A daily run re-publishes the last `lookback_days` event dates, so a record up to that late
lands in its own partition. A record later than that (ingest date minus event date greater than
the lookback) is not dropped: its file is registered here as a late arrival, with the event
dates it carries, until `lake late fold-in` re-promotes those dates. Re-promoting a partition
rebuilds it from every raw file that holds its date, so the record is then there exactly once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import date, timedelta

from lake_assets.ingestion.promotion_plan import file_partitions
from lake_assets.ingestion.raw_zone import RawFile
from lake_assets.ingestion.schema_registry import ACCEPTED, source_field
from lake_assets.ingestion.schema_versions import SchemaVersion
from resources.notifier import Alert, Notifier
from resources.storage import LakeStorage


@dataclass(frozen=True)
class LateArrival:
    source_id: str
    raw_key: str
    ingest_date: str
    event_dates: tuple[str, ...]  # the dates older than the lookback window allows
    detected_at: str
    folded_by_run: str | None = None

    @property
    def pending(self) -> bool:
        return self.folded_by_run is None


def lookback_window(day: date, lookback_days: int, earliest: str) -> tuple[str, str]:
    """First and last event date a daily run for `day` promotes."""
    first = (day - timedelta(days=lookback_days)).isoformat()
    return max(first, earliest), day.isoformat()


def late_prefix(source_id: str) -> str:
    return f"quarantine/{source_id}/late/"


def late_key(source_id: str, raw_key: str) -> str:
    return late_prefix(source_id) + raw_key.rsplit("/", 1)[-1] + ".json"


def find_late_arrivals(
    source_id: str,
    partition_field: str | None,
    lookback_days: int,
    ingest_dates: Iterable[str],
    versions: Sequence[SchemaVersion],
    raw_files: Sequence[RawFile],
    detected_at: str,
) -> list[LateArrival]:
    """Files ingested on `ingest_dates` that hold event dates beyond the lookback window."""
    days = set(ingest_dates)
    accepted = {v.version: v for v in versions if v.status in ACCEPTED}
    found = []
    for record in raw_files:
        if (
            record.ingest_date not in days
            or record.version not in accepted
            or record.status != "PROFILED"  # set aside or held: not promoted, not late either
        ):
            continue
        oldest_allowed = (
            date.fromisoformat(record.ingest_date) - timedelta(days=lookback_days)
        ).isoformat()
        field = source_field(accepted[record.version], partition_field)
        too_late = sorted(d for d in file_partitions(record, field) if d < oldest_allowed)
        if too_late:
            found.append(
                LateArrival(source_id, record.key, record.ingest_date, tuple(too_late), detected_at)
            )
    return found


def late_arrivals(storage: LakeStorage, source_id: str) -> list[LateArrival]:
    held = [
        json.loads(storage.get_bytes(info.key)) for info in storage.list(late_prefix(source_id))
    ]
    return [LateArrival(**{**data, "event_dates": tuple(data["event_dates"])}) for data in held]


def record_late_arrivals(
    storage: LakeStorage, notifier: Notifier, found: Iterable[LateArrival]
) -> list[LateArrival]:
    """Keep each newly found late file and alert about it; a file already held stays as it is."""
    new = []
    for arrival in found:
        key = late_key(arrival.source_id, arrival.raw_key)
        if storage.exists(key):
            continue
        storage.put_bytes(key, json.dumps(asdict(arrival), indent=2).encode())
        notifier.send(
            Alert(
                kind="records.late_beyond_lookback",
                subject=f"{arrival.source_id}: records for {', '.join(arrival.event_dates)} arrived on {arrival.ingest_date}",
                detail={
                    **asdict(arrival),
                    "fold_in_with": f"lake late fold-in {arrival.source_id}",
                },
            )
        )
        new.append(arrival)
    return new


def mark_folded(
    storage: LakeStorage, source_id: str, published: Iterable[str], run_id: str
) -> list[LateArrival]:
    """Pending late arrivals all of whose dates `run_id` has just published are folded in."""
    done = set(published)
    folded = []
    for arrival in late_arrivals(storage, source_id):
        if arrival.pending and set(arrival.event_dates) <= done:
            arrival = replace(arrival, folded_by_run=run_id)
            storage.put_bytes(
                late_key(source_id, arrival.raw_key), json.dumps(asdict(arrival), indent=2).encode()
            )
            folded.append(arrival)
    return folded
