"""The ingestion engine in the asset graph: raw -> registry -> curated, per declared source.

Thin wiring: the work happens in intake.py, promotion_plan.py, promotion.py and publish.py;
the keys are in asset_keys.py, the registry's check in checks.py, what a run records beside
its data in run_lineage.py.
"""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import uuid4

from dagster import (
    AssetExecutionContext,
    AssetMaterialization,
    AssetSpec,
    BackfillPolicy,
    FreshnessPolicy,
    MaterializeResult,
    MetadataValue,
    PartitionsDefinition,
    ResourceParam,
    asset,
)

from lake_assets.alarms.model import profiling_counts
from lake_assets.archive.service import refuse_archived
from lake_assets.compaction.migration import migrate_published
from lake_assets.contracts.checks import (
    contract_check_results,
    contract_check_specs,
    reference_publish_times,
    referenced_partitions,
)
from lake_assets.contracts.gate import judge_partitions
from lake_assets.contracts.model import Contract
from lake_assets.events.outbox import drain, stage
from lake_assets.ingestion.asset_keys import curated_key_of, raw_key_of, registry_key_of
from lake_assets.ingestion.asset_metadata import (
    COLUMN_SCHEMA,
    arrival_metadata,
    curated_table_schema,
    generated_metadata,
    promoted_partition_metadata,
)
from lake_assets.ingestion.checks import per_partition, schema_check_results, schema_check_spec
from lake_assets.ingestion.intake import pending_objects
from lake_assets.ingestion.late_arrivals import (
    find_late_arrivals,
    mark_folded,
    record_late_arrivals,
)
from lake_assets.ingestion.promotion import PromotionResult
from lake_assets.ingestion.promotion_plan import partition_inputs, plan_promotion
from lake_assets.ingestion.publish import AuditFailed, audit, expected_rows_read, publish_partitions
from lake_assets.ingestion.retention import sweep_orphans
from lake_assets.ingestion.run_lineage import (
    PROMOTION_CODE_VERSION,
    announcement_of,
    profile_with_lineage,
)
from lake_assets.ingestion.schema_registry import latest_accepted
from lake_assets.lineage import LineageRun, partition_address
from lake_assets.lineage.emitter import recorder_for
from lake_assets.runtime.jobs import pipeline_job_name
from lake_assets.runtime.retries import retried_when_transient
from lake_assets.settings import Settings, SourceConfig
from lake_assets.tables.locations import raw_prefix, run_output_prefix
from lake_assets.tables.publish import expire_superseded
from resources.catalog import PartitionCatalog
from resources.classification_store import ClassificationStore
from resources.compaction_history import CompactionHistory
from resources.event_store import EventStore
from resources.lineage_store import LineageStore
from resources.metrics import PlatformMetrics
from resources.notifier import Notifier
from resources.registry_store import RegistryStore
from resources.spark_runner import SparkRunner
from resources.storage import LakeStorage


def _referential(contract: Contract | None) -> tuple:
    return contract.rules_of("referential_integrity") if contract else ()


def _freshness_policy(contract: Contract | None) -> FreshnessPolicy | None:
    hours = contract.freshness.max_staleness_hours if contract and contract.freshness else None
    return FreshnessPolicy.time_window(fail_window=timedelta(hours=hours)) if hours else None


