"""What a promotion run must read and how each input maps onto the curated schema.

Pure: registry versions and the raw-file index in, a JSON-serialisable plan out. The plan is
all the Spark job needs, so it can be handed to an EMR Serverless job through Dagster Pipes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

from lake_assets.ingestion.curated_columns import LINEAGE_COLUMNS, column_clashes, column_name
from lake_assets.ingestion.event_dates import partition_rows
from lake_assets.ingestion.payload_reading import DEFAULT_ENCODING
from lake_assets.ingestion.raw_zone import RawFile
from lake_assets.ingestion.schema_registry import (
    ACCEPTED,
    approval_command,
    blocking_version,
    canonical_schema,
    source_field,
)
from lake_assets.ingestion.schema_versions import SchemaVersion


class SchemaDriftBlocked(RuntimeError):
    """Promotion refused: the source's newest schema is BREAKING and nobody approved it."""

    def __init__(self, version: SchemaVersion):
        self.version = version
        fields = sorted(
            {*version.field_diff.removed, *version.field_diff.narrowed, *version.field_diff.changed}
        )
        candidates = "; ".join(
            f"{c.old} -> {c.new} ({c.confidence:.2f})" for c in version.field_diff.renamed
        )
        super().__init__(
            f"promotion of {version.source_id} refused: schema {version.version} is BREAKING "
            f"({'; '.join(version.violations)}); fields: {', '.join(fields)}"
            + (f"; proposed renames: {candidates}" if candidates else "")
            + f". Review the changes, then approve them as proposed: {approval_command(version)}"
        )


@dataclass(frozen=True)
class PlannedInput:
    """A group of raw files written under one schema version."""

    version: str
    format: str
    uris: tuple[str, ...]
    keys: tuple[str, ...]
    # source field (dotted for nested JSON) -> canonical column
    column_map: dict[str, str]
    # raw key -> when it landed (ISO), the processing time of its rows
    landed_at: dict[str, str] = field(default_factory=dict)
    json_array: bool = False  # each file is one JSON array of records, not JSON lines
    encoding: str = "UTF-8"
    # raw key -> records profiling counted in it (rows and malformed), for the audit
    records: dict[str, int] = field(default_factory=dict)
    # raw key -> malformed records among them, where profiling found any (ADR-0185)
    malformed: dict[str, int] = field(default_factory=dict)
    # JSON lines in UTF-8 of which profiling found every record to be an object (no malformed
    # line): Spark's JSON reader may read them (raw_records._object_lines, ADR-0123).
    objects_only: bool = False
    # source field -> the key sequences profiling found it under where its dotted name does
    # not tell them (a key holding a dot below the top level; raw_records._key_paths)
    key_paths: dict[str, list[list[str]]] = field(default_factory=dict)


@dataclass(frozen=True)
class Reference:
    """Published partitions of another dataset a referential rule checks keys against."""

    dataset: str
    uris: tuple[str, ...]  # the data files of the published versions, as manifests list them
    columns: dict[str, str]
    # Per promoted partition, the run of the reference's version read for it (none if the
    # reference had not published it): what the partition was checked against (ADR-0132).
    versions: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PromotionPlan:
    dataset: str
    partitions: tuple[str, ...]
    event_time_column: str
    columns: dict[str, str]  # canonical column -> field type, in output order
    inputs: tuple[PlannedInput, ...]
    schema_version: str  # newest accepted version the plan was made against
    contract: dict | None = None  # the dataset's data contract, as loaded from its YAML
    references: dict[str, Reference] = field(default_factory=dict)  # by referential rule name
    partitioning: str = "event_date"  # or "ingest_date": rows go by the day their file landed

    @property
    def input_keys(self) -> list[str]:
        return [key for group in self.inputs for key in group.keys]

    @property
    def malformed_profiled(self) -> dict[str, int]:
        """Raw key -> malformed records profiling counted in it, for the files with any."""
        return {key: n for group in self.inputs for key, n in group.malformed.items()}

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> PromotionPlan:
        data = dict(data)
        data["partitions"] = tuple(data["partitions"])
        data["inputs"] = tuple(
            PlannedInput(**{**g, "uris": tuple(g["uris"]), "keys": tuple(g["keys"])})
            for g in data["inputs"]
        )
        data["references"] = {
            rule: Reference(**{**r, "uris": tuple(r["uris"])})
            for rule, r in data.get("references", {}).items()
        }
        return cls(**data)


def file_partitions(record: RawFile, event_field: str | None) -> set[str]:
    """The event-date partitions a raw file contributes rows to. Rows with no event time
    (malformed lines included) are assigned to the file's ingest date, where promotion
    quarantines them with a reason."""
    if event_field in record.field_dates and not record.date_rows:  # indexed before date_rows
        dates = set(record.field_dates[event_field])
        if record.field_nulls.get(event_field, 0) or record.malformed_rows or not dates:
            dates.add(record.ingest_date)
        return dates
    return set(partition_rows(record, event_field))


