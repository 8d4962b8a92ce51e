"""Re-deliveries recognised by content: the same bytes delivered twice are one delivery.

A producer's retry, an at-least-once upload or two concurrent `lake ingest` of one file put the
same bytes in raw twice, and promotion would add their rows twice. The first object of a source
to claim the bytes' SHA-256 (a conditional write in the registry store, so of racing claims one
wins) is the original. Every later one stays in raw, is recorded in the raw-file index as
DUPLICATE pointing at its original, is alerted, and is never promoted (promotion reads PROFILED
files only). A source whose identical files are distinct deliveries declares `redelivery: keep`.

Recognised at landing (`land_payload`) and, for objects producers write to raw directly, at
profiling; both call `recognise_redelivery`, which is idempotent per object.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from lake_assets.ingestion.raw_zone import RawFile, parse_raw_key, received_record
from lake_assets.settings import SourceConfig
from resources.notifier import Alert, Notifier
from resources.registry_store import RegistryStore
from resources.storage import ObjectInfo

_READ_BYTES = 8 << 20


def content_sha256(path: Path | str) -> str:
    """SHA-256 of a file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(_READ_BYTES):
            digest.update(block)
    return digest.hexdigest()


def recognise_redelivery(
    registry: RegistryStore,
    notifier: Notifier,
    source: SourceConfig,
    info: ObjectInfo,
    sha256: str,
    now: datetime,
) -> RawFile | None:
    """The DUPLICATE record of raw object `info` if an earlier object of its source claimed the
    same bytes (recorded and alerted here, once), else None: `info` is the original."""
    if source.redelivery == "keep":
        return None
    original = registry.claim_content(source.source_id, sha256, info.key)
    if original == info.key:
        return None
    known = registry.get_raw_file(source.source_id, info.key)
    if known is not None and known.etag == info.etag and known.status == "DUPLICATE":
        return known  # recorded by an earlier call (landing, then the profiling that follows)
    _, _, name = parse_raw_key(info.key)
    counted = registry.get_raw_file(source.source_id, original)
    record = received_record(source.source_id, info, "DUPLICATE", now)
    # Its rows are the original's; counted for reconciliation, never promoted. Until the
    # original is profiled they are unknown, and settle_duplicate_counts fills them in.
    record.row_count = counted.row_count if counted else 0
    record.malformed_rows = counted.malformed_rows if counted else 0
    record.sha256, record.duplicate_of = sha256, original
    registry.put_raw_file(record)
    notifier.send(
        Alert(
            kind="payload.duplicate",
            subject=f"{source.source_id}: {name} re-delivers the bytes of an earlier payload; "
            "recorded as a duplicate, not promoted",
            detail={
                "source_id": source.source_id,
                "raw_key": info.key,
                "duplicate_of": original,
                "sha256": sha256,
                "resolve_with": "nothing to do if it is a retry; a source that re-sends "
                "identical files on purpose declares `source.redelivery: keep` in its pipelines/<source>.yaml",
            },
        )
    )
    return record


def settle_duplicate_counts(registry: RegistryStore, source_id: str) -> int:
    """Give each duplicate its original's row counts (known once the original is profiled, or
    changed by a dead-letter replay); returns how many records changed."""
    records = registry.raw_files(source_id)
    by_key = {r.key: r for r in records}
    settled = 0
    for record in records:
        original = by_key.get(record.duplicate_of or "")
        if record.status != "DUPLICATE" or original is None:
            continue
        counts = (original.row_count, original.malformed_rows)
        if (record.row_count, record.malformed_rows) != counts:
            registry.put_raw_file(replace(record, row_count=counts[0], malformed_rows=counts[1]))
            settled += 1
    return settled
