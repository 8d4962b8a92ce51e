"""Landing payloads in the raw zone and profiling them on arrival.

Dagster-free so that the `lake` command line, the sensor-triggered registry asset and tests all
run the same code. Landing never rejects a payload; profiling decides whether a payload joins a
schema version or goes to the dead-letter zone, and it is idempotent per (object key, etag).
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path

from lake_assets.ingestion.event_dates import index_event_dates
from lake_assets.ingestion.payload_errors import MalformedPayload
from lake_assets.ingestion.payload_reading import is_json_array, utf8_view
from lake_assets.ingestion.profiling import profile_file
from lake_assets.ingestion.raw_decisions import hold_empty_snapshot
from lake_assets.ingestion.raw_zone import (
    PartitionCalendar,
    RawFile,
    landing_name,
    parse_raw_key,
    raw_key_problem,
    raw_source_of,
    received_record,
)
from lake_assets.ingestion.redelivery import (
    content_sha256,
    recognise_redelivery,
    settle_duplicate_counts,
)
from lake_assets.ingestion.schema_registry import (
    approval_command,
    describe_diff,
    register_observation,
    source_field,
)
from lake_assets.ingestion.schema_versions import SchemaVersion
from lake_assets.pipelines.hooks import NO_HOOKS, PipelineHooks, hooks_of, partition_date
from lake_assets.settings import SourceConfig
from lake_assets.tables.locations import (
    PLATFORM_RAW_SOURCES,
    dead_letter_key,
    raw_key,
    raw_prefix,
)
from resources.notifier import Alert, Notifier
from resources.registry_store import RegistryStore
from resources.storage import LakeStorage, ObjectInfo

log = logging.getLogger("lakehouse.intake")

# Spaces, '%', '#' and the like are escaped differently by S3, Hadoop and shells; a key made of
# these characters only is the same string everywhere.
UNSAFE_KEY_CHARACTERS = re.compile(r"[^A-Za-z0-9._-]")


@dataclass(frozen=True)
class LandedPayload(ObjectInfo):
    """A landed raw object, its bytes' hash, and the original it re-delivers, if it does."""

    sha256: str = ""
    duplicate_of: str | None = None


def land_payload(
    storage: LakeStorage,
    source: SourceConfig,
    local_path: Path | str,
    ingest_date: date | str | None = None,
    now: datetime | None = None,
    *,
    registry: RegistryStore | None = None,
    notifier: Notifier | None = None,
) -> LandedPayload:
    """Store a payload byte for byte under raw/source=<id>/ingest_date=<d>/.

    The object name is prefixed with the landing time and a short random id, so two
    deliveries of a file with the same name never overwrite each other. Given the registry
    and notifier, a payload with the bytes of an earlier one is recorded as its duplicate
    (kept, never promoted); without them profiling recognises it.
    """
    now = now or datetime.now(UTC)
    local_path = Path(local_path)
    if not local_path.is_file():
        raise FileNotFoundError(f"cannot land {local_path}: no such file")
    ingest_date = now.date() if ingest_date is None else ingest_date
    safe_name = UNSAFE_KEY_CHARACTERS.sub("_", local_path.name)
    name = landing_name(now, uuid.uuid4().hex[:8], safe_name)
    sha256 = content_sha256(local_path)
    info = storage.put_file(raw_key(source.source_id, ingest_date, name), local_path)
    log.info("landed %s (%d bytes) as %s", local_path, info.size, info.key)
    duplicate = None
    if registry is not None and notifier is not None:
        duplicate = recognise_redelivery(registry, notifier, source, info, sha256, now)
    return LandedPayload(
        **vars(info), sha256=sha256, duplicate_of=duplicate.duplicate_of if duplicate else None
    )


@dataclass
class ProfileOutcome:
    """What profiling one raw object did."""

    key: str
    status: str  # PROFILED | HELD_EMPTY | DEAD_LETTER | DUPLICATE | ALREADY_PROFILED | HELD
    version: str | None = None
    new_version: SchemaVersion | None = None
    rows: int = 0
    reason: str | None = None
    dead_letter_key: str | None = None
    duplicate_of: str | None = None


@dataclass
class ProfilingSummary:
    outcomes: list[ProfileOutcome] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def new_versions(self) -> list[SchemaVersion]:
        return [o.new_version for o in self.outcomes if o.new_version is not None]


