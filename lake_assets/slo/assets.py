"""SLOs in the asset graph: `slo/evaluation` (one partition per evaluation day; each
evaluation replaces the day's SLO tables and the dashboard), a non-blocking `slo` check on
every dataset an SLO is declared for (budget left, burn rates, tier: the asset check dashboard
shows commitments next to contracts), the `slo` job and its schedule every five minutes (a fast
burn pages within one evaluation of its short window). Thin: the work is service.py's.
"""

from datetime import UTC, date, datetime, time, timedelta

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetSelection,
    DefaultScheduleStatus,
    Definitions,
    MaterializeResult,
    MetadataValue,
    ResourceParam,
    RunRequest,
    ScheduleEvaluationContext,
    asset,
    define_asset_job,
    multi_asset_check,
    schedule,
)

from lake_assets.ingestion.asset_keys import asset_of
from lake_assets.runtime.retries import retried_when_transient
from lake_assets.settings import Settings
from lake_assets.slo.model import EXHAUSTED, FAST_BURN, SLO_CHECK, STATUS_DATASET
from lake_assets.slo.service import evaluate_lake, lake_slos
from lake_assets.tables.reader import read_version_arrow
from partitions import daily_partitions
from resources.catalog import PartitionCatalog
from resources.classification_store import ClassificationStore
from resources.event_store import EventStore
from resources.lineage_store import LineageStore
from resources.metrics import PlatformMetrics
from resources.notifier import Notifier
from resources.registry_store import RegistryStore
from resources.storage import LakeStorage

SLO_GROUP = "slo"
SLO_JOB = "slo"
EVALUATION = AssetKey(["slo", "evaluation"])
FAILING = (EXHAUSTED, FAST_BURN)  # a slow burn is the digest's, not a failed check


def _percent(share: float) -> str:
    return f"{share:.1%}"


def check_result(key: AssetKey, rows: list[dict]) -> AssetCheckResult:
    """The dataset's SLOs (their rows of the newest `slo_status`) as one check: failed, as a
    warning, while one burns fast or has spent its budget; passed, saying so, before the first
    evaluation."""
    worst = [row for row in rows if row["status"] in FAILING]
    metadata = {"evaluated_at": rows[0]["evaluated_at"] if rows else "not yet"}
    for row in rows:
        prefix = row["slo_id"]
        metadata[f"{prefix}: status"] = row["status"]
        metadata[f"{prefix}: tier"] = row["tier"]
        metadata[f"{prefix}: objective"] = f"{row['objective']:.2%}"
        metadata[f"{prefix}: budget remaining"] = MetadataValue.float(
            round(row["budget_remaining"], 6)
        )
        for label, rate in sorted(row["burn_rates"]):
            metadata[f"{prefix}: burn rate {label}"] = MetadataValue.float(round(rate, 4))
        if row["unavailable"]:
            metadata[f"{prefix}: unavailable"] = row["unavailable"]
    return AssetCheckResult(
        asset_key=key,
        check_name=SLO_CHECK,
        passed=not worst,
        severity=AssetCheckSeverity.WARN,
        description="; ".join(f"{r['slo_id']} {r['status']}" for r in worst)
        or (None if rows else "no SLO evaluation yet: the slo job runs every five minutes"),
        metadata=metadata,
    )