def build_source_assets(
    source: SourceConfig, partitions_def: PartitionsDefinition, contract: Contract | None = None
) -> list:
    """The three assets of one source. Raw is external: payloads land through `lake ingest`
    (or any S3 writer) and the arrival sensor records them."""
    sid = source.source_id
    # A generated source (lake_pipelines/<sid>/) stamps its assets' code_version from its
    # template version and spec hash: a new template or a changed spec makes every partition
    # materialized before stale. Promotion then runs the pipeline's own job, with its hooks.
    code_version = source.generation.code_version if source.generation else None
    spark_job = pipeline_job_name(sid) if source.generation else "promote"
    generated = generated_metadata(source)
    raw = AssetSpec(
        key=raw_key_of(sid),
        partitions_def=partitions_def,
        group_name="raw",
        description=f"Payloads of {sid} exactly as received, by ingest date. {source.description}",
        metadata={"format": source.format, "prefix": raw_prefix(sid)},
        kinds={source.format},
        owners=[source.asset_owner],
    )

    @asset(
        key=registry_key_of(sid),
        deps=[raw.key],
        partitions_def=partitions_def,
        group_name="registry",
        description=f"Schema versions of {sid}: profiles the day's unprofiled raw payloads.",
        check_specs=[schema_check_spec(sid, partitions_def)],
        kinds={"python", "pyarrow"},
        owners=[source.asset_owner],
        code_version=code_version,
        metadata=generated,
    )
    @retried_when_transient
    def registry_asset(
        context: AssetExecutionContext,
        settings: ResourceParam[Settings],
        storage: ResourceParam[LakeStorage],
        registry: ResourceParam[RegistryStore],
        notifier: ResourceParam[Notifier],
        lineage: ResourceParam[LineageStore],
        metrics: ResourceParam[PlatformMetrics],
    ):
        pending = pending_objects(storage, registry, sid, context.partition_key)
        context.log.info(f"{sid} {context.partition_key}: {len(pending)} payloads to profile")
        summary = profile_with_lineage(
            settings,
            storage,
            registry,
            notifier,
            lineage,
            source,
            pending,
            context.run_id,
            context.partition_key,
        )
        for name, count in profiling_counts(summary).items():
            metrics.count(name, count)  # the dead-letter and schema-break alarms
        if pending:
            # The raw asset is external (payloads land outside any run): the run that first
            # sees a day's new payloads records what that ingest date now holds.
            day = raw_prefix(sid, context.partition_key)
            yield AssetMaterialization(
                asset_key=raw.key,
                partition=context.partition_key,
                metadata=arrival_metadata(storage.list(day), storage.uri(day)),
            )
        versions = registry.versions(sid)
        current = latest_accepted(versions)
        yield MaterializeResult(
            metadata={
                "files_profiled": summary.count("PROFILED"),
                "files_dead_lettered": summary.count("DEAD_LETTER"),
                "files_duplicate": summary.count("DUPLICATE"),
                "rows_profiled": sum(o.rows for o in summary.outcomes),
                "new_versions": MetadataValue.json(
                    [{"version": v.version, "status": v.status} for v in summary.new_versions]
                ),
                "active_version": current.version if current else "none",
                "versions": len(versions),
            }
        )
        yield from per_partition(
            context,
            registry_key_of(sid),
            schema_check_results(sid, versions, context.partition_keys),
        )

    references = sorted({r.check.references.dataset for r in _referential(contract)})

    @asset(
        key=curated_key_of(sid),
        # Referenced datasets are inputs too: their published snapshot decides referential rules.
        deps=[registry_asset.key, *[curated_key_of(ref) for ref in references]],
        partitions_def=partitions_def,
        backfill_policy=BackfillPolicy.single_run(),
        group_name="curated",
        description=f"{sid} as typed Parquet by event date, published through the catalog.",
        kinds={"spark", "parquet"},
        owners=[source.asset_owner],
        check_specs=contract_check_specs(curated_key_of(sid), contract, partitions_def),
        freshness_policy=_freshness_policy(contract),
        code_version=code_version,
        metadata=generated,
    )
    @retried_when_transient
    def curated_asset(
        context: AssetExecutionContext,
        settings: ResourceParam[Settings],
        storage: ResourceParam[LakeStorage],
        registry: ResourceParam[RegistryStore],
        catalog: ResourceParam[PartitionCatalog],
        notifier: ResourceParam[Notifier],
        events: ResourceParam[EventStore],
        lineage: ResourceParam[LineageStore],
        spark_runner: ResourceParam[SparkRunner],
        compaction_history: ResourceParam[CompactionHistory],
        classification: ResourceParam[ClassificationStore],
    ):
        # A raw object nobody profiled yet (no sensor, no `lake profile`) may hold rows of any
        # partition of the window: profiled here, it is planned like the others, never skipped.
        unprofiled = pending_objects(storage, registry, sid)
        if unprofiled:
            context.log.info(f"{sid}: profiling {len(unprofiled)} raw objects before promotion")
            profile_with_lineage(
                settings,
                storage,
                registry,
                notifier,
                lineage,
                source,
                unprofiled,
                str(uuid4()),
                None,
            )
        versions, raw_files = registry.versions(sid), registry.raw_files(sid)
        plan = plan_promotion(
            sid,
            source.event_time_field,
            source.format,
            context.partition_keys,
            versions,
            raw_files,
            storage.uri,
            source.delivery,
            source.encoding,
            source.partitioning,
        )
        if contract is not None:
            plan = replace(
                plan,
                contract=contract.model_dump(by_alias=True, mode="json"),
                references=referenced_partitions(contract, plan.partitions, catalog, storage),
            )
        # Before any compute: a backfill of days whose raw files Glacier holds waits for
        # `lake restore` instead of failing midway or publishing the days without them.
        refuse_archived(storage, plan.input_keys, sid, plan.partitions[0], plan.partitions[-1])
        context.log.info(
            f"promoting {sid} {plan.partitions[0]}..{plan.partitions[-1]} from "
            f"{len(plan.input_keys)} raw files under {plan.schema_version}"
        )
        # The versions this run replaces: one another writer publishes meanwhile (compaction,
        # another promotion) stops this run's publish of that partition instead of being lost.
        current = {p.partition: p.run_id for p in catalog.partitions(sid)}
        expected = {p: current.get(p, "") for p in plan.partitions}
        output = storage.uri(run_output_prefix(sid, context.run_id))
        recorder = recorder_for(lineage, settings.state_dir, storage.uri(""))
        # Each partition's own raw files: its lineage, its manifest's inputs, its content identity.
        inputs = partition_inputs(plan, source.partition_field, versions, raw_files)
        started = LineageRun(
            partition_inputs={
                partition_address(sid, p): tuple(r.key for r in files)
                for p, files in inputs.items()
            },
            run_id=context.run_id,
            job=f"curated/{sid}",
            partition=f"{plan.partitions[0]}..{plan.partitions[-1]}",
            inputs=tuple(plan.input_keys),
            outputs=tuple(partition_address(sid, p) for p in plan.partitions),
            started_at=datetime.now(UTC).isoformat(),
            code_version=PROMOTION_CODE_VERSION,
            schema_version=plan.schema_version,
        )
        with recorder.track(started) as outputs:
            result = PromotionResult.from_dict(
                spark_runner.run(context, spark_job, {"plan": plan.to_dict(), "output_uri": output})
            )
            problems = audit(plan, result, expected_rows_read(plan, raw_files))
            if problems:
                raise AuditFailed(f"{sid}: nothing published, audit failed: " + "; ".join(problems))
            verdicts = (
                judge_partitions(
                    contract,
                    plan.partitions,
                    result.violations,
                    {p: r.rows_published for p, r in result.partitions.items()},
                    {p.partition: p.row_count for p in catalog.partitions(sid)},
                    reference_publish_times(contract, plan.partitions, catalog),
                    datetime.now(UTC),
                    {p: r.rows_quarantined for p, r in result.partitions.items()},
                )
                if contract is not None
                else {}
            )
            blocked = {p: v.blocked_by for p, v in verdicts.items() if v.blocked_by}
            publishable = [p for p in plan.partitions if p not in blocked]
            # Older partitions are brought to the plan's types before any is published under
            # them (ADR-0027); nothing to do unless a type widened or an old one lacks a file.
            migrated = migrate_published(
                settings,
                plan,
                context.run_id,
                {
                    "storage": storage,
                    "catalog": catalog,
                    "lineage": lineage,
                    "compaction_history": compaction_history,
                    "spark_runner": spark_runner,
                },
                keep=publishable,
                progress=context.log.info,
                context=context,
            )
            published = publish_partitions(
                catalog,
                storage,
                plan,
                result,
                context.run_id,
                expected,
                publishable,
                {p: [r.key for r in inputs[p]] for p in publishable},
                before_switch=lambda entry: stage(
                    events, announcement_of(entry, inputs, result.partitions)
                ),
            )
            for entry in published:
                outputs.extend(announcement_of(entry, inputs, result.partitions).lineage_outputs)
        # Data-ready events of what was switched (this run's, and any a killed run left staged);
        # lineage is complete for this run already, a killed run's is completed here.
        drain(events, catalog, recorder, datetime.now(UTC), timedelta(days=settings.retention_days))
        # Read again, not the records read before the job: a version deprecated or approved
        # meanwhile keeps that change.
        promoted = {g.version for g in plan.inputs}
        for version in registry.versions(sid) if published else []:
            if version.version in promoted:
                registry.update_version(replace(version, promoted_at=published[0].published_at))
        expired = expire_superseded(catalog, storage, settings.retention_days)
        swept = sweep_orphans(catalog, storage, timedelta(days=settings.retention_days), [sid])
        late = record_late_arrivals(
            storage,
            notifier,
            find_late_arrivals(
                sid,
                source.partition_field,
                source.lookback_days,
                plan.partitions,
                versions,
                raw_files,
                datetime.now(UTC).isoformat(),
            ),
        )
        folded = mark_folded(storage, sid, [p.partition for p in published], context.run_id)
        # Each partition's materialization carries its own figures; what follows is the run's.
        locations = {entry.partition: storage.uri(entry.location) for entry in published}
        for p in plan.partitions:
            context.add_asset_metadata(
                promoted_partition_metadata(
                    result.partitions.get(p),
                    [r.key for r in inputs.get(p, ())],
                    locations.get(p),
                    blocked.get(p, ()),
                    verdicts[p].awaiting if p in verdicts else (),
                    {r.dataset: r.versions[p] for r in plan.references.values() if p in r.versions},
                ),
                partition_key=p,
            )
        yield MaterializeResult(
            metadata={
                COLUMN_SCHEMA: curated_table_schema(
                    plan.columns, contract, classification.columns(sid)
                ),
                "run_partitions": f"{plan.partitions[0]}..{plan.partitions[-1]}",
                "raw_files_profiled_first": len(unprofiled),
                "schema_version": plan.schema_version,
                "partitions_published": MetadataValue.json(publishable),
                "partitions_blocked": MetadataValue.json(blocked),
                "lateness_hours": MetadataValue.json(result.lateness_hours),
                # Profiling and Spark's JSON reader disagreed on a file: read as text instead.
                **(
                    {"fast_read_refused": result.fast_read_refused}
                    if result.fast_read_refused
                    else {}
                ),
                "superseded_versions_removed": len(expired),
                "orphan_folders_removed": MetadataValue.json(swept.deleted),
                "partitions_migrated": MetadataValue.json([r.partition for r in migrated]),
                "late_arrivals_held": MetadataValue.json({a.raw_key: a.event_dates for a in late}),
                "late_arrivals_folded_in": len(folded),
            }
        )
        if contract is not None:
            yield from per_partition(
                context,
                curated_key_of(sid),
                contract_check_results(
                    contract, verdicts, result.missing_keys, result.violation_samples
                ),
            )

    return [raw, registry_asset, curated_asset]
