"""Pulled sources in the code location: per source with a `pull:` block, a job `pull_<source>`
that pulls it once (what `lake pull` does) and a schedule on the block's cron. The schedules
start STOPPED: `make dev` starts calmly, without pulling from a database nobody has pointed it
at, and an operator turns a pull on in the webserver (or with `dagster schedule start`). A tick
while the source's circuit breaker is open is skipped, saying why (lake_assets/circuit.py). What lands is
then profiled and promoted by the raw arrivals sensor and the daily schedules like any delivered
file."""

from dagster import (
    DefaultScheduleStatus,
    Definitions,
    MetadataValue,
    OpExecutionContext,
    Output,
    ResourceParam,
    RunRequest,
    ScheduleEvaluationContext,
    SkipReason,
    job,
    op,
    schedule,
)

from lake_assets.circuit import describe
from lake_assets.instants import format_instant, utc_now
from lake_assets.pull.service import pull_declared_source
from lake_assets.pull.watermark import read_state
from lake_assets.settings import Settings, SourceConfig
from resources.notifier import Notifier
from resources.registry_store import RegistryStore
from resources.storage import LakeStorage


def pull_job_name(source_id: str) -> str:
    return f"pull_{source_id}"


def _pull_job(source: SourceConfig):
    source_id, watermark = source.source_id, source.pull.watermark

    @op(
        name=f"{pull_job_name(source_id)}_changes",  # the job has the plain name
        description=f"Pull {source_id}'s rows changed since its watermark into the raw zone.",
    )
    def pull(
        context: OpExecutionContext,
        settings: ResourceParam[Settings],
        storage: ResourceParam[LakeStorage],
        registry: ResourceParam[RegistryStore],
        notifier: ResourceParam[Notifier],
    ) -> Output[None]:
        resources = {"storage": storage, "registry": registry, "notifier": notifier}
        result = pull_declared_source(settings, resources, source_id)
        for line in result.summary((watermark.column, watermark.tie_breaker)):
            context.log.info(line)
        position = result.watermark
        return Output(
            None,
            metadata={
                "rows": result.rows,
                "raw_key": MetadataValue.text(result.landed.key if result.landed else "-"),
                "read_up_to": MetadataValue.text(format_instant(result.upper_bound)),
                "watermark": MetadataValue.json(
                    {
                        watermark.column: format_instant(position.at),
                        watermark.tie_breaker: position.key,
                    }
                    if position
                    else {}
                ),
            },
        )

    @job(
        name=pull_job_name(source_id),
        description=f"Pull {source_id} from its database into the raw zone (`lake pull {source_id}`).",
        tags={"lake/source": source_id},
    )
    def pull_job():
        pull()

    return pull_job


def _pull_schedule(source: SourceConfig, pull_job):
    source_id = source.source_id

    @schedule(
        name=f"{pull_job.name}_schedule",
        job=pull_job,
        cron_schedule=source.pull.cron,
        execution_timezone="UTC",
        description=f"Pulls {source_id} ({source.pull.cron} UTC), except while its circuit "
        "breaker is open; off until an operator starts it.",
        default_status=DefaultScheduleStatus.STOPPED,
    )
    def pull_schedule(context: ScheduleEvaluationContext, storage: ResourceParam[LakeStorage]):
        circuit = read_state(storage, source_id).circuit
        if circuit.is_open(context.scheduled_execution_time or utc_now()):
            return SkipReason(f"{source_id}: {describe(circuit)}")
        return RunRequest()

    return pull_schedule


def pull_definitions(settings: Settings) -> Definitions:
    jobs, schedules = [], []
    for source in settings.sources.values():
        if source.pull is None:
            continue
        pull_job = _pull_job(source)
        jobs.append(pull_job)
        schedules.append(_pull_schedule(source, pull_job))
    return Definitions(jobs=jobs, schedules=schedules)
