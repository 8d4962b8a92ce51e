"""One derived partition, Dagster-free: gate -> plan -> Spark job -> output contract -> publish
or hold. assets.py wraps it; tests and benchmarks call it directly.

Nothing is published unless every input passed the gate and the output passed its contract's
blocking rules: a held or blocked partition keeps its previously published version, and a
reader sees that version row for row (publish.py switches a partition's pointer or nothing).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from lake_assets.contracts.gate import PartitionVerdict, judge_partitions
from lake_assets.contracts.rules import SAMPLE_ROWS
from lake_assets.events.model import DataReady
from lake_assets.events.outbox import Announcement, stage
from lake_assets.ingestion.publish import PartialPublish
from lake_assets.layers.gate import InputState, gate
from lake_assets.layers.model import DerivedTable, PlanInputs
from lake_assets.lineage import LineageRun, partition_address, partition_outputs
from lake_assets.lineage.emitter import LineageRecorder
from lake_assets.runtime.jobs import RunJob
from lake_assets.tables.locations import published_location, published_root
from lake_assets.tables.publish import publish, version_of
from lake_assets.tables.reader import published_uris, resolve_published
from resources.catalog import PartitionCatalog, PublishedPartition, StalePublish
from resources.event_store import EventStore
from resources.storage import LakeStorage

DERIVED = "derived"  # the schema version derived tables publish under: declared, not inferred


@dataclass
class StepOutcome:
    partition: str
    held_by: tuple[str, ...] = ()  # gate reasons, or the output's blocking rules
    published: PublishedPartition | None = None
    verdict: PartitionVerdict | None = None  # the output contract's, when the job ran
    rows_in: dict[str, int] = field(default_factory=dict)  # input dataset -> rows read
    rows_out: int = 0
    left_out: tuple[str, ...] = ()
    result: dict = field(default_factory=dict)  # what the job returned
    # A sliced table's (DerivedTable.slices) catalog partitions this build published; none
    # when no slice changed (a replayed day).
    published_slices: list[PublishedPartition] = field(default_factory=list)
    started_at: str = ""  # when a build that ran began, before it read its inputs

    @property
    def published_any(self) -> bool:
        return self.published is not None or bool(self.published_slices)

    @property
    def blocked_by_contract(self) -> tuple[str, ...]:
        return tuple(self.verdict.blocked_by) if self.verdict else ()


def derived_plan(
    table: DerivedTable,
    partition: str,
    resolved: dict[str, dict | None],
    catalog: PartitionCatalog,
    storage: LakeStorage,
    output_uri: str,
    slices: dict[str, list[str]] | None = None,
) -> dict:
    """The plan of `table`'s job for `partition`: its inputs as resolved (dataset ->
    tables.reader.resolve_published, or None), where to write, the declared columns, the output
    contract, and the table's own extra; for a sliced table, the files of each slice it
    rewrites (slice -> the current version's files, [] for a new one)."""
    extra = (
        table.plan_extra(PlanInputs(partition, resolved, catalog, storage))
        if table.plan_extra
        else {}
    )
    return {
        "inputs": resolved,
        "partition": partition,
        "output_uri": output_uri,
        **({"slices": slices} if slices is not None else {}),
        "columns": dict(table.columns),
        "contract": table.contract.model_dump(by_alias=True, mode="json")
        if table.contract
        else None,
        **extra,
    }


@dataclass(frozen=True)
class StepPlan:
    """What a build of one partition reads and rewrites, where it writes, and its job's plan."""

    read: dict[str, list[PublishedPartition]]  # input dataset -> the versions read
    current: dict[str, PublishedPartition | None]  # catalog partition -> version it replaces
    version: str  # the run id the written partitions publish under
    folder: str  # the lake key the job writes under
    plan: dict


def step_plan(
    table: DerivedTable,
    partition: str,
    run_id: str,
    catalog: PartitionCatalog,
    storage: LakeStorage,
    left_out: Sequence[str] = (),
) -> StepPlan:
    """The plan of `table`'s build of `partition` over the catalog's current input versions,
    the inputs in `left_out` (optional ones the gate left out) resolved as None."""
    read: dict[str, list[PublishedPartition]] = {}
    resolved: dict[str, dict | None] = {}
    for spec in table.inputs:
        versions = [
            v for p in spec.partitions(partition) if (v := catalog.current(spec.dataset, p))
        ]
        read[spec.dataset] = versions
        resolved[spec.dataset] = (
            resolve_published(catalog, storage, spec.dataset, [v.partition for v in versions])
            if versions and spec.dataset not in left_out
            else None
        )
    version = run_id
    if table.slices is None:
        current = {partition: catalog.current(table.dataset, partition)}
        folder = published_location(table.dataset, run_id, partition)
        slices = None
    else:
        current = dict(table.slices(PlanInputs(partition, resolved, catalog, storage)))
        # One run may build several days (a range), and two days may rewrite the same slice:
        # each day's slices are a version of their own, in a folder of their own.
        version = f"{run_id}-{partition}"
        folder = published_root(table.dataset, version)
        slices = {s: published_uris(storage, v) if v else [] for s, v in current.items()}
    plan = derived_plan(table, partition, resolved, catalog, storage, storage.uri(folder), slices)
    return StepPlan(read, current, version, folder, plan)


def _references_published(
    table: DerivedTable, partition: str, read: dict[str, list[PublishedPartition]]
) -> dict[tuple[str, str], datetime | None]:
    """When each referential rule's reference published the version the build read (an input
    of the same day, so published: the gate held the build otherwise)."""
    published = {}
    for rule in table.contract.rules_of("referential_integrity"):
        versions = read.get(rule.check.references.dataset) or []
        published[(rule.name, partition)] = (
            datetime.fromisoformat(versions[-1].published_at) if versions else None
        )
    return published


def _name_orphans(verdict: PartitionVerdict, written, contract) -> None:
    """A referential rule's outcome names its first orphan keys (job.write_audited samples
    them), so its check says which keys to look up in the reference, not only how many."""
    for rule in contract.rules_of("referential_integrity"):
        keys = sorted({k for w in written for k in w.get("orphan_keys", {}).get(rule.name, [])})
        outcome = verdict.rules[rule.name]
        if keys and outcome.violations:
            shown = ", ".join(keys[:SAMPLE_ROWS]) + (", ..." if len(keys) > SAMPLE_ROWS else "")
            outcome.detail = (
                f"{outcome.violations} violating rows, {rule.check.column} not in "
                f"{rule.check.references.dataset}: {shown}"
            )


def run_step(
    table: DerivedTable,
    partition: str,
    run_id: str,
    states: Sequence[InputState],
    catalog: PartitionCatalog,
    storage: LakeStorage,
    recorder: LineageRecorder,
    run_job: RunJob,
    events: EventStore | None = None,
    now: datetime | None = None,
) -> StepOutcome:
    """Build `partition` of `table` unless the gate holds it; `states` are the last attempts at
    its inputs' partitions (assets.py reads them from Dagster's event log). With `events`, the
    publish stages its data-ready event (events/outbox.py), identified by the input versions it
    was built from: rebuilt from the same versions, it is a duplicate that triggers nothing."""
    began = datetime.now(UTC).isoformat()
    verdict = gate(table, partition, states)
    if not verdict.builds:
        return StepOutcome(partition, held_by=verdict.held_by, left_out=verdict.left_out)
    planned = step_plan(table, partition, run_id, catalog, storage, verdict.left_out)
    read, current, version, plan = planned.read, planned.current, planned.version, planned.plan
    folder = planned.folder
    inputs = tuple(partition_address(d, v.partition) for d, vs in read.items() for v in vs)
    started = LineageRun(
        run_id=run_id,
        job="/".join(table.asset),
        partition=partition,
        inputs=inputs,
        outputs=tuple(partition_address(table.dataset, s) for s in sorted(current)),
        started_at=datetime.now(UTC).isoformat(),
        schema_version=DERIVED,
        column_lineage={c: list(v) for c, v in table.column_lineage.items()},
    )
    outcome = StepOutcome(
        partition,
        left_out=verdict.left_out,
        rows_in={d: sum(v.row_count for v in vs) for d, vs in read.items()},
        started_at=began,
    )
    with recorder.track(started) as outputs:
        outcome.result = result = run_job(table.job, plan)
        # What was written, per catalog partition: a sliced job reports the slices it rewrote.
        written = result["slices"] if table.slices else {partition: result}
        outcome.rows_out = sum(w["rows"] for w in written.values())
        if table.contract is not None:  # judged over everything this build wrote
            violations: dict[str, int] = {}
            for w in written.values():
                for rule, count in w["violations"].items():
                    violations[rule] = violations.get(rule, 0) + count
            outcome.verdict = judge_partitions(
                table.contract,
                [partition],
                {partition: violations},
                {partition: outcome.rows_out},
                {p.partition: p.row_count for p in catalog.partitions(table.dataset)},
                _references_published(table, partition, read),
                now or datetime.now(UTC),
            )[partition]
            _name_orphans(outcome.verdict, written.values(), table.contract)
        if outcome.blocked_by_contract:
            # Never resolved by anyone: the folder goes, the published versions stay.
            storage.delete_prefix(folder)
            outcome.held_by = outcome.blocked_by_contract
            return outcome
        built_from = sorted(
            f"{v.dataset}[{v.partition}]@{v.run_id}" for vs in read.values() for v in vs
        )
        for number, (part, w) in enumerate(sorted(written.items())):
            entry = PublishedPartition(
                dataset=table.dataset,
                partition=part,
                location=published_location(table.dataset, version, part),
                run_id=version,
                published_at=datetime.now(UTC).isoformat(),
                row_count=w["rows"],
                schema_version=DERIVED,
                columns=dict(table.columns),
            )
            addresses = partition_outputs(table.dataset, part, entry.location, w["files"])
            try:
                publish(
                    catalog,
                    storage,
                    entry,
                    w["files"],
                    version_of(current[part]),
                    {"built_from": list(inputs), "rows_in": outcome.rows_in},
                    before_switch=None
                    if events is None
                    else lambda e, addresses=addresses: stage(
                        events,
                        Announcement(
                            DataReady.from_published(e, built_from),
                            addresses,
                            datetime.now(UTC).isoformat(),
                        ),
                    ),
                )
            except StalePublish as error:
                if table.slices is None:
                    raise
                done = [p.partition for p in outcome.published_slices]
                pending = sorted(written)[number + 1 :]
                raise PartialPublish(table.dataset, done, part, pending, error) from None
            if table.slices is None:
                outcome.published = entry
            else:
                outcome.published_slices.append(entry)
            # Claimed only once published: a failed publish records no outputs.
            outputs.extend(addresses)
    return outcome
