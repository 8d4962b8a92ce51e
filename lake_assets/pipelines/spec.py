"""`pipelines/<name>.yaml`: the one file a data engineer writes to add a pipeline.

The schema stays small on purpose (seed 000 project 10): a need only one pipeline has is a hook
(hooks.py), not a new option. A spec is validated when it is loaded (`lake generate`, `--check`);
every error names the file, the line, the key and the reason. The code location never reads
specs: it loads what `lake generate` rendered from them (ADR-0081: pipelines are specs rendered to
files).
"""

from __future__ import annotations

import inspect
import re
from importlib import import_module
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from lake_assets.config import (
    NO_UNKNOWN_KEYS,
    ConfigError,
    WholeNumber,
    config_error,
    keyed,
    load_config,
    parse_yaml,
    read_mapping,
)
from lake_assets.contracts.model import Contract
from lake_assets.pipelines.hooks import HOOK_POINTS
from lake_assets.pipelines.stamp import data_hash
from lake_assets.pull.model import PullConfig
from lake_assets.settings import Compatibility, HistoryConfig, SourceConfig
from lake_assets.tables.keys import check_source_id

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
    # Monthly partitions are refused: the lake has one daily calendar (ADR-0081).
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
        if self.partitioning == "ingest_date" and self.hooks.partitioner is not None:
            # Rows then go by the day their file landed: the hook would silently never run.
            raise keyed(
                "hooks.partitioner",
                "a partitioner maps event dates: it goes with partitioning: event_date",
            )
        return self

    @field_validator("contract", mode="wrap")
    @classmethod
    def _reference_or_inline(cls, value: object, handler) -> ContractRef | dict:
        # A mapping with `file:` is a reference, any other mapping the contract itself; pydantic's
        # own union error would name both members instead of saying that.
        if isinstance(value, dict) and "file" in value:
            return ContractRef.model_validate(value)
        if not isinstance(value, dict):
            raise ValueError(
                "expected {file: contracts/<name>.yaml} or the contract itself (a mapping)"
            )
        return handler(value)

    @model_validator(mode="after")
    def _one_hook_per_function_name(self) -> PipelineSpec:
        # job.py imports each hook's function by its own name: two of one name from different
        # modules would be one name for two functions.
        modules: dict[str, str] = {}
        for point, dotted in self.hooks.model_dump().items():
            if dotted is None:
                continue
            module, function = dotted.split(":")
            first = modules.setdefault(function, module)
            if first != module:
                raise keyed(
                    f"hooks.{point}",
                    f"{dotted} and {first}:{function} share the function name {function} "
                    "(the generated job imports both by it): rename one of the functions",
                )
        return self

    @model_validator(mode="after")
    def _reader_for_custom(self) -> PipelineSpec:
        if (self.source.format == "custom") != (self.hooks.reader is not None):
            raise keyed("hooks.reader", "format: custom and a reader hook go together")
        return self

    def source_config(self, name: str) -> SourceConfig:
        """The source declaration the engine runs (what config/sources.yaml held before pipelines were generated). Raises
        pydantic's ValidationError for what SourceConfig refuses; load_spec names the spec's key."""
        source = self.source
        return SourceConfig(
            source_id=name,
            format=source.format,
            event_time_field=self.event_time_field,
            compatibility=self.compatibility,
            max_payload_bytes=source.max_payload_bytes,
            lookback_days=self.lookback_days,
            owner=self.owner,
            description=self.description,
            delivery=self.delivery,
            partitioning=self.partitioning,
            history=self.history,
            redelivery=source.redelivery,
            encoding=source.encoding,
            pull=source.pull,
        )

    def contract_document(self, name: str, specs_dir: Path) -> dict:
        """The contract as the contracts loader reads it (dataset = name, owner, freshness from
        `sla`), from the referenced file or inline: validated, then dumped by alias."""
        spec_path = Path(specs_dir) / f"{name}.yaml"
        if isinstance(self.contract, ContractRef):
            # Errors name the contract file and its keys.
            where, at = Path(specs_dir) / self.contract.file, ""
            document = _referenced_contract(spec_path, where)
            origin = self.contract.file
        else:  # errors name the spec and the keys under its `contract:`
            where, at, document = spec_path, "contract", self.contract
            origin = "the inline contract"
        if "freshness" in document and self.sla is not None:
            # The sla would replace the contract's freshness below: one of them silently lost.
            raise ConfigError.located(
                spec_path, "sla", f"{origin} also declares freshness: declare it once, as sla"
            )

        def within(key: str) -> str:
            return ".".join(part for part in (at, key) if part)

        document = {"dataset": name, "owner": self.owner, **document}
        if self.sla is not None:
            document["freshness"] = self.sla.model_dump(exclude_none=True)
        try:
            contract = Contract.model_validate(document)
        except ValidationError as error:
            raise config_error(where, error, within=within, lines=True) from None
        if contract.dataset != name:
            raise ConfigError.located(where, within("dataset"), f"must be {name!r}, the pipeline")
        return contract.model_dump(mode="json", by_alias=True, exclude_none=True)


