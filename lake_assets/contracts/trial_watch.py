"""A changed contract tried on the published rows as soon as it is deployed (ADR-0172).

`lake contract try` (trial.py, ADR-0146) says what an edited contract's rules would reject of
the published rows, but only when someone runs it: CI cannot reach a lake, so a tightened
contract merged without a trial was first enforced by the next promotion, which then
quarantined valid rows or held the day (seed 000 project 4's failure mode: thresholds set too
tight stall the pipeline). Here the lake runs the trial itself. The sensor `contract_changes`
compares each contract in force (the code location loads them when it is deployed) with the
one it saw last, by fingerprint, and for each contract that changed on a dataset that has
published rows launches the check `contract_holds_on_published` of the contract's asset. The
check is the trial of the command (the newest TRIED_DAYS partitions, wherever the profile runs
Spark); it fails with WARN, its lines the command's, when a blocking rule would reject published
rows, and the alert topic hears of it (`contracts.stricter_than_published`) while there is still
time before the next delivery: relax the rule to `warn`, or fix the data. It holds nothing.

The sensor's first evaluation only records the contracts in force: they are what the lake
published under, and trying them all at once would flood a fresh `make dev` with runs.

The check hangs on an asset of its own, `contracts/<dataset>` (`contract_key_of`): the contract
in force, an external asset downstream of the table it governs. A Dagster run that selects an
asset runs its checks too (a group's job, a backfill's run, a sensor's request), so a trial
hung on the table itself would run with every build of it."""

# No `from __future__ import annotations`: Dagster reads the context's annotation as a type.
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckKey,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetKey,
    AssetSelection,
    AssetSpec,
    DagsterInstance,
    DefaultSensorStatus,
    Definitions,
    ResourceParam,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    asset_check,
    define_asset_job,
    sensor,
)

from lake_assets.contracts.model import TRIED_DAYS, Contract
from lake_assets.contracts.trial import TrialReport, try_published
from lake_assets.ingestion.asset_keys import CONTRACTS_ZONE, contract_key_of
from lake_assets.runtime.retries import retried_when_transient
from resources.catalog import PartitionCatalog
from resources.notifier import Alert, Notifier
from resources.spark_runner import SparkRunner
from resources.storage import LakeStorage

CHECK_NAME = "contract_holds_on_published"
JOB_NAME = "contract_trials"
ALERT_KIND = "contracts.stricter_than_published"


def contract_spec(
    dataset: str, table: AssetKey, contract: Contract, owners: Sequence[str]
) -> AssetSpec:
    """`owners`: the table's, so that a trial's run is charged to whoever owns the dataset."""
    return AssetSpec(
        contract_key_of(dataset),
        deps=[table],
        owners=owners,
        group_name=CONTRACTS_ZONE,
        description=f"The contract in force on {dataset} (config), tried on the rows "
        f"{table.to_user_string()} published.",
        metadata={
            "contract_version": contract.version,
            "contract_owner": contract.owner,
            "fingerprint": fingerprint(contract),
        },
    )


def fingerprint(contract: Contract) -> str:
    """What identifies a contract's content: any edit to a rule, the schema or the version
    changes it."""
    return hashlib.sha256(contract.model_dump_json(by_alias=True).encode()).hexdigest()[:16]


def changed_contracts(
    cursor: str | None, contracts: Mapping[str, Contract]
) -> tuple[list[str], str]:
    """The datasets whose contract differs from the one `cursor` recorded (a contract new to a
    dataset among them), and the cursor recording `contracts`. A first evaluation (no cursor)
    changes nothing. The cursor counts the evaluations that found a change, which names their
    runs (`run_key`), so that a contract changed back and forth is tried each time."""
    seen = json.loads(cursor) if cursor else None
    now = {dataset: fingerprint(c) for dataset, c in sorted(contracts.items())}
    if seen is None:
        return [], json.dumps({"changes": 0, "contracts": now})
    changed = [d for d, f in now.items() if seen["contracts"].get(d) != f]
    changes = seen["changes"] + (1 if changed else 0)
    return changed, json.dumps({"changes": changes, "contracts": now})


# What a trial check makes of a trial: the Dagster instance (the check's history), the notifier,
# the job's result and its report.
Judge = Callable[[DagsterInstance, Notifier, dict, TrialReport], AssetCheckResult]


