"""What a compaction pass may touch and what it should rewrite. Pure: data in, decisions out.

A partition seals when it leaves the late-arrival window: the next daily run promotes
yesterday and the `lookback_days` before it (ADR-0016), so an event date older than that is
never republished by a schedule again, and compacting it cannot race the daily run.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

from lake_assets.compaction.policy import Selection
from lake_assets.ingestion.late_arrivals import lookback_window

if TYPE_CHECKING:  # the core must not import the resources package at run time
    from resources.catalog import PublishedPartition

COMPACTED_FOLDER = re.compile(r"/compaction=[^/]+/")


def is_data_file(key: str) -> bool:
    """What engines read in a partition folder: Spark and Athena skip names starting with
    "_" or "." (the manifest, _SUCCESS, in-flight files)."""
    return not key.rsplit("/", 1)[-1].startswith(("_", "."))


def first_open_day(today: date, lookback_days: int, earliest: str) -> str:
    """The oldest event date a daily run may still republish: the first day of the window the
    run scheduled today promotes."""
    return lookback_window(today - timedelta(days=1), lookback_days, earliest)[0]


def seal_due(
    partitions: Iterable[PublishedPartition], lookback_days: int, today: date, earliest: str
) -> list[PublishedPartition]:
    """Published partitions that have left the late-arrival window and are not sealed yet."""
    first_open = first_open_day(today, lookback_days, earliest)
    return [p for p in partitions if p.sealed_at is None and p.partition < first_open]


def compactable(
    partitions: Iterable[PublishedPartition], lookback_days: int, today: date, earliest: str
) -> list[PublishedPartition]:
    """Sealed partitions still outside the window (a longer lookback can reopen one), and not
    already compacted: a compacted version holds files of the target size."""
    first_open = first_open_day(today, lookback_days, earliest)
    return [
        p
        for p in partitions
        if p.sealed_at is not None
        and p.partition < first_open
        and not COMPACTED_FOLDER.search(p.location)
    ]


@dataclass(frozen=True)
class PartitionLayout:
    """A published version and the sizes of its data files (key -> bytes)."""

    published: PublishedPartition
    files: Mapping[str, int]

    @property
    def bytes(self) -> int:
        return sum(self.files.values())

    @property
    def average_file_bytes(self) -> float:
        return self.bytes / len(self.files) if self.files else 0.0


@dataclass(frozen=True)
class Candidate:
    layout: PartitionLayout
    planned_files: int


@dataclass(frozen=True)
class TargetSchema:
    """The dataset's current schema, which a migration rewrite casts a partition to."""

    version: str
    columns: Mapping[str, str]  # column -> field type


def holds_older_types(published: PublishedPartition, schema: TargetSchema) -> bool:
    """True when a column of the partition's files has another type than the schema's (a
    widening since it was published). A column it lacks is not one: every engine reads a
    missing column as null, so an added field never rewrites the table."""
    return any(schema.columns.get(name, kind) != kind for name, kind in published.columns.items())


def planned_files(total_bytes: int, target_file_bytes: int) -> int:
    """How many files of about the target size hold `total_bytes`. Spark's planner packs
    whole files largest first, so a pass can end with one file more than this."""
    return max(1, math.ceil(total_bytes / target_file_bytes))


def select(layouts: Sequence[PartitionLayout], selection: Selection) -> list[Candidate]:
    """Partitions of at least `min_files` files averaging under `small_file_mib`, where the
    rewrite leaves fewer files than there are."""
    chosen = []
    for layout in layouts:
        count = len(layout.files)
        if count < selection.min_files or layout.average_file_bytes >= selection.small_file_bytes:
            continue
        planned = planned_files(layout.bytes, selection.target_file_bytes)
        if planned < count:
            chosen.append(Candidate(layout, planned))
    return chosen
