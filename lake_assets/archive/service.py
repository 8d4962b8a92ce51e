"""Find the archived objects among a job's inputs, and restore a source's days (LakeStorage)."""

from __future__ import annotations

from collections.abc import Iterable

from lake_assets.archive.model import (
    ARCHIVE_CLASSES,
    ArchivedInputsError,
    Thaw,
    Thawing,
    restore_problem,
    thaw_of,
    waiting,
)
from lake_assets.ingestion.promotion_plan import file_partitions
from resources.registry_store import RegistryStore
from resources.storage import LakeStorage


def thaw_states(storage: LakeStorage, keys: Iterable[str]) -> tuple[dict[str, Thaw], dict]:
    """The state of each key, and the storage class of the archived ones. One listing per
    folder gives every object's class; only archived objects cost a HeadObject each (the
    restore status is in no listing), so a backfill of fresh days makes no per-file call."""
    keys = sorted(set(keys))
    if not storage.archives:  # not even a listing: a folder has one storage class
        return dict.fromkeys(keys, Thaw.AVAILABLE), {}
    folders = sorted({key.rsplit("/", 1)[0] + "/" for key in keys})
    listed = {info.key: info for folder in folders for info in storage.list(folder)}
    states, classes = {}, {}
    for key in keys:
        info = listed.get(key)
        if info is not None and info.storage_class in ARCHIVE_CLASSES:
            info = storage.head(key) or info
            classes[key] = info.storage_class
        states[key] = thaw_of(info) if info is not None else Thaw.AVAILABLE
    return states, classes


def refuse_archived(
    storage: LakeStorage, keys: Iterable[str], source: str, first: str, last: str
) -> None:
    """Raise ArchivedInputsError when any of `keys` cannot be read yet; a job that read
    them would fail midway on EMR, or quietly miss their rows."""
    states, _ = thaw_states(storage, keys)
    if unreadable := waiting(states):
        raise ArchivedInputsError(source, first, last, unreadable, states)


def raw_keys_of_days(
    registry: RegistryStore, source: str, event_field: str | None, first: str, last: str
) -> list[str]:
    """The raw objects whose rows belong to event dates first..last, as promotion plans them:
    a backfill of those days reads them (and a few more never hurt a restore)."""
    return [
        record.key
        for record in registry.raw_files(source)
        if any(first <= day <= last for day in file_partitions(record, event_field))
    ]


def restore_days(
    storage: LakeStorage,
    registry: RegistryStore,
    source: str,
    event_field: str | None,
    first: str,
    last: str,
    days: int,
    tier: str,
) -> Thawing:
    """Ask S3 to restore every archived raw object of `source`'s event dates first..last
    for `days`; objects already restoring or restored are left as they are, so running it
    again only reports progress."""
    keys = raw_keys_of_days(registry, source, event_field, first, last)
    states, classes = thaw_states(storage, keys)
    archived = [k for k, s in states.items() if s is Thaw.ARCHIVED]
    for key in archived:
        if problem := restore_problem(classes[key], tier):
            raise ValueError(f"{storage.uri(key)}: {problem}")
    for key in archived:
        storage.restore(key, days, tier)
        states[key] = Thaw.RESTORING
    return Thawing(source, first, last, states, classes, tuple(archived), tier)
