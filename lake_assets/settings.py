"""Where the lake lives and which backends serve it, read once from the environment and YAML.

One setting, `LAKE_PROFILE`, chooses between the embedded `local` profile (a folder, SQLite,
Spark local[*]) and `aws` (S3, DynamoDB, Glue, SNS, SQS, EMR Serverless).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, field_validator, model_validator
from pydantic.dataclasses import dataclass as declared

from lake_assets.config import NO_UNKNOWN_KEYS, ConfigError, WholeNumber, keyed, load_config
from lake_assets.pipelines.stamp import Generation, read_stamp
from lake_assets.pull.model import PullConfig
from lake_assets.tables.keys import check_source_id

REPO_ROOT = Path(__file__).resolve().parents[1]
# What `lake generate` renders from pipelines/<p>.yaml: each pipeline's source.yaml and
# contract.yaml, read at load time (lake_assets/pipelines/).
DEFAULT_PIPELINES_DIR = REPO_ROOT / "lake_pipelines"
DEFAULT_CONTRACTS_DIR = REPO_ROOT / "config" / "contracts"
DEFAULT_DEPENDENCIES_FILE = REPO_ROOT / "config" / "dependencies.yaml"
DEFAULT_COMPACTION_FILE = REPO_ROOT / "config" / "compaction.yaml"
DEFAULT_COST_FILE = REPO_ROOT / "config" / "cost" / "allocation.yaml"
DEFAULT_SLO_DIR = REPO_ROOT / "config" / "slo"
DEFAULT_LAKE_FILE = REPO_ROOT / "config" / "lake.yaml"
DEFAULT_ACCESS_DIR = REPO_ROOT / "config" / "access"
# What outlasts boto3's own retries is transient too: tried again after 30 s, then 60 s (ADR-0156).
STEP_RETRIES, STEP_RETRY_SECONDS = 2, 30.0

Profile = Literal["local", "aws"]
Compatibility = Literal[
    "BACKWARD",
    "BACKWARD_TRANSITIVE",
    "FORWARD",
    "FORWARD_TRANSITIVE",
    "FULL",
    "FULL_TRANSITIVE",
    "NONE",
]
OutOfOrderPolicy = Literal["resequence", "reject"]


def _canonical_encoding(name: str) -> str:
    # Imported when an encoding is declared: payload_reading loads the profiler (pyarrow,
    # numpy), which reading the settings does not otherwise need.
    from lake_assets.ingestion.payload_reading import canonical_encoding

    return canonical_encoding(name)


@declared(frozen=True, config=NO_UNKNOWN_KEYS)
class HistoryConfig:
    """Bi-temporal history (SCD Type 2) kept for a snapshot source; see ADR-0022."""

    keys: tuple[str, ...] = Field(min_length=1)
    # Orders several rows of one key in one snapshot (same-day updates); a column of the source.
    sequence_field: str | None = None
    # What to do with a snapshot older than the newest one applied (ADR-0023).
    out_of_order: OutOfOrderPolicy = "resequence"


# A source's owner when its spec names nobody: no team, whatever reads it (SLOs, cost, tags).
UNOWNED = "unowned"


@declared(frozen=True, config=NO_UNKNOWN_KEYS)
class SourceConfig:
    """One producer of payloads, as generated from its spec pipelines/<id>.yaml (or declared in
    the sources file LAKE_SOURCES_FILE names)."""

    source_id: str
    # custom: read by the pipeline's reader hook, alike by the profiler and Spark (issue 15).
    format: Literal["json", "csv", "custom"]
    event_time_field: str
    compatibility: Compatibility = "FULL"
    max_payload_bytes: Annotated[WholeNumber, Field(ge=1)] = 2 * 1024**3
    # A daily run re-publishes the partitions of the last `lookback_days` days, so records up
    # to that late land in their event date's partition; later ones are held as late arrivals.
    lookback_days: WholeNumber = 3
    owner: str = UNOWNED
    description: str = ""
    # "events": every file adds rows. "snapshot": each file is the whole state for its event
    # dates, so a later delivery for a date replaces the earlier ones (ADR-0024).
    delivery: Literal["events", "snapshot"] = "events"
    # Which day a record's curated partition is: its event time's (event_date) or the day its
    # payload landed (ingest_date, for sources whose event time says nothing about the day).
    partitioning: Literal["event_date", "ingest_date"] = "event_date"
    history: HistoryConfig | None = None
    # "skip": a payload with the same bytes as an earlier one of the source is recorded as a
    # DUPLICATE and never promoted. "keep": a source whose identical files are distinct deliveries.
    redelivery: Literal["skip", "keep"] = "skip"
    # The payloads' character encoding, read alike by the profiler and Spark (payload_reading.py).
    encoding: Annotated[str, AfterValidator(_canonical_encoding)] = "UTF-8"
    # Pulled from a database by `lake pull` and its schedule (lake_assets/pull/), not delivered.
    pull: PullConfig | None = None
    # Set when the declaration was generated from pipelines/<id>.yaml (lake_assets/pipelines/):
    # read from the generated file's stamp, it gives the assets their code_version and names the
    # pipeline's own Spark job.
    generation: Generation | None = None

    @property
    def partition_field(self) -> str | None:
        """The field whose dates partition the rows; None when they go by the day they landed
        (promotion_plan.file_partitions then gives every row its file's ingest date)."""
        return self.event_time_field if self.partitioning == "event_date" else None

    @model_validator(mode="after")
    def _history_of_snapshots(self) -> SourceConfig:
        if self.history is not None and self.delivery != "snapshot":
            raise keyed("history", "history is kept for snapshot sources (delivery: snapshot)")
        return self

    @model_validator(mode="after")
    def _pulled_as_json_lines(self) -> SourceConfig:
        if self.pull is not None and self.format != "json":
            raise keyed("pull", "a pulled source lands JSON lines: declare format: json")
        if self.pull is not None and self.redelivery != "skip":
            # A pull recovered after a crash lands its file again; the content hash makes the
            # second landing a DUPLICATE (lake_assets/pull/service.py).
            raise keyed("pull", "a pulled source needs redelivery: skip")
        return self

    @property
    def asset_owner(self) -> str:
        """The owner its assets name in Dagster (a team: `owner` is the team's name)."""
        return f"team:{self.owner}"


class SourcesFile(BaseModel):
    """Source declarations under their source ids: a generated lake_pipelines/<p>/source.yaml
    (one source), or a file of several that LAKE_SOURCES_FILE names (the tests' fixtures)."""

    model_config = NO_UNKNOWN_KEYS

    sources: dict[Annotated[str, AfterValidator(check_source_id)], SourceConfig]

    @field_validator("sources", mode="before")
    @classmethod
    def _named_by_their_keys(cls, declared: object) -> object:
        # The id is the declaration's key in the file, never a key inside it.
        if not isinstance(declared, dict):
            return declared
        named = {}
        for source_id, declaration in declared.items():
            if isinstance(declaration, dict):
                if "source_id" in declaration:
                    raise keyed(f"{source_id}.source_id", "unknown key")
                declaration = {"source_id": source_id, **declaration}
            named[source_id] = declaration
        return named


class LakeFile(BaseModel):
    """config/lake.yaml: what holds for the whole lake rather than for one source."""

    model_config = NO_UNKNOWN_KEYS

    # The partition calendar's first day: where the lake's data starts. A calendar that starts
    # earlier shows hundreds of partitions that can never hold data (ADR: partitions start).
    partitions_start: date = date(2025, 1, 1)
    # Owner of the assets that no source owns (marts, maintenance), as Dagster shows owners.
    platform_owner: str = Field(default="team:data-platform", min_length=1)


class LakeCalendar(BaseModel):
    """<lake>/_state/calendar.yaml: the calendar start a lake records for itself. Only the demo
    writes one: its days follow the day it is played, so its lake's data starts where no
    config file can say in advance."""

    model_config = NO_UNKNOWN_KEYS

    partitions_start: date


def calendar_file(lake_root: Path) -> Path:
    return lake_root / "_state" / "calendar.yaml"


def record_partitions_start(lake_root: Path, start: date) -> Path:
    """Record in the lake that its data starts on `start`: every reader of this lake (the `lake`
    commands, the code location `make dev` loads) then starts the calendar there."""
    path = calendar_file(lake_root)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "# Where this lake's data starts, recorded by `lake demo`: it overrides config/lake.yaml's\n"
        "# partitions_start for this lake; LAKE_PARTITIONS_START overrides both.\n"
        f"partitions_start: {start.isoformat()}\n"
    )
    return path


