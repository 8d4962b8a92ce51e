"""How the arrival sensor learns about new raw objects.

Listing (local, and the aws fallback) compares the zone against a cursor; the aws profile
normally reads S3 event notifications from SQS (resources/aws/sqs.py). Both yield `Arrival`s
and both may repeat one: the sensor's run keys and the raw-file index make repeats harmless.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass

from resources.storage import LakeStorage


@dataclass(frozen=True)
class Arrival:
    key: str
    etag: str
    receipt: str | None = None  # queue receipt handle, for acknowledging the message


class ArrivalFeed(ABC):
    # Whether an object can land without the feed ever reporting it (a lost notification): the
    # arrival sensor then also sweeps the recent raw folders (lake_assets/ingestion/sweep.py).
    may_miss: bool = False

    @abstractmethod
    def poll(self, cursor: str | None, limit: int = 1000) -> tuple[list[Arrival], str | None]:
        """Arrivals not yet reported under `cursor`, and the cursor to store afterwards."""

    def acknowledge(self, arrivals: list[Arrival]) -> None:  # noqa: B027 - a no-op by default
        """Called once run requests for `arrivals` exist; a queue deletes the messages."""


class ListingArrivalFeed(ArrivalFeed):
    """Lists the raw zone; the cursor is the newest modification time seen plus the keys
    modified at exactly that instant, so equal timestamps never hide an object."""

    def __init__(self, storage: LakeStorage, prefix: str = "raw/"):
        self.storage, self.prefix = storage, prefix

    def poll(self, cursor: str | None, limit: int = 1000) -> tuple[list[Arrival], str | None]:
        state = json.loads(cursor) if cursor else {"watermark": "", "keys": []}
        seen_at_watermark = set(state["keys"])
        fresh = sorted(
            (
                info
                for info in self.storage.list(self.prefix)
                if (stamp := info.last_modified.isoformat()) > state["watermark"]
                or (stamp == state["watermark"] and info.key not in seen_at_watermark)
            ),
            key=lambda info: (info.last_modified, info.key),
        )[:limit]
        if not fresh:
            return [], cursor
        watermark = fresh[-1].last_modified.isoformat()
        keys = [i.key for i in fresh if i.last_modified.isoformat() == watermark]
        if watermark == state["watermark"]:
            keys = sorted(seen_at_watermark | set(keys))
        new_cursor = json.dumps({"watermark": watermark, "keys": keys})
        return [Arrival(key=i.key, etag=i.etag) for i in fresh], new_cursor