def slo_definitions(settings: Settings) -> Definitions:
    slos = lake_slos(settings)
    datasets = sorted({d for slo in slos for d in slo.datasets})
    keys = {dataset: asset_of(dataset, settings.sources) for dataset in datasets}
    datasets_of = {key: dataset for dataset, key in keys.items()}
    partitions_def = daily_partitions(settings.partitions_start)

    @asset(
        key=EVALUATION,
        partitions_def=partitions_def,
        group_name=SLO_GROUP,
        kinds={"python", "parquet", "html"},
        description="Every SLO of config/slo/ evaluated: SLI events from the lake's records, "
        "error budgets, multi-window burn rates, alerts (fast burn: at once; slow burn: the "
        "weekly digest; exhausted budget: an incident), the slo_* tables and the dashboard.",
    )
    @retried_when_transient
    def slo_evaluation(
        context: AssetExecutionContext,
        settings: ResourceParam[Settings],
        storage: ResourceParam[LakeStorage],
        catalog: ResourceParam[PartitionCatalog],
        notifier: ResourceParam[Notifier],
        events: ResourceParam[EventStore],
        registry: ResourceParam[RegistryStore],
        lineage: ResourceParam[LineageStore],
        classification: ResourceParam[ClassificationStore],
        metrics: ResourceParam[PlatformMetrics],
    ) -> MaterializeResult:
        resources = {
            "settings": settings, "storage": storage, "catalog": catalog, "notifier": notifier,
            "events": events, "registry": registry, "lineage": lineage,
            "classification": classification, "metrics": metrics,
        }  # fmt: skip
        # Today's partition is the present; a past day's (a backfill) is evaluated as of its
        # end, without alerting.
        now, day = datetime.now(UTC), date.fromisoformat(context.partition_key)
        live = day >= now.date()
        at = now if live else datetime.combine(day + timedelta(days=1), time.min, UTC)
        evaluation = evaluate_lake(
            settings, resources, context.instance, at, context.run_id, slos, live=live
        )
        statuses: dict[str, int] = {}
        for m in evaluation.measured:
            statuses[m.state.status] = statuses.get(m.state.status, 0) + 1
        return MaterializeResult(
            metadata={
                "evaluated_at": evaluation.at.isoformat(),
                "slos": len(evaluation.measured),
                **{f"status {k}": v for k, v in sorted(statuses.items())},
                "open incidents": sum(1 for i in evaluation.incidents if i.open),
                "alerts sent": len(evaluation.sent),
                **({"dashboard": evaluation.dashboard} if evaluation.dashboard else {}),
            }
        )

    @multi_asset_check(
        specs=[
            AssetCheckSpec(
                SLO_CHECK,
                asset=keys[dataset],
                additional_deps=[EVALUATION],
                blocking=False,
                description="The dataset's SLOs (config/slo/): fails, as a warning, while one "
                "burns its error budget fast or has spent it; metadata: budget left, burn rates, "
                "tier.",
            )
            for dataset in datasets
        ],
        can_subset=True,
    )
    def slo_checks(
        context, catalog: ResourceParam[PartitionCatalog], storage: ResourceParam[LakeStorage]
    ):
        # The newest evaluation, read back from the table it published: in the slo job the one
        # just made (this step may run in a process of its own); in any other run that
        # materializes the dataset (Dagster adds an asset's checks to its runs) the last one.
        newest = max(catalog.partitions(STATUS_DATASET), key=lambda p: p.partition, default=None)
        rows = read_version_arrow(storage, newest).to_pylist() if newest else []
        for check_key in context.selected_asset_check_keys:
            dataset = datasets_of[check_key.asset_key]
            mine = [row for row in rows if dataset in row["datasets"].split(",")]
            yield check_result(check_key.asset_key, mine)

    slo_job = define_asset_job(
        SLO_JOB,
        selection=AssetSelection.assets(EVALUATION) | AssetSelection.checks(slo_checks),
        partitions_def=partitions_def,
        description="Evaluate every SLO now: tables, alerts, dashboard and each dataset's check.",
    )

    @schedule(
        job=slo_job,
        cron_schedule="*/5 * * * *",
        execution_timezone="UTC",
        default_status=DefaultScheduleStatus.RUNNING,
        description="Every five minutes: a fast burn's short window is five minutes.",
    )
    def slo_schedule(context: ScheduleEvaluationContext):
        at = context.scheduled_execution_time
        return RunRequest(run_key=at.isoformat(), partition_key=at.date().isoformat())

    return Definitions(
        assets=[slo_evaluation], asset_checks=[slo_checks], jobs=[slo_job], schedules=[slo_schedule]
    )