def latest_deliveries(
    records: Sequence[RawFile],
    partitions_of: Callable[[RawFile], set[str]],
    duplicates: Sequence[RawFile] = (),
) -> list[RawFile]:
    """For a snapshot source: drop each file whose every event date was delivered again later.

    A snapshot file is the whole state of its dates, so a re-delivery (a correction) replaces
    the earlier file instead of adding its rows twice. The replaced file stays in the raw zone.
    A DUPLICATE (the same bytes again) delivers its original again: after A, B and A again,
    A is the latest state, promoted from the original's object.
    """
    landed = {r.key: r.landed_at or r.profiled_at for r in records}
    for copy in duplicates:
        if copy.duplicate_of in landed:
            stamp = copy.landed_at or copy.profiled_at
            landed[copy.duplicate_of] = max(landed[copy.duplicate_of], stamp)
    newest: dict[str, tuple[str, str]] = {}
    for record in records:
        stamp = (landed[record.key], record.key)
        for partition in partitions_of(record):
            newest[partition] = max(newest.get(partition, stamp), stamp)
    return [
        r for r in records if any(newest[p] == (landed[r.key], r.key) for p in partitions_of(r))
    ]


def plan_promotion(
    dataset: str,
    event_time_field: str,
    payload_format: str,
    partitions: Sequence[str],
    versions: Sequence[SchemaVersion],
    raw_files: Sequence[RawFile],
    uri_of,
    delivery: str = "events",
    encoding: str = "UTF-8",
    partitioning: str = "event_date",
) -> PromotionPlan:
    """Plan the promotion of `partitions` (event dates) of one source.

    Raises SchemaDriftBlocked while a BREAKING version is unapproved: promoting then would
    publish partitions silently missing the renamed or removed fields.
    """
    blocking = blocking_version(versions)
    if blocking is not None:
        raise SchemaDriftBlocked(blocking)
    accepted = {v.version: v for v in versions if v.status in ACCEPTED}
    if not accepted:
        raise LookupError(f"{dataset}: no accepted schema version yet; profile its raw files first")
    columns = canonical_schema(versions)
    if clashes := column_clashes(columns):
        # Profiling, registration and approval refuse such fields (ADR-0186): a registry from
        # before them.
        raise LookupError(
            f"{dataset}: its accepted schema versions hold fields that cannot each be a curated "
            f"column: {'; '.join(clashes)}"
        )
    curated = {column_name(c): kind for c, kind in columns.items()}
    if event_time_field not in columns:
        raise LookupError(
            f"{dataset}: event-time field {event_time_field!r} is in no accepted version "
            f"(fields: {', '.join(columns)})"
        )
    wanted = set(partitions)
    partition_field = event_time_field if partitioning == "event_date" else None

    def partitions_of(record: RawFile) -> set[str]:
        return file_partitions(record, source_field(accepted[record.version], partition_field))

    readable = [r for r in raw_files if r.status == "PROFILED" and r.version in accepted]
    if delivery == "snapshot":
        copies = [r for r in raw_files if r.status == "DUPLICATE"]
        readable = latest_deliveries(readable, partitions_of, copies)
    # JSON lines in UTF-8 of which profiling found every record an object: Spark's JSON reader
    # may read them (raw_records._object_lines, ADR-0123).
    lines = payload_format == "json" and encoding == DEFAULT_ENCODING

    def objects_only(record: RawFile) -> bool:
        return lines and not record.json_array and not record.malformed_rows

    # A group is read in one go: one schema version, one layout, one reader.
    groups: dict[tuple[str, bool, bool], list[RawFile]] = defaultdict(list)
    for record in readable:
        if partitions_of(record) & wanted:
            groups[record.version, record.json_array, objects_only(record)].append(record)
    inputs = []
    for version_id, json_array, objects_only in sorted(groups):
        version, records = accepted[version_id], groups[version_id, json_array, objects_only]
        inputs.append(
            PlannedInput(
                version=version_id,
                format=payload_format,
                uris=tuple(uri_of(r.key) for r in records),
                keys=tuple(r.key for r in records),
                column_map={
                    name: column_name(version.approved_renames.get(name, name))
                    for name in version.fields
                },
                landed_at={r.key: r.landed_at for r in records if r.landed_at},
                json_array=json_array,
                encoding=encoding,
                records={r.key: r.row_count + r.malformed_rows for r in records},
                malformed={r.key: r.malformed_rows for r in records if r.malformed_rows},
                objects_only=objects_only,
                key_paths=_recorded_key_paths(records, version.fields),
            )
        )
    return PromotionPlan(
        dataset=dataset,
        partitions=tuple(sorted(wanted)),
        event_time_column=column_name(event_time_field),
        columns={**curated, **LINEAGE_COLUMNS},
        inputs=tuple(inputs),
        schema_version=max(accepted),
        partitioning=partitioning,
    )


def _recorded_key_paths(
    records: Sequence[RawFile], fields: dict[str, str]
) -> dict[str, list[list[str]]]:
    """The group's fields' key sequences as its files' profiles recorded them, each once
    (raw_records._key_paths reads by them)."""
    found: dict[str, list[list[str]]] = {}
    for record in records:
        for name, paths in record.key_paths.items():
            if name in fields:
                found.setdefault(name, [])
                found[name] += [p for p in paths if p not in found[name]]
    return found


def partition_inputs(
    plan: PromotionPlan,
    partition_field: str | None,
    versions: Sequence[SchemaVersion],
    raw_files: Sequence[RawFile],
) -> dict[str, list[RawFile]]:
    """For each partition of the plan, its raw files: its fan-in, for lineage and for the
    identity of what was published (same files, same data). One pass over the files."""
    planned, by_version = set(plan.input_keys), {v.version: v for v in versions}
    inputs: dict[str, list[RawFile]] = {p: [] for p in plan.partitions}
    for record in raw_files:
        if record.key not in planned:
            continue
        field = source_field(by_version[record.version], partition_field)
        for partition in file_partitions(record, field) & inputs.keys():
            inputs[partition].append(record)
    return inputs
