"""Where the lake lives and which backends serve it, read once from the environment and YAML.

One setting, `LAKE_PROFILE`, chooses between the embedded `local` profile (a folder, SQLite,
Spark local[*]) and `aws` (S3, DynamoDB, Glue, SNS, SQS, EMR Serverless).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml

from lake_assets.tables.keys import InvalidKeyPart, check_source_id

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCES_FILE = REPO_ROOT / "config" / "sources.yaml"
DEFAULT_CONTRACTS_DIR = REPO_ROOT / "config" / "contracts"
DEFAULT_DEPENDENCIES_FILE = REPO_ROOT / "config" / "dependencies.yaml"
DEFAULT_COMPACTION_FILE = REPO_ROOT / "config" / "compaction.yaml"

Profile = Literal["local", "aws"]
COMPATIBILITY_MODES = (
    "BACKWARD",
    "BACKWARD_TRANSITIVE",
    "FORWARD",
    "FORWARD_TRANSITIVE",
    "FULL",
    "FULL_TRANSITIVE",
    "NONE",
)


class ConfigError(ValueError):
    """A declarative config file is invalid; the message names the file, key and reason."""

    def __init__(self, file: Path | str, key: str, reason: str):
        self.file, self.key, self.reason = str(file), key, reason
        super().__init__(f"{file}: {key}: {reason}")


OutOfOrderPolicy = Literal["resequence", "reject"]
# Whole-number fields of a source declaration -> the least value allowed.
WHOLE_NUMBERS = {"lookback_days": 0, "max_payload_bytes": 1}


@dataclass(frozen=True)
class HistoryConfig:
    """Bi-temporal history (SCD Type 2) kept for a snapshot source; see ADR-0022."""

    keys: tuple[str, ...]
    # Orders several rows of one key in one snapshot (same-day updates); a column of the source.
    sequence_field: str | None = None
    # What to do with a snapshot older than the newest one applied (ADR-0023).
    out_of_order: OutOfOrderPolicy = "resequence"


@dataclass(frozen=True)
class SourceConfig:
    """One producer of payloads, as declared in config/sources.yaml."""

    source_id: str
    format: Literal["json", "csv"]
    event_time_field: str
    compatibility: str = "FULL"
    max_payload_bytes: int = 2 * 1024**3
    # A daily run re-publishes the partitions of the last `lookback_days` days, so records up
    # to that late land in their event date's partition; later ones are held as late arrivals.
    lookback_days: int = 3
    owner: str = "unowned"
    description: str = ""
    # "events": every file adds rows. "snapshot": each file is the whole state for its event
    # dates, so a later delivery for a date replaces the earlier ones (ADR-0024).
    delivery: Literal["events", "snapshot"] = "events"
    history: HistoryConfig | None = None
    # "skip": a payload with the same bytes as an earlier one of the source is recorded as a
    # DUPLICATE and never promoted. "keep": a source whose identical files are distinct deliveries.
    redelivery: Literal["skip", "keep"] = "skip"
    # The payloads' character encoding, read alike by the profiler and Spark (payload_reading.py).
    encoding: str = "UTF-8"


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
    alert_topic_arn: str | None = None
    arrivals_queue_url: str | None = None
    emr_application_id: str | None = None
    emr_execution_role_arn: str | None = None


@dataclass(frozen=True)
class Settings:
    profile: Profile
    lake_root: Path
    sources: dict[str, SourceConfig]
    contracts_dir: Path = DEFAULT_CONTRACTS_DIR
    dependencies_file: Path = DEFAULT_DEPENDENCIES_FILE
    compaction_file: Path = DEFAULT_COMPACTION_FILE
    partitions_start: str = "2025-01-01"
    retention_days: int = 7
    aws: AwsSettings = field(default_factory=AwsSettings)

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


def read_yaml_mapping(path: Path) -> dict:
    """A declarative config file's top-level mapping; errors name the file and the reason."""
    try:
        document = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(path, "-", "file not found") from None
    except yaml.YAMLError as error:
        raise ConfigError(path, "-", f"not valid YAML: {error}") from None
    if not isinstance(document, dict):
        raise ConfigError(path, "-", "expected a mapping")
    return document


