"""Data-ready events and the dependency rules declared in config/dependencies.yaml.

Every publish of a curated partition emits a `DataReady`; a `DependencyRule` says which
partitions must be ready before a downstream asset runs for the same partition, how long to wait
for them and what to do when the wait is over.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lake_assets.config import NO_UNKNOWN_KEYS, ConfigError, WholeNumber, keyed, load_config
from lake_assets.settings import DEFAULT_DEPENDENCIES_FILE

OnTimeout = Literal["wait", "run_partial", "skip"]

if TYPE_CHECKING:  # the core must not import the resources package at run time
    from resources.catalog import PublishedPartition


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def content_hash_of(manifest: dict) -> str:
    """A stable hash of a published partition's content: its files and row count.

    Order-independent in the files, so the same publish hashed twice gives the same value;
    any new publish writes new files, so it gives a new one.
    """
    body = {"files": sorted(manifest.get("files") or []), "row_count": manifest["row_count"]}
    return _sha256(json.dumps(body, sort_keys=True))


@dataclass(frozen=True)
class DataReady:
    """A published partition, announced. Delivered at least once; a delivery is new only when
    its identity differs from the partition's latest recorded event (see EventStore.record)."""

    dataset: str
    partition: str
    schema_version: str
    row_count: int
    run_id: str
    content_hash: str
    published_at: str

    @property
    def identity(self) -> str:
        """Which version of the partition this announces: its content under its schema.

        The run id and publish time are left out on purpose: a retried publisher announcing
        the same content under another run id is still the same version of the partition.
        """
        return _sha256(f"{self.dataset}|{self.partition}|{self.schema_version}|{self.content_hash}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> DataReady:
        fields = {name: data[name] for name in cls.__dataclass_fields__}
        return cls(**{**fields, "row_count": int(fields["row_count"])})

    @classmethod
    def from_published(cls, published: PublishedPartition, files: list[str]) -> DataReady:
        """The event for a partition `publish_partitions` just switched to."""
        manifest = {"files": files, "row_count": published.row_count}
        return cls(
            dataset=published.dataset,
            partition=published.partition,
            schema_version=published.schema_version,
            row_count=published.row_count,
            run_id=published.run_id,
            content_hash=content_hash_of(manifest),
            published_at=published.published_at,
        )


class DependencyRule(BaseModel):
    """Run `target` for partition p when every input dataset has published p.

    `lookback` names datasets whose partitions p-N..p the target's partition p also reads
    (a state with its late changes, a rate carried forward), none of them required: a publish
    of q touches the target's partitions q..q+N, each run once its day has ended (its partition exists).
    `base` names datasets whose partition p-N the target's p is built on (a state carried from
    an earlier day, the target's own included), not required: a publish of q touches q+N, so a
    corrected day reaches every later state, one base at a time (ADR-0202)."""

    model_config = ConfigDict(**NO_UNKNOWN_KEYS, frozen=True)

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    target: str = Field(min_length=1)  # an asset key path, "marts/daily_spend"
    inputs: tuple[str, ...] = ()
    lookback: dict[str, WholeNumber] = Field(default_factory=dict)
    base: dict[str, Annotated[int, Field(strict=True, gt=0)]] = Field(default_factory=dict)
    timeout_hours: float = Field(gt=0)
    on_timeout: OnTimeout = "wait"
    # Run only partitions whose target's last materialization awaits a reference (a contract's
    # referential rule found orphans in grace, or was held back by them) or was checked against
    # another version of it than the one now published: the rule's inputs are that reference,
    # and publishing it is the moment to check again (ADR-0132).
    recheck_references: bool = False

    @field_validator("inputs")
    @classmethod
    def _distinct(cls, inputs: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(inputs)) != len(inputs):
            raise ValueError("inputs must be distinct")
        return inputs

    @model_validator(mode="after")
    def _reads_something(self) -> DependencyRule:
        if not self.inputs and not self.lookback:
            raise keyed("inputs", "must not be empty unless the rule has a lookback")
        if twice := sorted(set(self.base) & {*self.inputs, *self.lookback}):
            raise keyed(f"base.{twice[0]}", "is also an input or a lookback of the rule")
        return self

    @property
    def datasets(self) -> tuple[str, ...]:
        """Every dataset whose publish concerns the rule: its inputs, then its lookback's and
        its bases'."""
        return self.inputs + tuple(d for d in (*self.lookback, *self.base) if d not in self.inputs)

    @property
    def waits_for_its_day(self) -> bool:
        """Whether a publish of an earlier day touches the rule's partitions: those wait until
        their day has ended (their partition exists)."""
        return bool(self.lookback or self.base)

    @property
    def target_path(self) -> list[str]:
        return self.target.strip("/").split("/")


class DependencyRules(BaseModel):
    """config/dependencies.yaml: a list of rules with distinct names."""

    model_config = NO_UNKNOWN_KEYS

    rules: tuple[DependencyRule, ...]

    @model_validator(mode="after")
    def _distinct_names(self) -> DependencyRules:
        for index, rule in enumerate(self.rules):
            if any(rule.name == other.name for other in self.rules[:index]):
                raise keyed(f"rules[{index}].name", f"duplicate rule name {rule.name!r}")
        return self


def load_rules(path: Path | str = DEFAULT_DEPENDENCIES_FILE) -> list[DependencyRule]:
    """Parse and validate the dependency rules; every error names file, key and reason."""
    return list(load_config(path, DependencyRules).rules)


def check_rules(
    path: Path | str,
    rules: list[DependencyRule],
    datasets: Collection[str],
    targets: Collection[str],
) -> None:
    """Every input is a dataset that announces its partitions (a declared source or a derived
    table), and every
    target an asset of the graph: an unknown input would wait forever in silence, an unknown
    target fail every sensor tick."""
    for index, rule in enumerate(rules):
        key = f"rules[{index}]"
        named = [(f"inputs[{i}]", d) for i, d in enumerate(rule.inputs)]
        named += [(f"lookback.{d}", d) for d in rule.lookback]
        named += [(f"base.{d}", d) for d in rule.base]
        for place, dataset in named:
            if dataset not in datasets:
                raise ConfigError(
                    path,
                    f"{key}.{place}",
                    f"unknown dataset {dataset!r}: nothing announces it; "
                    f"datasets that do: {', '.join(sorted(datasets))}",
                )
        if "/".join(rule.target_path) not in targets:
            raise ConfigError(
                path,
                f"{key}.target",
                f"no asset {rule.target!r} in the graph; assets: {', '.join(sorted(targets))}",
            )
