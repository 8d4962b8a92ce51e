"""The manifest beside each published folder: what the version holds (its data files, rows,
columns) and what it was built from. Every reader reads exactly the files it lists (ADR-0028)."""

from __future__ import annotations

import json

from resources.catalog import PublishedPartition
from resources.storage import LakeStorage

MANIFEST = "_manifest.json"


def read_manifest(storage: LakeStorage, published: PublishedPartition) -> dict:
    return read_manifest_at(storage, published.location)


def read_manifest_at(storage: LakeStorage, location: str) -> dict:
    """The manifest of the version in folder `location` (a superseded one too)."""
    return json.loads(storage.get_bytes(location + MANIFEST))


def write_manifest(storage: LakeStorage, location: str, manifest: dict) -> None:
    storage.put_bytes(location + MANIFEST, json.dumps(manifest, indent=2).encode())
