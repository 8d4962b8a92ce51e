"""A declared derived table as a partitioned Dagster asset: the gate reads its inputs' last
attempts from Dagster's event log, step.py builds each partition of the run in order, and each
partition's materialization carries its own figures (rows in per input, rows out, the run id,
what held it back), with the gate and the output contract as partitioned checks."""

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetKey,
    AssetMaterialization,
    BackfillPolicy,
    DagsterInstance,
    MaterializeResult,
    MetadataValue,
    PartitionsDefinition,
    ResourceParam,
    asset,
)

from lake_assets.contracts.checks import contract_check_results, contract_check_specs
from lake_assets.events.attempts import BUILD_STARTED_AT, last_attempt
from lake_assets.events.outbox import drain
from lake_assets.ingestion.asset_metadata import PARTITION_ROW_COUNT, URI
from lake_assets.ingestion.checks import partitioned_check_spec, per_partition
from lake_assets.layers.gate import InputState
from lake_assets.layers.model import DerivedTable
from lake_assets.layers.step import StepOutcome, run_step
from lake_assets.lineage.emitter import recorder_for
from lake_assets.runtime.retries import retried_when_transient
from lake_assets.settings import Settings
from resources.catalog import PartitionCatalog
from resources.event_store import EventStore
from resources.lineage_store import LineageStore
from resources.spark_runner import SparkRunner
from resources.storage import LakeStorage

GATE = "inputs_passed_gate"


def input_states(
    instance: DagsterInstance,
    catalog: PartitionCatalog,
    table: DerivedTable,
    partition: str,
    built: Mapping[str, StepOutcome] | None = None,
) -> list[InputState]:
    """The last attempt at each input partition `partition` reads. `built`: the days this step
    has built already (a range), whose materializations reach the event log only when the step
    ends: a day built on an earlier one of its own range reads that day's outcome."""
    states = []
    for spec in table.inputs:
        for day in spec.partitions(partition):
            published = catalog.current(spec.dataset, day) is not None
            if spec.dataset == table.dataset and built and day in built:
                states.append(InputState(spec.dataset, day, published, built[day].held_by))
                continue
            attempt = last_attempt(instance, AssetKey(list(spec.asset)), day)
            states.append(
                InputState(
                    spec.dataset, day, published, attempt.blocked, attempt.failed, attempt.awaiting
                )
            )
    return states


def partition_metadata(outcome: StepOutcome, run_id: str, location_uri: str | None) -> dict:
    rows_out = outcome.rows_out if outcome.published_any else 0
    metadata = {
        "run_id": run_id,
        "rows_out": rows_out,
        "rows_in": MetadataValue.json(outcome.rows_in),
        PARTITION_ROW_COUNT: rows_out,
        "inputs_left_out": MetadataValue.json(list(outcome.left_out)),
    }
    if outcome.published_any:
        # When it read its inputs: the sensor's "already built on them" (ADR-0202). A held
        # build read nothing, and is timed by its step.
        metadata[BUILD_STARTED_AT] = outcome.started_at
    if outcome.result.get("slices") is not None:  # a sliced table: which it rewrote
        metadata["slices_published"] = MetadataValue.json(
            [p.partition for p in outcome.published_slices]
        )
    if outcome.held_by:
        metadata["blocked_by"] = MetadataValue.json(list(outcome.held_by))
    if location_uri:
        metadata["location"] = MetadataValue.path(location_uri)
        metadata[URI] = location_uri
    return metadata


def describe(outcome: StepOutcome) -> str:
    if outcome.held_by:
        return "held: " + "; ".join(outcome.held_by)
    if outcome.published_slices:
        slices = ", ".join(p.partition for p in outcome.published_slices)
        return f"published {outcome.rows_out} rows in {slices} from {outcome.rows_in}"
    if outcome.published is None:
        return f"nothing changed: no slice rewritten from {outcome.rows_in}"
    return f"published {outcome.rows_out} rows from {outcome.rows_in}"