def _partitions_start(env, lake_root: Path, declared: date) -> str:
    """LAKE_PARTITIONS_START, else the start the lake recorded, else config/lake.yaml's."""
    value = env.get("LAKE_PARTITIONS_START")
    if value is None:
        recorded = calendar_file(lake_root)
        if recorded.exists():
            return load_config(recorded, LakeCalendar).partitions_start.isoformat()
        return declared.isoformat()
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise ConfigError(
            "LAKE_PARTITIONS_START", "LAKE_PARTITIONS_START", "must be YYYY-MM-DD"
        ) from None


@dataclass(frozen=True)
class AwsSettings:
    region: str = "eu-west-1"
    endpoint_url: str | None = None
    bucket: str = "lakehouse"
    registry_table: str = "lake-schema-registry"
    file_index_table: str = "lake-raw-file-index"
    glue_database: str = "lakehouse_curated"
    lineage_table: str = "lake-lineage"
    events_table: str = "lake-events"
    event_state_table: str = "lake-event-state"
    compaction_history_table: str = "lake-compaction-history"
    access_audit_table: str = "lake-access-audit"
    alert_topic_arn: str | None = None
    arrivals_queue_url: str | None = None
    emr_application_id: str | None = None
    emr_execution_role_arn: str | None = None
    # The lake's CloudTrail trail (terraform/audit.tf): the access-log bucket it delivers to and
    # its key prefix, read by `lake access reads` (access/trail.py); the orchestrator's role,
    # whose reads (with the Spark jobs', emr_execution_role_arn) are the lake's own.
    cloudtrail_bucket: str | None = None
    cloudtrail_prefix: str = "cloudtrail"
    orchestrator_role_arn: str | None = None
    # The masked views' definer role and the consumer roles' ARN up to the profile's name
    # (terraform/consumers.tf): the views are created and granted as the definer (ADR-0161).
    view_definer_role_arn: str | None = None
    consumer_role_arn_prefix: str | None = None
    # How often the orchestrator asks EMR Serverless for a running job's state and reads its
    # Pipes messages from S3. AWS-friendly by default; the tests' fake EMR answers in under a
    # second, so they ask more often (each job would otherwise wait about two polls).
    emr_poll_seconds: float = 5.0


