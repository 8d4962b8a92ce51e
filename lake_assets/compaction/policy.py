"""The compaction policy: which partitions qualify, the size to pack to, and the prices of the
cost model, from config/compaction.yaml (LAKE_COMPACTION_FILE). Every key is optional; an
error names the file, the key and the reason."""

from __future__ import annotations

from pathlib import Path

from pydantic import ConfigDict, Field, field_validator
from pydantic.dataclasses import dataclass as declared

from lake_assets.config import (
    NO_UNKNOWN_KEYS,
    Number,
    PositiveNumber,
    WholeNumber,
    load_config,
)
from lake_assets.settings import DEFAULT_COMPACTION_FILE

MiB = 1024**2


# Everything may be 0 (`open_cost_mib: 0` prices only what AWS bills) except what divides.
@declared(frozen=True, config=NO_UNKNOWN_KEYS)
class Selection:
    small_file_mib: Number = 128.0
    min_files: WholeNumber = 5
    target_file_mib: PositiveNumber = 128.0

    @property
    def small_file_bytes(self) -> int:
        return int(self.small_file_mib * MiB)

    @property
    def target_file_bytes(self) -> int:
        return int(self.target_file_mib * MiB)


@declared(frozen=True, config=NO_UNKNOWN_KEYS)
class Prices:
    """AWS list prices and the assumptions of the query cost model (ADR-0026)."""

    athena_usd_per_tb: Number = 5.0
    athena_min_mb_per_query: WholeNumber = 10
    s3_get_usd_per_1000: Number = 0.0004
    s3_put_usd_per_1000: Number = 0.005
    gets_per_file: WholeNumber = 2
    open_cost_mib: Number = 4.0
    emr_vcpu_hour_usd: Number = 0.052624
    emr_gb_hour_usd: Number = 0.0057785
    vcpus: WholeNumber = 4
    memory_gb: Number = 16.0
    queries_per_day: PositiveNumber = 10.0


@declared(frozen=True, config=ConfigDict(**NO_UNKNOWN_KEYS, validate_by_name=True))
class CompactionPolicy:
    """config/compaction.yaml: sections `selection` and `cost`."""

    selection: Selection = Field(default_factory=Selection)
    prices: Prices = Field(default_factory=Prices, alias="cost")

    @field_validator("selection", "prices", mode="before")
    @classmethod
    def _empty_section_is_the_defaults(cls, section: object) -> object:
        # A section whose every key is commented out reads as null in YAML.
        return {} if section is None else section


def load_policy(path: Path | str = DEFAULT_COMPACTION_FILE) -> CompactionPolicy:
    """Parse and validate the compaction policy file."""
    return load_config(path, CompactionPolicy)