def gate_result(outcome: StepOutcome) -> AssetCheckResult:
    held = outcome.held_by if not outcome.blocked_by_contract else ()
    return AssetCheckResult(
        check_name=GATE,
        passed=not held,
        severity=AssetCheckSeverity.ERROR,
        description="; ".join(held) or "every input partition passed its own checks",
        metadata={"held_by": MetadataValue.json(list(held))},
    )


def build_layer_asset(table: DerivedTable, partitions_def: PartitionsDefinition):
    key = AssetKey(list(table.asset))

    @asset(
        key=key,
        # A table built on its own earlier day (its base) is no dependency of itself: the graph
        # has no cycles, and a range builds its days in date order.
        deps=[AssetKey(list(spec.asset)) for spec in table.inputs if spec.asset != table.asset],
        partitions_def=partitions_def,
        # A range runs as one run, its partitions in date order: a table built on its own
        # previous day (silver state) is then built in the order it depends on.
        backfill_policy=BackfillPolicy.single_run(),
        group_name=table.layer,
        kinds={"spark", "parquet"},
        description=table.description,
        check_specs=[
            partitioned_check_spec(
                GATE,
                key,
                partitions_def,
                blocking=True,
                description="Every input partition this one reads passed its own checks "
                "(its last attempt was neither blocked nor failed); otherwise the partition "
                "is held and keeps its published version.",
            ),
            *contract_check_specs(key, table.contract, partitions_def),
        ],
    )
    @retried_when_transient
    def layer_asset(
        context: AssetExecutionContext,
        settings: ResourceParam[Settings],
        storage: ResourceParam[LakeStorage],
        catalog: ResourceParam[PartitionCatalog],
        lineage: ResourceParam[LineageStore],
        events: ResourceParam[EventStore],
        spark_runner: ResourceParam[SparkRunner],
    ):
        recorder = recorder_for(lineage, settings.state_dir, storage.uri(""))
        run_job = spark_runner.bound(context)

        def where(outcome: StepOutcome) -> str | None:
            return storage.uri(outcome.published.location) if outcome.published else None

        built: dict[str, StepOutcome] = {}  # partition -> its outcome, in date order
        try:
            for partition in sorted(context.partition_keys):
                states = input_states(context.instance, catalog, table, partition, built)
                outcome = run_step(
                    table,
                    partition,
                    context.run_id,
                    states,
                    catalog,
                    storage,
                    recorder,
                    run_job,
                    events,
                )
                built[partition] = outcome
                context.add_asset_metadata(
                    partition_metadata(outcome, context.run_id, where(outcome)),
                    partition_key=partition,
                )
                context.log.info(f"{table.dataset}[{partition}]: {describe(outcome)}")
        except Exception:
            # The days of a range built before the one that failed are published and announced.
            # Their materializations go to the event log before the step fails: otherwise the
            # gate of each table built on them reads this run's failure as theirs and holds it,
            # and their rebuild (the same inputs: no new event) never releases it.
            for done in built.values():
                context.log_event(
                    AssetMaterialization(
                        asset_key=key,
                        partition=done.partition,
                        metadata=partition_metadata(done, context.run_id, where(done)),
                    )
                )
            raise
        drain(events, catalog, recorder, datetime.now(UTC), timedelta(days=settings.retention_days))
        outcomes = list(built.values())
        held = [o.partition for o in outcomes if o.held_by]
        yield MaterializeResult(
            metadata={
                "run_id": context.run_id,
                "partitions_published": MetadataValue.json(
                    [o.partition for o in outcomes if o.published_any]
                ),
                "partitions_held": MetadataValue.json(held),
                "rows_out": sum(o.rows_out for o in outcomes if o.published),
            }
        )
        results = [(o.partition, gate_result(o)) for o in outcomes]
        if table.contract is not None:
            verdicts = {o.partition: o.verdict for o in outcomes if o.verdict is not None}
            results += list(contract_check_results(table.contract, verdicts, {}, {}))
        yield from per_partition(context, key, results)

    return layer_asset