@dataclass(frozen=True)
class Settings:
    profile: Profile
    lake_root: Path
    sources: dict[str, SourceConfig]
    contracts_dir: Path = DEFAULT_CONTRACTS_DIR
    # The generated pipelines the sources come from; None when LAKE_SOURCES_FILE names them.
    pipelines_dir: Path | None = None
    # The generated pipelines whose contract.yaml joins contracts_dir's contracts: pipelines_dir,
    # unless LAKE_CONTRACTS_DIR chose another folder, which then holds all the contracts.
    pipeline_contracts_dir: Path | None = None
    dependencies_file: Path = DEFAULT_DEPENDENCIES_FILE
    compaction_file: Path = DEFAULT_COMPACTION_FILE
    # The cost allocation policy (lake_assets/cost/policy.py).
    cost_file: Path = DEFAULT_COST_FILE
    # The SLO files (lake_assets/slo/config.py): the repository's for its own sources and
    # contracts; None (no SLOs) for a lake that chose its own, unless LAKE_SLO_DIR names some.
    slo_dir: Path | None = DEFAULT_SLO_DIR
    partitions_start: str = "2025-01-01"
    platform_owner: str = "team:data-platform"
    retention_days: int = 7
    # A step failing on a transient error is tried again this many times, after this many
    # seconds, doubling (runtime/retries.py, ADR-0156).
    step_retries: int = STEP_RETRIES
    step_retry_seconds: float = STEP_RETRY_SECONDS
    aws: AwsSettings = field(default_factory=AwsSettings)

    @property
    def environment(self) -> str:
        """What access policies' `when: {environment: ...}` conditions see: the aws profile is
        production, the embedded local default a developer's machine."""
        return "prod" if self.profile == "aws" else "dev"

    @property
    def state_dir(self) -> Path:
        """Where the local profile keeps its SQLite stores and alert log."""
        return self.lake_root / "_state"

    def source(self, source_id: str) -> SourceConfig:
        try:
            return self.sources[source_id]
        except KeyError:
            known = ", ".join(sorted(self.sources)) or "none"
            raise KeyError(f"unknown source {source_id!r}; declared sources: {known}") from None


