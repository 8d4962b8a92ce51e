"""A compaction pass, dataset by dataset: seal, clean up after dead runs, pick, rewrite, publish.

Each partition is its own write-audit-publish: the rewrite goes to a folder of its own, the
rows are reconciled with the version it read, and the catalog pointer is switched under the
optimistic check that the partition is still at that version. If a writer published meanwhile
the switch is refused, the rewrite is deleted and the partition waits for the next pass: the
writer's version stays, nothing is lost or counted twice (ADR-0025). The run renews its
lease before each partition's rewrite and again before the switch: a run that outlived its
lease may have had its folder deleted by the run that took the lease over, so it aborts the
partition and publishes nothing (ADR-0200).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

from dagster import AssetExecutionContext

from lake_assets.compaction.model import CompactionRecord, Outcome
from lake_assets.compaction.planning import (
    Candidate,
    PartitionLayout,
    TargetSchema,
    compactable,
    holds_older_types,
    is_data_file,
    planned_files,
    seal_due,
    select,
)
from lake_assets.compaction.policy import CompactionPolicy
from lake_assets.lineage.emitter import LineageRecorder, recorder_for
from lake_assets.lineage.model import LineageRun, partition_address, partition_outputs
from lake_assets.runtime.jobs import RunJob
from lake_assets.settings import Settings, SourceConfig
from lake_assets.tables.locations import compacted_location
from lake_assets.tables.manifest import read_manifest
from lake_assets.tables.publish import publish
from lake_assets.tables.reader import published_files
from resources.catalog import PartitionCatalog, PublishedPartition, StalePublish
from resources.compaction_history import CompactionBusy, CompactionHistory, LeaseLost
from resources.storage import LakeStorage

# Recorded in lineage events; bump when what a compaction or a migration writes changes.
COMPACTION_CODE_VERSION = "compaction-v1"
MIGRATION_CODE_VERSION = "schema-migration-v1"


class CompactionAuditFailed(RuntimeError):
    """The rewrite does not hold the rows of the version it read; nothing was published."""


class SchemaMigrationIncomplete(RuntimeError):
    """Some partitions still hold older types; the caller must not publish under the new
    schema yet. A rerun migrates what is left."""

    def __init__(self, dataset: str, version: str, unfinished: list[CompactionRecord]):
        self.unfinished = unfinished
        reasons = "; ".join(f"{r.partition}: {r.outcome}, {r.reason}" for r in unfinished)
        super().__init__(
            f"{dataset}: migrating published partitions to schema {version} did not finish "
            f"({reasons}); nothing was published under {version}. Re-run the promotion: "
            "migrated partitions are kept, the rest are retried."
        )


@dataclass
class DatasetPass:
    """What one pass did (or, dry, would do) for one dataset."""

    dataset: str
    sealed: list[str] = field(default_factory=list)
    cleaned: list[CompactionRecord] = field(default_factory=list)  # dead runs cleaned up
    candidates: list[Candidate] = field(default_factory=list)
    records: list[CompactionRecord] = field(default_factory=list)
    busy: str | None = None  # why the pass did not run: another run holds the lease


@dataclass(frozen=True)
class CompactionPass:
    """One compaction run over the lake: its resources, identity and policy."""

    # Runs a registered Spark job on a plan and returns its result (the profile's runner, in
    # the Dagster step or for a `lake` command); a dry run runs none.
    run_spark: RunJob
    storage: LakeStorage
    catalog: PartitionCatalog
    history: CompactionHistory
    recorder: LineageRecorder
    policy: CompactionPolicy
    run_id: str
    earliest: str  # the first partition of the lake (settings.partitions_start)
    progress: Callable[[str], None] = print

    def run(self, source: SourceConfig, today: date, dry_run: bool = False) -> DatasetPass:
        """Seal what left the window, then, holding the dataset's lease, clean up after dead
        runs and compact every qualifying partition. A dry run writes nothing."""
        dataset = source.source_id
        done = DatasetPass(dataset)
        listed = self.catalog.partitions(dataset)
        due = seal_due(listed, source.lookback_days, today, self.earliest)
        done.sealed = [p.partition for p in due] if dry_run else self.seal(due)
        if dry_run:
            sealed = {p.partition: replace(p, sealed_at="dry run") for p in due}
            partitions = [sealed.get(p.partition, p) for p in listed]
            done.candidates = self.candidates(partitions, source, today)
            return done
        try:
            with self.history.lease(dataset, self.run_id):
                done.cleaned = self.clean_up_dead_runs(dataset)
                done.candidates = self.candidates(self.catalog.partitions(dataset), source, today)
                done.records = [self.compact(candidate) for candidate in done.candidates]
        except CompactionBusy as busy:
            self.progress(f"{dataset}: skipped, {busy}")
            done.busy = str(busy)
        return done

    def seal(self, due: list[PublishedPartition]) -> list[str]:
        sealed = []
        for published in due:
            try:
                self.catalog.seal(published, datetime.now(UTC).isoformat())
            except StalePublish:
                # Republished since it was listed (a late fold-in): sealed by the next pass.
                continue
            sealed.append(published.partition)
        if sealed:
            self.progress(f"{due[0].dataset}: sealed {', '.join(sealed)}")
        return sealed

    def candidates(
        self, partitions: list[PublishedPartition], source: SourceConfig, today: date
    ) -> list[Candidate]:
        layouts = []
        for published in compactable(partitions, source.lookback_days, today, self.earliest):
            # The manifest's file count rules most partitions out without listing them.
            manifest = read_manifest(self.storage, published)
            if len(manifest["files"]) < self.policy.selection.min_files:
                continue
            layouts.append(PartitionLayout(published, published_files(self.storage, published)))
        return select(layouts, self.policy.selection)

    def clean_up_dead_runs(self, dataset: str) -> list[CompactionRecord]:
        """Finish the records of runs that died mid-way, which the lease proves dead: a folder
        the catalog never pointed at is deleted (`abandoned`); one it did point at was
        published just before the run died (`compacted`). A run still alive past its lease
        loses nothing by it: its renewal before the switch fails, and it publishes nothing."""
        referenced = {p.location for p in self.catalog.partitions(dataset)} | {
            s.location
            for s in self.catalog.superseded(datetime.max.replace(tzinfo=UTC))
            if s.dataset == dataset
        }
        cleaned = []
        for record in self.history.records(dataset):
            if record.outcome != "started" or record.run_id == self.run_id:
                continue
            if record.location in referenced:
                files = self._data_files(record.location)
                finished = record.finished(
                    "compacted",
                    files_after=len(files),
                    bytes_after=sum(files.values()),
                    reason="published; its run ended before recording it (duration unknown)",
                )
            else:
                self.storage.delete_prefix(record.location)
                finished = record.finished(
                    "abandoned", reason=f"run died; {self.run_id} removed its staging"
                )
                self.progress(f"{dataset}: removed {record.location} of dead run {record.run_id}")
            self.history.record(finished)
            cleaned.append(finished)
        return cleaned

    def _data_files(self, location: str) -> dict[str, int]:
        return {
            info.key: info.size for info in self.storage.list(location) if is_data_file(info.key)
        }

    def migrate(
        self, dataset: str, schema: TargetSchema, keep: Collection[str] = ()
    ) -> list[CompactionRecord]:
        """Rewrite every published partition whose files hold an older type than `schema` (or
        no file at all) cast to it, holding the dataset's lease: each partition its own write-
        audit-publish, so a reader sees it before or after, never between (ADR-0027).
        Partitions in `keep` are left alone (the caller republishes them). Idempotent: a
        migrated partition's columns are the schema's, so a rerun rewrites only the rest.
        Raises SchemaMigrationIncomplete if a partition could not be migrated."""
        if not self._migration_due(dataset, schema, keep):
            return []  # the common case: no lease taken, no Spark started
        with self.history.lease(dataset, self.run_id):
            self.clean_up_dead_runs(dataset)
            target = self.policy.selection.target_file_bytes
            records = [
                self.compact(Candidate(layout, planned_files(layout.bytes, target)), schema)
                for layout in self._migration_due(dataset, schema, keep)
            ]
        unfinished = [r for r in records if r.outcome != "compacted"]
        if unfinished:
            raise SchemaMigrationIncomplete(dataset, schema.version, unfinished)
        return records

    def _migration_due(
        self, dataset: str, schema: TargetSchema, keep: Collection[str]
    ) -> list[PartitionLayout]:
        due = []
        for published in self.catalog.partitions(dataset):
            older = holds_older_types(published, schema)
            # Only an empty partition can lack a file (published before each carried one).
            if published.partition in keep or not (older or published.row_count == 0):
                continue
            files = published_files(self.storage, published)
            if older or not files:
                due.append(PartitionLayout(published, files))
        return due

    def compact(self, candidate: Candidate, schema: TargetSchema | None = None) -> CompactionRecord:
        """Rewrite one partition and switch its pointer if it is still at the version read;
        with `schema`, cast to it (a migration)."""
        layout, clock = candidate.layout, time.perf_counter()
        current = layout.published
        dataset, partition = current.dataset, current.partition
        location = compacted_location(dataset, self.run_id, partition)
        # The version the rewrite publishes: the same data, at the target schema's types.
        rewritten = replace(current, location=location, run_id=self.run_id)
        if schema is not None:
            rewritten = replace(
                rewritten, columns=dict(schema.columns), schema_version=schema.version
            )
        started = CompactionRecord(
            run_id=self.run_id,
            dataset=dataset,
            partition=partition,
            started_at=datetime.now(UTC).isoformat(),
            outcome="started",
            replaced_run_id=current.run_id,
            location=location,
            files_before=len(layout.files),
            bytes_before=layout.bytes,
            rows=current.row_count,
            migrated_to=schema.version if schema else None,
        )
        try:
            # Each partition starts a full term, so a long run (a migration of hundreds of
            # partitions) keeps its lease; a run that lost it records and stages nothing more.
            self.history.renew(dataset, self.run_id)
        except LeaseLost as lost:
            return self._abort(started, clock, lost)
        self.history.record(started)
        self.progress(
            f"{dataset}[{partition}]: rewriting {len(layout.files)} files "
            f"({layout.bytes:,} bytes) into about {candidate.planned_files}"
            + (f", cast to schema {schema.version}" if schema else "")
        )
        address = partition_address(dataset, partition)
        lineage = LineageRun(
            # One lineage run per partition: each supersedes the run that built that partition.
            run_id=f"{self.run_id}/{partition}",
            job=f"{'schema-migration' if schema else 'compaction'}/{dataset}",
            partition=partition,
            inputs=tuple(sorted(layout.files)),
            outputs=(address,),
            started_at=started.started_at,
            code_version=MIGRATION_CODE_VERSION if schema else COMPACTION_CODE_VERSION,
            schema_version=rewritten.schema_version,
        )
        switched = False
        try:
            with self.recorder.track(lineage) as outputs:
                files, details = self._stage(layout, rewritten)
                # Fencing: past its lease, the run that took it over may have deleted this
                # folder as a dead run's, and the catalog must not point at what is left.
                self.history.renew(dataset, self.run_id)
                publish(self.catalog, self.storage, rewritten, files, current.run_id, details)
                switched = True
                outputs.extend(partition_outputs(dataset, partition, location, sorted(files)))
        except StalePublish as stale:
            return self._abort(started, clock, stale)  # publish removed the folder
        except LeaseLost as lost:
            self.storage.delete_prefix(location)
            return self._abort(started, clock, lost)
        except Exception as error:
            # After the switch the folder is the published version, whatever failed next (the
            # lineage record); its history record is finished by the next run's clean-up.
            if not switched:
                self.storage.delete_prefix(location)
                self._finish(started, clock, "failed", reason=f"{type(error).__name__}: {error}")
            raise
        written = self._data_files(location)
        record = self._finish(
            started,
            clock,
            "compacted",
            files_after=len(written),
            bytes_after=sum(written.values()),
        )
        self.progress(
            f"{dataset}[{partition}]: {record.files_before} -> {record.files_after} files, "
            f"{record.bytes_before:,} -> {record.bytes_after:,} bytes "
            f"in {record.duration_seconds:.1f} s"
        )
        return record

    def _stage(
        self, layout: PartitionLayout, version: PublishedPartition
    ) -> tuple[list[str], dict]:
        """Write and audit the compacted `version`; returns its files and what its manifest
        carries of the replaced version (raw inputs, quarantine), so lineage and `lake status`
        read it like any version."""
        current, location = layout.published, version.location
        migrating = version.columns != current.columns
        written = self.run_spark(
            "compaction_rewrite",
            {
                "source_uris": [self.storage.uri(key) for key in layout.files],
                "target_uri": self.storage.uri(location),
                "target_file_bytes": self.policy.selection.target_file_bytes,
                "columns": dict(version.columns) if migrating or not layout.files else None,
            },
        )["files"]
        rows = sum(written.values())
        if rows != current.row_count:
            raise CompactionAuditFailed(
                f"{current.dataset}[{current.partition}]: the rewrite holds {rows} rows,"
                f" version {current.run_id} holds {current.row_count}; nothing published"
            )
        replaced = read_manifest(self.storage, current)
        return list(written), {
            "rows_quarantined": replaced["rows_quarantined"],
            "quarantine_location": replaced["quarantine_location"],
            "inputs": replaced["inputs"],
            "compacted_from": {
                "run_id": current.run_id,
                "location": current.location,
                "files": len(layout.files),
                "bytes": layout.bytes,
                "schema_version": current.schema_version,
            },
        }

    def _abort(
        self, started: CompactionRecord, clock: float, why: StalePublish | LeaseLost
    ) -> CompactionRecord:
        self.progress(f"{started.dataset}[{started.partition}]: aborted, {why}")
        return self._finish(started, clock, "aborted", reason=str(why))

    def _finish(
        self, started: CompactionRecord, clock: float, outcome: Outcome, **changes
    ) -> CompactionRecord:
        record = started.finished(
            outcome, duration_seconds=round(time.perf_counter() - clock, 3), **changes
        )
        self.history.record(record)
        return record


def compaction_pass(
    settings: Settings,
    policy: CompactionPolicy,
    run_id: str,
    resources: Mapping[str, Any],
    progress: Callable[[str], None] = print,
    context: AssetExecutionContext | None = None,
) -> CompactionPass:
    """The pass over a profile's resources (the keys of resources.build_resources), running its
    Spark jobs on their `spark_runner` in the Dagster step `context`, or, without one, for a
    `lake` command."""
    storage = resources["storage"]
    return CompactionPass(
        run_spark=resources["spark_runner"].bound(context),
        storage=storage,
        catalog=resources["catalog"],
        history=resources["compaction_history"],
        recorder=recorder_for(resources["lineage"], settings.state_dir, storage.uri("")),
        policy=policy,
        run_id=run_id,
        earliest=settings.partitions_start,
        progress=progress,
    )
