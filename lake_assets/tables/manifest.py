"""The manifest beside each published folder: what the version holds (its data files, rows,
columns) and what it was built from. Every reader reads exactly the files it lists (ADR-0028)."""

from __future__ import annotations

import json
from dataclasses import MISSING

from resources.catalog import PublishedPartition
from resources.storage import LakeStorage

MANIFEST = "_manifest.json"
# What a manifest records of its catalog entry: publish (tables/publish.py) writes `asdict(entry)`
# beside `files` and the version's details.
ENTRY_FIELDS = frozenset(PublishedPartition.__dataclass_fields__)
# Those an older manifest cannot lack (a field added later, such as sealed_at, has a default).
_REQUIRED = frozenset(
    name
    for name, spec in PublishedPartition.__dataclass_fields__.items()
    if spec.default is MISSING and spec.default_factory is MISSING
)


def read_manifest(storage: LakeStorage, published: PublishedPartition) -> dict:
    return read_manifest_at(storage, published.location)


def read_manifest_at(storage: LakeStorage, location: str) -> dict:
    """The manifest of the version in folder `location` (a superseded one too)."""
    return json.loads(storage.get_bytes(location + MANIFEST))


def write_manifest(storage: LakeStorage, location: str, manifest: dict) -> None:
    storage.put_bytes(location + MANIFEST, json.dumps(manifest, indent=2).encode())


def entry_of(manifest: dict) -> PublishedPartition | None:
    """The catalog entry a manifest records; None for one written before manifests held it."""
    if not _REQUIRED <= set(manifest):
        return None
    return PublishedPartition(**{k: v for k, v in manifest.items() if k in ENTRY_FIELDS})