def load_sources(path: Path | str | None = None) -> dict[str, SourceConfig]:
    """Parse and validate the source declarations in the file at `path`, or by default the
    generated pipelines' (load_pipeline_sources); every error names file, key and reason."""
    if path is None:
        return load_pipeline_sources(DEFAULT_PIPELINES_DIR)
    return load_config(path, SourcesFile).sources


def load_pipeline_sources(pipelines_dir: Path | str) -> dict[str, SourceConfig]:
    """The source of each generated pipeline, `<pipelines_dir>/<p>/source.yaml`, by name, with
    the Generation its stamp records (the assets' code_version, the pipeline's Spark job)."""
    sources = {}
    for path in sorted(Path(pipelines_dir).glob("*/source.yaml")):
        name = path.parent.name
        declared = load_config(path, SourcesFile).sources
        if set(declared) != {name}:
            found = ", ".join(sorted(declared)) or "none"
            raise ConfigError(path, "sources", f"must declare {name!r} only, found {found}")
        stamp = read_stamp(path.read_text())
        if stamp is None:
            raise ConfigError(
                path, "-", "no lake-generated stamp in its first two lines: run `lake generate`"
            )
        sources[name] = dataclasses.replace(declared[name], generation=stamp.generation)
    return sources


def load_lake_file(path: Path | str = DEFAULT_LAKE_FILE) -> LakeFile:
    """Parse and validate config/lake.yaml; every error names file, key and reason."""
    return load_config(path, LakeFile)


