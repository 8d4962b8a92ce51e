"""`pipelines/<name>.yaml`: the one file a data engineer writes to add a pipeline.

The schema stays small on purpose (seed 000 project 10): a need only one pipeline has is a hook
(hooks.py), not a new option. A spec is validated when it is loaded (`lake generate`, `--check`);
every error names the file, the line, the key and the reason. The code location never reads
specs: it loads what `lake generate` rendered from them (ADR: pipelines are specs rendered to
files).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator

from lake_assets.config import NO_UNKNOWN_KEYS, WholeNumber, keyed
from lake_assets.pull.model import PullConfig
from lake_assets.settings import Compatibility, HistoryConfig, SourceConfig

# A hook is named by dotted path, `package.module:function`, importable where the job runs.
HookPath = Annotated[str, Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")]


class _Strict(BaseModel):
    model_config = NO_UNKNOWN_KEYS


class FilesSource(_Strict):
    """Where payloads come from: files pushed into the raw zone, or pulled by the lake."""

    format: Literal["json", "csv", "custom"]  # custom: read by hooks.reader
    encoding: str = "UTF-8"
    redelivery: Literal["skip", "keep"] = "skip"
    max_payload_bytes: Annotated[WholeNumber, Field(ge=1)] = 2 * 1024**3
    pull: PullConfig | None = None  # pulled from a database by `lake pull` (lake_assets/pull/)


class Hooks(_Strict):
    record_transform: HookPath | None = None
    frame_transform: HookPath | None = None
    reader: HookPath | None = None
    partitioner: HookPath | None = None


class ContractRef(_Strict):
    """A contract file beside the specs (pipelines/contracts/<name>.yaml), comments and all."""

    file: str


class Sla(_Strict):
    """Becomes the contract's freshness: day D due by D+1 plus deadline_hours (UTC); the newest
    publish at most max_staleness_hours old."""

    deadline_hours: float | None = Field(default=None, ge=0)
    max_staleness_hours: float | None = Field(default=None, gt=0)


class PipelineSpec(_Strict):
    """One pipeline. Its name is the file's stem (a source id), never a key inside it."""

    description: str = ""
    owner: str = Field(min_length=1)
    tags: dict[str, str] = {}
    source: FilesSource
    event_time_field: str = Field(min_length=1)
    # event_date: daily by the records' event time; ingest_date: daily by the day it landed.
    # Monthly partitions are refused: the lake has one daily calendar (ADR: pipeline specs).
    partitioning: Literal["event_date", "ingest_date", "monthly"] = "event_date"
    delivery: Literal["events", "snapshot"] = "events"
    lookback_days: WholeNumber = 3
    compatibility: Compatibility = "FULL"
    # A reference to a contract file, or the contract itself (without dataset and owner,
    # which are the pipeline's name and owner).
    contract: ContractRef | dict
    sla: Sla | None = None
    history: HistoryConfig | None = None
    hooks: Hooks = Hooks()

    @model_validator(mode="after")
    def _one_calendar(self) -> PipelineSpec:
        if self.partitioning == "monthly":
            raise keyed(
                "partitioning",
                "monthly partitions are not supported: the lake keeps one daily calendar; "
                "use event_date (daily) or a partitioner hook",
            )
        return self

    def source_config(self, name: str) -> SourceConfig:
        """The source declaration the engine runs (what config/sources.yaml held)."""
        raise NotImplementedError  # helper A

    def contract_document(self, name: str, specs_dir: Path) -> dict:
        """The contract as the contracts loader reads it (dataset = name, owner, freshness from
        `sla`), from the referenced file or inline."""
        raise NotImplementedError  # helper A


def load_spec(path: Path) -> PipelineSpec:
    """Parse and validate one spec; errors name file, line, key and reason."""
    raise NotImplementedError  # helper A


def spec_hash(spec: PipelineSpec, specs_dir: Path) -> str:
    """stamp.data_hash of the parsed spec and the contract it references: comments and
    formatting do not count, a changed referenced contract does."""
    raise NotImplementedError  # helper A
