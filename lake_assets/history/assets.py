"""The history of each snapshot source in the asset graph: `history/<source>`, one partition per
snapshot date. Materializing a partition applies that day's published snapshot; a range applies
its days in date order in one run. Thin wiring: apply.py plans and publishes, the runner runs
the Spark jobs of jobs.py wherever the profile puts them."""

from datetime import UTC, datetime

from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetObservation,
    AssetSpec,
    BackfillPolicy,
    MaterializeResult,
    MetadataValue,
    PartitionsDefinition,
    ResourceParam,
    multi_asset,
)

from lake_assets.history.apply import (
    WHOLE_TABLE,
    apply_snapshots,
    history_dataset,
    plan_snapshots,
)
from lake_assets.history.columns import history_column_lineage
from lake_assets.history.ledger import OutOfOrderSnapshot
from lake_assets.ingestion.asset_keys import curated_key_of
from lake_assets.ingestion.curated_columns import column_name
from lake_assets.lineage import LineageRun, partition_address, partition_outputs
from lake_assets.lineage.emitter import recorder_for
from lake_assets.runtime.retries import retried_when_transient
from lake_assets.settings import Settings, SourceConfig
from resources.catalog import PartitionCatalog
from resources.lineage_store import LineageStore
from resources.notifier import Alert, Notifier
from resources.spark_runner import SparkRunner
from resources.storage import LakeStorage

HISTORY_CODE_VERSION = "scd2-bitemporal-v1"
INTERVALS_CHECK = "valid_intervals_disjoint"


def history_key_of(source_id: str) -> AssetKey:
    return AssetKey(["history", source_id])


def build_history_asset(source: SourceConfig, partitions_def: PartitionsDefinition):
    sid, dataset = source.source_id, history_dataset(source.source_id)

    # A multi-asset of one, subsettable, so that both the asset and its check may be left out:
    # an apply that changes nothing materializes nothing and checks nothing (the latest
    # materialization and its check stay those of the last real apply).
    @multi_asset(
        specs=[
            AssetSpec(
                history_key_of(sid),
                deps=[curated_key_of(sid)],
                group_name="history",
                kinds={"spark", "parquet"},
                owners=[source.asset_owner],
                skippable=True,
                description=(
                    f"Bi-temporal SCD2 history of {sid}: valid_from/valid_to (true in the world) "
                    "and recorded_at/superseded_at (known to the platform). A partition is a "
                    "snapshot date applied; late snapshots are "
                    f"{source.history.out_of_order}d (ADR-0023)."
                ),
            )
        ],
        name=f"history__{sid}",
        partitions_def=partitions_def,
        backfill_policy=BackfillPolicy.single_run(),
        can_subset=True,
        check_specs=[
            AssetCheckSpec(
                INTERVALS_CHECK,
                asset=history_key_of(sid),
                description="No key has two versions believed true at the same date.",
            )
        ],
    )
    @retried_when_transient
    def history_asset(
        context: AssetExecutionContext,
        settings: ResourceParam[Settings],
        storage: ResourceParam[LakeStorage],
        catalog: ResourceParam[PartitionCatalog],
        notifier: ResourceParam[Notifier],
        lineage: ResourceParam[LineageStore],
        spark_runner: ResourceParam[SparkRunner],
    ):
        dates = list(context.partition_keys)
        run = spark_runner.bound(context)
        # A late or corrected snapshot makes the merge re-read every later one: all are inputs.
        planned = plan_snapshots(catalog, storage, source, dates)
        newest = next(filter(None, (catalog.current(sid, d) for d in reversed(dates))), None)
        started = LineageRun(
            run_id=context.run_id,
            job=f"history/{sid}",
            partition=f"{dates[0]}..{dates[-1]}",
            inputs=tuple(partition_address(sid, d) for d in planned.plan.dates or dates),
            outputs=(partition_address(dataset, WHOLE_TABLE),),
            started_at=datetime.now(UTC).isoformat(),
            code_version=HISTORY_CODE_VERSION,
            column_lineage=history_column_lineage(
                sid, newest.columns if newest else (), column_name(source.event_time_field)
            ),
        )
        recorder = recorder_for(lineage, settings.state_dir, storage.uri(""))
        with recorder.track(started) as outputs:
            try:
                applied = apply_snapshots(
                    run,
                    catalog,
                    storage,
                    source,
                    dates,
                    context.run_id,
                    log=context.log.info,
                    planned=planned,
                )
            except OutOfOrderSnapshot as refused:
                notifier.send(
                    Alert(
                        kind="history.out_of_order",
                        subject=f"{sid}: snapshot(s) {', '.join(refused.late)} refused, older "
                        f"than {refused.newest_applied}",
                        detail={"dataset": dataset, "late": refused.late, "policy": "reject"},
                    )
                )
                raise
            if applied.published:
                location = applied.published.location
                files = sorted(
                    info.key[len(location) :]
                    for info in storage.list(location)
                    if info.key.endswith(".parquet")
                )
                outputs.extend(partition_outputs(dataset, WHOLE_TABLE, location, files))
        plan = applied.plan
        if applied.published is None:
            # Nothing changed: no materialization, so the latest one (and its check) still tells
            # the last real apply; an observation per date says this run looked and why not.
            for day in dates:
                yield AssetObservation(
                    history_key_of(sid), partition=day, metadata={"summary": applied.summary()}
                )
            return
        yield MaterializeResult(
            asset_key=history_key_of(sid),
            check_results=[
                AssetCheckResult(
                    check_name=INTERVALS_CHECK,
                    # The apply job checked the version it wrote, read back from its files.
                    passed=applied.overlapping_versions == 0,
                    metadata={"overlapping_versions": applied.overlapping_versions},
                )
            ],
            metadata={
                "summary": applied.summary(),
                "rows": applied.rows,
                "recorded": applied.recorded,
                "superseded": applied.superseded,
                "recomputed_from": plan.recompute_from,
                "snapshots_read": MetadataValue.json(list(plan.dates)),
                "appended": MetadataValue.json(list(plan.appended)),
                "corrected": MetadataValue.json(list(plan.corrected)),
                "resequenced": MetadataValue.json(list(plan.resequenced)),
                "unchanged": MetadataValue.json(list(plan.unchanged)),
                "location": storage.uri(applied.published.location),
                "attempts": applied.attempts,
            },
        )

    return history_asset