def _sources(env) -> tuple[Path | None, dict[str, SourceConfig]]:
    """The generated pipelines' folder and the sources: LAKE_SOURCES_FILE's, else the generated
    pipelines' of LAKE_PIPELINES_DIR (default lake_pipelines/)."""
    if env.get("LAKE_SOURCES_FILE"):
        return None, load_sources(env["LAKE_SOURCES_FILE"])
    pipelines_dir = Path(env.get("LAKE_PIPELINES_DIR") or DEFAULT_PIPELINES_DIR)
    return pipelines_dir, load_pipeline_sources(pipelines_dir)


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    profile = env.get("LAKE_PROFILE", "local")
    if profile not in ("local", "aws"):
        raise ConfigError("LAKE_PROFILE", "LAKE_PROFILE", "must be 'local' or 'aws'")
    aws = AwsSettings(
        region=env.get("AWS_DEFAULT_REGION", AwsSettings.region),
        endpoint_url=env.get("LAKE_AWS_ENDPOINT_URL") or None,
        bucket=env.get("LAKE_S3_BUCKET", AwsSettings.bucket),
        registry_table=env.get("LAKE_REGISTRY_TABLE", AwsSettings.registry_table),
        file_index_table=env.get("LAKE_FILE_INDEX_TABLE", AwsSettings.file_index_table),
        glue_database=env.get("LAKE_GLUE_DATABASE", AwsSettings.glue_database),
        lineage_table=env.get("LAKE_LINEAGE_TABLE", AwsSettings.lineage_table),
        events_table=env.get("LAKE_EVENTS_TABLE", AwsSettings.events_table),
        event_state_table=env.get("LAKE_EVENT_STATE_TABLE", AwsSettings.event_state_table),
        compaction_history_table=(
            env.get("LAKE_COMPACTION_HISTORY_TABLE") or AwsSettings.compaction_history_table
        ),
        access_audit_table=env.get("LAKE_ACCESS_AUDIT_TABLE") or AwsSettings.access_audit_table,
        alert_topic_arn=env.get("LAKE_ALERT_TOPIC_ARN") or None,
        arrivals_queue_url=env.get("LAKE_ARRIVALS_QUEUE_URL") or None,
        emr_application_id=env.get("LAKE_EMR_APPLICATION_ID") or None,
        emr_execution_role_arn=env.get("LAKE_EMR_EXECUTION_ROLE_ARN") or None,
        cloudtrail_bucket=env.get("LAKE_CLOUDTRAIL_BUCKET") or None,
        cloudtrail_prefix=env.get("LAKE_CLOUDTRAIL_PREFIX") or AwsSettings.cloudtrail_prefix,
        orchestrator_role_arn=env.get("LAKE_ORCHESTRATOR_ROLE_ARN") or None,
        view_definer_role_arn=env.get("LAKE_VIEW_DEFINER_ROLE_ARN") or None,
        consumer_role_arn_prefix=env.get("LAKE_CONSUMER_ROLE_ARN_PREFIX") or None,
        emr_poll_seconds=float(env.get("LAKE_EMR_POLL_SECONDS") or AwsSettings.emr_poll_seconds),
    )
    lake = load_lake_file(env.get("LAKE_CONFIG_FILE", DEFAULT_LAKE_FILE))
    lake_root = Path(env.get("LAKE_ROOT", REPO_ROOT / "lake")).resolve()
    pipelines_dir, sources = _sources(env)
    contracts_dir = Path(env.get("LAKE_CONTRACTS_DIR", DEFAULT_CONTRACTS_DIR))
    chosen = contracts_dir.resolve() != DEFAULT_CONTRACTS_DIR.resolve()
    return Settings(
        profile=profile,
        lake_root=lake_root,
        sources=sources,
        contracts_dir=contracts_dir,
        pipelines_dir=pipelines_dir,
        pipeline_contracts_dir=None if chosen else pipelines_dir,
        dependencies_file=Path(env.get("LAKE_DEPENDENCIES_FILE", DEFAULT_DEPENDENCIES_FILE)),
        compaction_file=Path(env.get("LAKE_COMPACTION_FILE", DEFAULT_COMPACTION_FILE)),
        cost_file=Path(env.get("LAKE_COST_FILE", DEFAULT_COST_FILE)),
        slo_dir=Path(env["LAKE_SLO_DIR"])
        if env.get("LAKE_SLO_DIR")
        else (DEFAULT_SLO_DIR if not chosen and pipelines_dir is not None else None),
        partitions_start=_partitions_start(env, lake_root, lake.partitions_start),
        platform_owner=lake.platform_owner,
        retention_days=int(env.get("LAKE_RETENTION_DAYS", "7")),
        step_retries=int(env.get("LAKE_STEP_RETRIES", STEP_RETRIES)),
        step_retry_seconds=float(env.get("LAKE_STEP_RETRY_SECONDS", STEP_RETRY_SECONDS)),
        aws=aws,
    )
