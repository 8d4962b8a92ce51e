"""Dead-lettered payloads: listed from the raw-file index, replayed once their cause is fixed.

A payload is dead-lettered when it cannot be profiled under its source's declaration (ADR-0012).
When the cause was the declaration (a size limit, an encoding), fixing it makes the payload
readable: a replay profiles the raw original again (the raw zone, not the dead-letter copy, is
the record of what arrived) and, once it profiles, records it PROFILED in the index, so the next
promotion of its event dates picks it up. A replayed payload is no longer a dead letter, so a
second replay finds nothing to do: each payload joins the index once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from lake_assets.ingestion.intake import profile_raw_object
from lake_assets.ingestion.promotion_plan import file_partitions
from lake_assets.ingestion.raw_zone import RawFile
from lake_assets.ingestion.redelivery import settle_duplicate_counts
from lake_assets.ingestion.schema_registry import source_field
from lake_assets.settings import SourceConfig
from resources.notifier import Notifier
from resources.registry_store import RegistryStore
from resources.storage import LakeStorage


@dataclass(frozen=True)
class Replay:
    """What replaying one raw object did."""

    key: str
    status: str  # PROFILED | DEAD_LETTER (its cause is still there) | NOT_DEAD_LETTERED
    record: RawFile
    event_dates: tuple[str, ...] = ()  # the partitions a now-profiled payload feeds


def dead_letters(registry: RegistryStore, source_id: str) -> list[RawFile]:
    """The source's raw objects that are dead-lettered now, in key order."""
    return [r for r in registry.raw_files(source_id) if r.status == "DEAD_LETTER"]


def replay_dead_letter(
    storage: LakeStorage,
    registry: RegistryStore,
    notifier: Notifier,
    source: SourceConfig,
    raw_key: str,
    now: datetime | None = None,
) -> Replay:
    """Profile a dead-lettered raw object again under the source's current declaration."""
    record = registry.get_raw_file(source.source_id, raw_key)
    if record is None:
        raise LookupError(
            f"{raw_key} is not in the raw-file index of {source.source_id}; "
            f"`lake dead-letters list --source {source.source_id}` shows its dead letters"
        )
    if record.status != "DEAD_LETTER":
        return Replay(raw_key, "NOT_DEAD_LETTERED", record)
    info = storage.head(raw_key)
    if info is None:
        raise FileNotFoundError(f"{raw_key}: indexed but missing from the raw zone")
    outcome = profile_raw_object(
        storage, registry, notifier, source, info, now or datetime.now(UTC), again=True
    )
    settle_duplicate_counts(registry, source.source_id)  # its copies count its rows now
    record = registry.get_raw_file(source.source_id, raw_key)
    if outcome.status != "PROFILED":
        return Replay(raw_key, outcome.status, record)
    event_field = source_field(
        registry.version(source.source_id, record.version), source.partition_field
    )
    return Replay(raw_key, "PROFILED", record, tuple(sorted(file_partitions(record, event_field))))