def _referenced_contract(spec_path: Path, path: Path) -> dict:
    """The parsed contract file a spec references; a missing or unreadable one names the spec."""
    if not path.is_file():
        raise ConfigError.located(spec_path, "contract.file", f"{path} not found")
    return read_mapping(path)


def load_spec(path: Path | str) -> PipelineSpec:
    """Parse and validate one spec, with its contract and its source declaration; errors name
    file, line, key and reason. Hooks are checked apart (check_hooks), since that imports them."""
    path = Path(path)
    try:
        check_source_id(path.stem)
    except ValueError as error:
        raise ConfigError(path, "-", f"the file name is the pipeline's name: {error}") from None
    spec = load_config(path, PipelineSpec, lines=True)
    try:
        spec.source_config(path.stem)
    except ValidationError as error:
        raise config_error(path, error, within=_spec_key, lines=True) from None
    spec.contract_document(path.stem, path.parent)
    return spec


def _spec_key(key: str) -> str:
    """A SourceConfig key as written in the spec (a FilesSource field sits under `source:`)."""
    head = re.split(r"[.\[]", key, maxsplit=1)[0]
    return f"source.{key}" if head in FilesSource.model_fields else key


def load_specs(specs_dir: Path | str) -> dict[str, PipelineSpec]:
    """Every `<name>.yaml` directly in `specs_dir` (contracts/ beside them is not a spec), by name."""
    specs_dir = Path(specs_dir)
    if not specs_dir.is_dir():
        raise ConfigError(specs_dir, "-", "specs folder not found")
    return {path.stem: load_spec(path) for path in sorted(specs_dir.glob("*.yaml"))}


def spec_hash(spec: PipelineSpec, specs_dir: Path) -> str:
    """stamp.data_hash of the parsed spec and the contract it references: comments and
    formatting do not count, a changed referenced contract does."""
    referenced = None
    if isinstance(spec.contract, ContractRef):
        path = Path(specs_dir) / spec.contract.file
        referenced = parse_yaml(path.read_text())
    return data_hash({"spec": spec.model_dump(mode="json"), "contract": referenced})


def check_hooks(spec: PipelineSpec, path: Path | str) -> None:
    """Each hook the spec names is importable and takes the parameters of its point (HOOK_POINTS):
    what `lake generate` checks before it renders a job that imports them."""
    for point, expected in HOOK_POINTS.items():
        dotted = getattr(spec.hooks, point)
        if dotted is None:
            continue
        key = f"hooks.{point}"
        module_name, function_name = dotted.split(":")
        try:
            module = import_module(module_name)
        except Exception as error:  # noqa: BLE001 - whatever the import raises, the spec names it
            raise ConfigError.located(
                path, key, f"cannot import {module_name}: {type(error).__name__}: {error}"
            ) from None
        hook = getattr(module, function_name, None)
        if not callable(hook):
            raise ConfigError.located(path, key, f"{module_name} has no function {function_name}")
        takes = tuple(inspect.signature(hook).parameters)
        if takes != expected:
            raise ConfigError.located(
                path,
                key,
                f"{dotted} takes ({', '.join(takes)}); {point} takes ({', '.join(expected)})",
            )