def load_sources(path: Path | str = DEFAULT_SOURCES_FILE) -> dict[str, SourceConfig]:
    """Parse and validate the source declarations; every error names file, key and reason."""
    path = Path(path)
    document = read_yaml_mapping(path)
    if not isinstance(document.get("sources"), dict):
        raise ConfigError(path, "sources", "expected a mapping of source id to declaration")
    sources = {}
    allowed = set(SourceConfig.__dataclass_fields__) - {"source_id"}
    for source_id, declaration in document["sources"].items():
        key = f"sources.{source_id}"
        try:
            check_source_id(source_id)
        except InvalidKeyPart as error:
            raise ConfigError(path, key, str(error)) from None
        if not isinstance(declaration, dict):
            raise ConfigError(path, key, "expected a mapping")
        unknown = set(declaration) - allowed
        if unknown:
            raise ConfigError(path, f"{key}.{sorted(unknown)[0]}", "unknown key")
        for required in ("format", "event_time_field"):
            if required not in declaration:
                raise ConfigError(path, f"{key}.{required}", "required")
        if declaration["format"] not in ("json", "csv"):
            raise ConfigError(path, f"{key}.format", "must be json or csv")
        mode = declaration.get("compatibility", "FULL")
        if mode not in COMPATIBILITY_MODES:
            raise ConfigError(
                path, f"{key}.compatibility", f"must be one of {', '.join(COMPATIBILITY_MODES)}"
            )
        for name, least in WHOLE_NUMBERS.items():
            value = declaration.get(name, least)
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ConfigError(
                    path, f"{key}.{name}", f"must be a whole number >= {least}, got {value!r}"
                )
        if declaration.get("delivery", "events") not in ("events", "snapshot"):
            raise ConfigError(path, f"{key}.delivery", "must be events or snapshot")
        if declaration.get("redelivery", "skip") not in ("skip", "keep"):
            raise ConfigError(path, f"{key}.redelivery", "must be skip or keep")
        if "encoding" in declaration:
            declaration = {**declaration, "encoding": _encoding(path, key, declaration)}
        if "history" in declaration:
            declaration = {
                **declaration,
                "history": _history_config(path, f"{key}.history", declaration),
            }
        sources[source_id] = SourceConfig(source_id=source_id, **declaration)
    return sources


def _encoding(path: Path, key: str, declaration: dict) -> str:
    from lake_assets.ingestion.payload_reading import canonical_encoding

    try:
        return canonical_encoding(declaration["encoding"])
    except ValueError as error:
        raise ConfigError(path, f"{key}.encoding", str(error)) from None


def _history_config(path: Path, key: str, declaration: dict) -> HistoryConfig:
    history = declaration["history"]
    if not isinstance(history, dict):
        raise ConfigError(path, key, "expected a mapping")
    unknown = set(history) - set(HistoryConfig.__dataclass_fields__)
    if unknown:
        raise ConfigError(path, f"{key}.{sorted(unknown)[0]}", "unknown key")
    if declaration.get("delivery") != "snapshot":
        raise ConfigError(path, key, "history is kept for snapshot sources (delivery: snapshot)")
    keys = history.get("keys")
    if not keys or not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise ConfigError(path, f"{key}.keys", "required: a list of key column names")
    policy = history.get("out_of_order", "resequence")
    if policy not in ("resequence", "reject"):
        raise ConfigError(path, f"{key}.out_of_order", "must be resequence or reject")
    return HistoryConfig(
        keys=tuple(keys), sequence_field=history.get("sequence_field"), out_of_order=policy
    )


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
        alert_topic_arn=env.get("LAKE_ALERT_TOPIC_ARN") or None,
        arrivals_queue_url=env.get("LAKE_ARRIVALS_QUEUE_URL") or None,
        emr_application_id=env.get("LAKE_EMR_APPLICATION_ID") or None,
        emr_execution_role_arn=env.get("LAKE_EMR_EXECUTION_ROLE_ARN") or None,
    )
    return Settings(
        profile=profile,
        lake_root=Path(env.get("LAKE_ROOT", REPO_ROOT / "lake")).resolve(),
        sources=load_sources(env.get("LAKE_SOURCES_FILE", DEFAULT_SOURCES_FILE)),
        contracts_dir=Path(env.get("LAKE_CONTRACTS_DIR", DEFAULT_CONTRACTS_DIR)),
        dependencies_file=Path(env.get("LAKE_DEPENDENCIES_FILE", DEFAULT_DEPENDENCIES_FILE)),
        compaction_file=Path(env.get("LAKE_COMPACTION_FILE", DEFAULT_COMPACTION_FILE)),
        partitions_start=env.get("LAKE_PARTITIONS_START", "2025-01-01"),
        retention_days=int(env.get("LAKE_RETENTION_DAYS", "7")),
        aws=aws,
    )