def profile_raw_object(
    storage: LakeStorage,
    registry: RegistryStore,
    notifier: Notifier,
    source: SourceConfig,
    info: ObjectInfo,
    now: datetime | None = None,
    calendar: PartitionCalendar | None = None,
    again: bool = False,
) -> ProfileOutcome:
    """Profile one raw object and record it; a second call for the same bytes does nothing,
    unless `again` (a dead letter replayed after its cause was fixed).

    An object whose key breaks the raw zone's grammar, or whose ingest date is outside
    `calendar`, is HELD: left unprofiled in raw and looked at again on the next pass."""
    now = now or datetime.now(UTC)
    parsed = parse_raw_key(info.key)
    if parsed is not None and parsed[0] != source.source_id:
        raise ValueError(f"{info.key} is not a raw object of source {source.source_id!r}")
    if reason := raw_key_problem(info.key, calendar):
        # Written by a producer outside `lake ingest`: kept in raw, not indexed, reported.
        return ProfileOutcome(info.key, "HELD", reason=reason)
    _, ingest_date, name = parsed
    known = registry.get_raw_file(source.source_id, info.key)
    if known is not None and known.etag == info.etag and not again:
        return ProfileOutcome(info.key, "ALREADY_PROFILED", version=known.version)

    record = received_record(source.source_id, info, "PROFILED", now)
    hooks = _hooks(source)
    try:
        with storage.local_path(info.key) as path:
            record.sha256 = content_sha256(path)
            duplicate = recognise_redelivery(registry, notifier, source, info, record.sha256, now)
            if duplicate is not None:
                return ProfileOutcome(info.key, "DUPLICATE", duplicate_of=duplicate.duplicate_of)
            if source.format == "custom":  # the reader takes the bytes as delivered
                profile = profile_file(
                    path,
                    "custom",
                    max_bytes=source.max_payload_bytes,
                    reader=hooks.reader,
                    encoding=source.encoding,
                )
            else:
                with utf8_view(path, source.encoding) as text:
                    profile = profile_file(text, source.format, max_bytes=source.max_payload_bytes)
                    record.json_array = source.format == "json" and is_json_array(text)
    except MalformedPayload as error:
        return _dead_letter(storage, registry, notifier, record, name, error.reason)
    record.replayed_at = now.isoformat() if again else None

    version, changed = register_observation(
        source.source_id,
        source.compatibility,
        profile,
        registry.versions(source.source_id),
        now,
    )
    new_version = next((v for v in changed if v.version == version.version), None)
    for written in changed:
        (registry.put_version if written is new_version else registry.update_version)(written)
    if version.is_blocking and version.alerted_at is None:
        _alert_breaking(notifier, version, info.key)
        registry.update_version(replace(version, alerted_at=now.isoformat()))
    record.version = version.version
    record.row_count = profile.row_count
    record.malformed_rows = profile.malformed_rows
    record.key_paths = profile.key_paths
    record.date_rows = index_event_dates(
        profile.date_rows,
        source_field(version, source.event_time_field),
        partial(partition_date, hooks.partitioner) if hooks.partitioner else None,
    )
    hold_empty_snapshot(notifier, source, record, profile)
    registry.put_raw_file(record)
    return ProfileOutcome(
        info.key,
        record.status,
        version=version.version,
        new_version=new_version,
        rows=profile.row_count,
    )


def _hooks(source: SourceConfig) -> PipelineHooks:
    """A generated pipeline's hooks, from its job module (imported when a file is profiled, never
    when the code location loads): its reader, and its partitioner, which maps the counted event
    dates as Spark maps the rows'. A source declared by hand has none."""
    if source.generation is None and source.format != "custom":
        return NO_HOOKS
    return hooks_of(source.source_id)


def _dead_letter(
    storage: LakeStorage,
    registry: RegistryStore,
    notifier: Notifier,
    record: RawFile,
    name: str,
    reason: str,
) -> ProfileOutcome:
    """Copy the payload to the dead-letter zone with its reason beside it. The raw original
    stays where it is: the raw zone is the immutable record of what was received."""
    target = dead_letter_key(record.source_id, record.ingest_date, name)
    storage.copy(record.key, target)
    storage.put_bytes(
        target + ".reason.json",
        json.dumps(
            {
                "raw_key": record.key,
                "etag": record.etag,
                "reason": reason,
                "at": record.profiled_at,
            },
            indent=2,
        ).encode(),
    )
    record.status, record.reason = "DEAD_LETTER", reason
    # Sent before the file is recorded: a send that fails leaves the file unprofiled, so the
    # next pass dead-letters it again and sends (at least once; ADR-0131).
    notifier.send(
        Alert(
            kind="payload.dead_lettered",
            subject=f"{record.source_id}: {name} dead-lettered",
            detail={
                "source_id": record.source_id,
                "raw_key": record.key,
                "dead_letter_key": target,
                "reason": reason,
            },
        )
    )
    registry.put_raw_file(record)
    return ProfileOutcome(record.key, "DEAD_LETTER", reason=reason, dead_letter_key=target)