def trial_check(
    key: AssetCheckKey,
    description: str,
    dataset: str,
    contract: Contract,
    days: int | None,
    sliced: bool,
    judge: Judge,
) -> AssetChecksDefinition:
    """The asset check `key` that tries `contract` on the newest `days` (None: all) published
    partitions of `dataset` (`try_published`, on the runner bound to the check's step) and
    returns what `judge` makes of it; a dataset with no published rows passes, saying so. The
    trial checks of this module and of layers.references_watch."""

    @asset_check(asset=key.asset_key, name=key.name, description=description)
    @retried_when_transient
    def tried(
        context: AssetCheckExecutionContext,
        catalog: ResourceParam[PartitionCatalog],
        storage: ResourceParam[LakeStorage],
        spark_runner: ResourceParam[SparkRunner],
        notifier: ResourceParam[Notifier],
    ) -> AssetCheckResult:
        run_job = spark_runner.bound(context.op_execution_context)
        try:
            result, report = try_published(
                dataset, contract, days, sliced, catalog, storage, run_job
            )
        except LookupError as nothing:
            return AssetCheckResult(passed=True, description=str(nothing))
        return judge(context.instance, notifier, result, report)

    return tried


def build_trial_check(dataset: str, contract: Contract, sliced: bool) -> AssetChecksDefinition:
    def judge(_, notifier: Notifier, result: dict, report: TrialReport) -> AssetCheckResult:
        lines = report.lines()
        if report.rejecting:
            notifier.send(
                Alert(
                    ALERT_KIND,
                    f"contract {dataset} v{contract.version} would reject published rows: "
                    f"{', '.join(report.rejecting)}",
                    {"dataset": dataset, "lines": lines, "check": CHECK_NAME},
                )
            )
        return AssetCheckResult(
            passed=not report.rejecting,
            severity=AssetCheckSeverity.WARN,
            metadata={
                "contract_version": contract.version,
                "fingerprint": fingerprint(contract),
                "partitions": len(report.partitions),
                "rows": sum(p["rows"] for p in result["partitions"].values()),
                "rejecting": ", ".join(report.rejecting) or "none",
            },
            description="\n".join(lines),
        )

    return trial_check(
        AssetCheckKey(contract_key_of(dataset), CHECK_NAME),
        f"The contract in force on {dataset} (version {contract.version}) tried on its "
        f"newest {TRIED_DAYS} published partitions when it changes: no blocking rule may "
        "reject a published row.",
        dataset,
        contract,
        TRIED_DAYS,
        sliced,
        judge,
    )


def contract_trials(
    contracts: Mapping[str, Contract],
    assets: Mapping[str, AssetKey],
    sliced: set[str],
    owners: Mapping[str, Sequence[str]],
) -> Definitions:
    """Per contracted dataset in `assets` (dataset -> the asset that publishes it; `sliced`: the
    datasets whose partitions are not the days they are built for,
    layers.model.DerivedTable.slices; `owners`: the owners of a dataset's asset, if it names
    any), its contract's asset and trial check; the job that runs the checks and the sensor
    that launches a dataset's when its contract changes."""
    tried = {d: contracts[d] for d in sorted(assets)}
    if not tried:
        return Definitions()
    checks = {d: build_trial_check(d, c, d in sliced) for d, c in tried.items()}
    job = define_asset_job(
        JOB_NAME,
        selection=AssetSelection.checks(*checks.values()),
        description="Tries a changed contract on the published rows (the sensor "
        "contract_changes launches it).",
    )

    @sensor(
        name="contract_changes",
        job=job,
        minimum_interval_seconds=60,
        default_status=DefaultSensorStatus.RUNNING,
        description="Tries each contract that changed since the last evaluation on the rows "
        "its dataset has published, before the next promotion enforces it.",
    )
    def contract_changes(
        context: SensorEvaluationContext, catalog: ResourceParam[PartitionCatalog]
    ) -> SensorResult:
        changed, cursor = changed_contracts(context.cursor, tried)
        # A dataset that has published nothing has nothing to try: the next promotion is the
        # first its contract judges.
        published = [d for d in changed if catalog.partitions(d)]
        changes = json.loads(cursor)["changes"]
        requests = [
            RunRequest(
                run_key=f"contract-trial/{dataset}/{changes}",
                asset_selection=[],
                asset_check_keys=[AssetCheckKey(contract_key_of(dataset), CHECK_NAME)],
                tags={
                    "lake/contract": dataset,
                    "lake/contract_version": str(tried[dataset].version),
                },
            )
            for dataset in published
        ]
        if changed:
            context.log.info(
                f"contracts changed: {', '.join(changed)}; tried: {', '.join(published) or 'none'}"
            )
        return SensorResult(run_requests=requests, cursor=cursor)

    return Definitions(
        assets=[contract_spec(d, assets[d], c, owners.get(d, ())) for d, c in tried.items()],
        asset_checks=list(checks.values()),
        jobs=[job],
        sensors=[contract_changes],
    )
