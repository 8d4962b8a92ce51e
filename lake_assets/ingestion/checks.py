"""Asset checks as the webserver shows them: one evaluation per partition, and the registry
asset's own check, `schema_compatible` (no BREAKING version awaits approval; it blocks promotion).
A contract's rules are checks of the curated asset: contracts/checks.py.

A check is partitioned like its asset, and each result names its partition and the
materialization of that partition it judged: the webserver then shows which day failed which
check, and a later run of another day leaves that day's result as it was (ADR-0058).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator, Sequence

from dagster import (
    AssetCheckEvaluation,
    AssetCheckKey,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetRecordsFilter,
    DagsterInstance,
    MetadataValue,
    Output,
    PartitionsDefinition,
    PreviewWarning,
)
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData,
)
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

from lake_assets.ingestion.asset_keys import registry_key_of
from lake_assets.ingestion.schema_registry import (
    approval_command,
    blocking_version,
    describe_diff,
    latest_accepted,
)

SCHEMA_CHECK = "schema_compatible"


def partitioned_check_spec(
    name: str, asset: AssetKey, partitions_def: PartitionsDefinition, **kwargs
) -> AssetCheckSpec:
    """A check spec partitioned like its asset. Dagster 1.13 marks `partitions_def` on a check
    as a preview; the warning would reach every `lake` command, the decision is in the ADR."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PreviewWarning)
        return AssetCheckSpec(name, asset=asset, partitions_def=partitions_def, **kwargs)


def latest_materializations(
    instance: DagsterInstance, asset_key: AssetKey, partitions: Sequence[str]
) -> dict[str, AssetCheckEvaluationTargetMaterializationData]:
    """Each partition's newest materialization: what a check evaluated now judges."""
    if not partitions:
        return {}
    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=asset_key, asset_partitions=list(partitions)),
        limit=len(partitions),
    ).records
    targets: dict[str, AssetCheckEvaluationTargetMaterializationData] = {}
    for record in records:  # newest first
        partition = record.event_log_entry.dagster_event.partition
        targets.setdefault(
            partition,
            AssetCheckEvaluationTargetMaterializationData(
                storage_id=record.storage_id,
                run_id=record.event_log_entry.run_id,
                timestamp=record.timestamp,
            ),
        )
    return targets


def partition_evaluations(
    instance: DagsterInstance,
    asset_key: AssetKey,
    results: Iterable[tuple[str, AssetCheckResult]],
    blocking: Iterable[str] = (),
) -> list[AssetCheckEvaluation]:
    """Each `(partition, result)` as that partition's evaluation, against the partition's
    newest materialization (so the webserver counts it as current for that partition)."""
    results, blocking = list(results), set(blocking)
    targets = latest_materializations(instance, asset_key, sorted({p for p, _ in results}))
    return [
        AssetCheckEvaluation(
            asset_key=asset_key,
            check_name=result.check_name,
            passed=result.passed,
            metadata=result.metadata,
            target_materialization_data=targets.get(partition),
            severity=result.severity,
            description=result.description,
            blocking=result.check_name in blocking,
            partition=partition,
        )
        for partition, result in results
    ]


def per_partition(
    context: AssetExecutionContext,
    asset_key: AssetKey,
    results: Iterable[tuple[str, AssetCheckResult]],
) -> Iterator[AssetCheckEvaluation | Output]:
    """What an asset yields for its partitioned checks: one evaluation per partition and
    selected check, then each check's (empty) output. Dagster fills in the partition of a
    result only in a single-partition run; a range run (single-run backfill) needs this.
    Yield it after the asset's materialization, so the evaluations find it. A failed blocking
    evaluation fails the step after it, as a blocking AssetCheckResult would."""
    specs = context.assets_def.check_specs_by_output_name  # the selected checks
    selected = {spec.name for spec in specs.values() if spec.asset_key == asset_key}
    blocking = {spec.name for spec in specs.values() if spec.blocking}
    yield from partition_evaluations(
        context.instance,
        asset_key,
        ((p, r) for p, r in results if r.check_name in selected),
        blocking,
    )
    for output_name, spec in specs.items():
        if spec.asset_key == asset_key:
            yield Output(None, output_name=output_name)


# --- schema_compatible -----------------------------------------------------------------------


def schema_check_spec(source_id: str, partitions_def: PartitionsDefinition) -> AssetCheckSpec:
    return partitioned_check_spec(
        SCHEMA_CHECK,
        registry_key_of(source_id),
        partitions_def,
        blocking=True,
        description=(
            "No BREAKING schema version awaits approval. Fails while one does: promotion of the "
            "source is refused until an operator runs `lake registry approve`, which records a "
            "new result for every ingest date this check failed."
        ),
    )


def schema_check_result(source_id: str, versions) -> AssetCheckResult:
    blocking = blocking_version(versions)
    if blocking is None:
        current = latest_accepted(versions)
        return AssetCheckResult(
            check_name=SCHEMA_CHECK,
            passed=True,
            description=f"{current.version if current else 'no version'} is the active schema",
            metadata={
                "active_version": current.version if current else "none",
                "versions": len(versions),
            },
        )
    return AssetCheckResult(
        check_name=SCHEMA_CHECK,
        passed=False,
        severity=AssetCheckSeverity.ERROR,
        description=f"{blocking.version} is BREAKING: {'; '.join(blocking.violations)}",
        metadata={
            "version": blocking.version,
            "violations": MetadataValue.json(blocking.violations),
            "changes": MetadataValue.md(
                "\n".join(f"- `{line}`" for line in describe_diff(blocking.field_diff))
            ),
            "approve_with": approval_command(blocking),
        },
    )


def schema_check_results(
    source_id: str, versions, partitions: Sequence[str]
) -> list[tuple[str, AssetCheckResult]]:
    """The registry's verdict (one for the source), for each ingest date in `partitions`."""
    result = schema_check_result(source_id, versions)
    return [(p, result) for p in partitions]


def failed_partitions(instance: DagsterInstance, asset_key: AssetKey, check_name: str) -> list[str]:
    """The partitions whose latest result of the check failed, as the webserver shows them."""
    infos = instance.event_log_storage.get_asset_check_partition_info(
        [AssetCheckKey(asset_key, check_name)]
    )
    return sorted(
        info.partition_key
        for info in infos
        if info.partition_key is not None
        and info.latest_execution_status == AssetCheckExecutionRecordStatus.FAILED
    )


def record_schema_verdict(instance: DagsterInstance, source_id: str, versions) -> list[str]:
    """After an approval: the registry's verdict now, recorded for every ingest date whose
    `schema_compatible` failed, without a run (nothing is profiled again). Returns those dates."""
    partitions = failed_partitions(instance, registry_key_of(source_id), SCHEMA_CHECK)
    for evaluation in partition_evaluations(
        instance,
        registry_key_of(source_id),
        schema_check_results(source_id, versions, partitions),
        [SCHEMA_CHECK],
    ):
        instance.report_runless_asset_event(evaluation)
    return partitions