def _alert_breaking(notifier: Notifier, version: SchemaVersion, key: str) -> None:
    notifier.send(
        Alert(
            kind="schema.breaking",
            subject=f"{version.source_id}: BREAKING schema {version.version}; promotion halted",
            detail={
                "source_id": version.source_id,
                "version": version.version,
                "first_seen_in": key,
                "violations": version.violations,
                "changes": describe_diff(version.field_diff),
                "rename_candidates": [
                    {"old": c.old, "new": c.new, "confidence": c.confidence}
                    for c in version.field_diff.renamed
                ],
                "resolve_with": approval_command(version),
            },
        )
    )


def pending_objects(
    storage: LakeStorage, registry: RegistryStore, source_id: str, ingest_date: str | None = None
) -> list[ObjectInfo]:
    """Raw objects of a source not yet profiled in their current form."""
    indexed = {r.key: r.etag for r in registry.raw_files(source_id)}
    return [
        info
        for info in storage.list(raw_prefix(source_id, ingest_date))
        if indexed.get(info.key) != info.etag
    ]


def profile_objects(
    storage: LakeStorage,
    registry: RegistryStore,
    notifier: Notifier,
    source: SourceConfig,
    objects: Iterable[ObjectInfo],
    now: datetime | None = None,
    calendar: PartitionCalendar | None = None,
) -> ProfilingSummary:
    summary = ProfilingSummary()
    for info in sorted(objects, key=lambda i: i.key):
        outcome = profile_raw_object(storage, registry, notifier, source, info, now, calendar)
        log.info("%s: %s %s", outcome.key, outcome.status, outcome.version or outcome.reason or "")
        summary.outcomes.append(outcome)
    held = [(o.key, o.reason) for o in summary.outcomes if o.status == "HELD"]
    if held:
        notifier.send(held_alert(source.source_id, held))
    if summary.count("PROFILED") + summary.count("DEAD_LETTER"):
        settle_duplicate_counts(registry, source.source_id)  # originals profiled after copies
    return summary


def owned(raw_source: str | None, declared: Collection[str]) -> bool:
    """Whether a raw folder's source is declared, or one the platform lands itself (the CUR)."""
    return raw_source in declared or raw_source in PLATFORM_RAW_SOURCES


def undeclared_raw_folders(storage: LakeStorage, declared: Collection[str]) -> dict[str, int]:
    """The folders under raw/ that no declared source owns, with their object counts: nobody
    profiles them, so `lake status` lists them (and fails) until a source is declared for them
    or the objects are moved."""
    counts = {
        folder: sum(1 for _ in storage.list(folder))
        for folder in storage.folders("raw/")
        if not owned(raw_source_of(folder), declared)
    }
    return {folder: n for folder, n in counts.items() if n}  # a local folder outlives its files


def undeclared_alert(keys: list[str]) -> Alert:
    """One alert for the raw objects of undeclared sources an arrival pass saw."""
    folders = sorted({"/".join(key.split("/")[:2]) + "/" for key in keys})
    return Alert(
        kind="raw.undeclared_source",
        subject=f"{len(keys)} raw objects under folders no declared source owns: "
        + ", ".join(folders[:5]),
        detail={
            "folders": folders,
            "raw_keys": keys[:100],
            "resolve_with": "nothing profiles them: declare the source (pipelines/<source>.yaml, "
            "`lake generate`), or land the objects again under a declared source's folder; "
            "`lake status` lists them until then.",
        },
    )


def held_alert(source_id: str, held: list[tuple[str, str]]) -> Alert:
    """One alert for the raw objects of a source held in one pass (sensor tick or profile)."""
    return Alert(
        kind="raw.held",
        subject=f"{source_id}: {len(held)} raw objects held: their keys have no partition",
        detail={
            "source_id": source_id,
            "held": [{"raw_key": key, "reason": reason} for key, reason in held[:100]],
            "resolve_with": "the objects stay in raw as received; land each again under a real "
            "ingest date with `lake ingest --source ... --ingest-date YYYY-MM-DD`. An object "
            "dated after today is profiled once its date has a partition.",
        },
    )
