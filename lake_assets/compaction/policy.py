"""The compaction policy: which partitions qualify, the size to pack to, and the prices of the
cost model, from config/compaction.yaml (LAKE_COMPACTION_FILE). Every key is optional; an
error names the file, the key and the reason."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path

from lake_assets.settings import DEFAULT_COMPACTION_FILE, ConfigError, read_yaml_mapping

MiB = 1024**2


@dataclass(frozen=True)
class Selection:
    small_file_mib: float = 128.0
    min_files: int = 5
    target_file_mib: float = 128.0

    @property
    def small_file_bytes(self) -> int:
        return int(self.small_file_mib * MiB)

    @property
    def target_file_bytes(self) -> int:
        return int(self.target_file_mib * MiB)


@dataclass(frozen=True)
class Prices:
    """AWS list prices and the assumptions of the query cost model (ADR-0026)."""

    athena_usd_per_tb: float = 5.0
    athena_min_mb_per_query: int = 10
    s3_get_usd_per_1000: float = 0.0004
    s3_put_usd_per_1000: float = 0.005
    gets_per_file: int = 2
    open_cost_mib: float = 4.0
    emr_vcpu_hour_usd: float = 0.052624
    emr_gb_hour_usd: float = 0.0057785
    vcpus: int = 4
    memory_gb: float = 16.0
    queries_per_day: float = 10.0


@dataclass(frozen=True)
class CompactionPolicy:
    selection: Selection = field(default_factory=Selection)
    prices: Prices = field(default_factory=Prices)


SECTIONS = {"selection": Selection, "cost": Prices}
# Everything else may be 0 (`open_cost_mib: 0` prices only what AWS bills); these divide.
DIVISORS = {"target_file_mib", "queries_per_day"}


def _section(path: Path, document: dict, name: str) -> Selection | Prices:
    model = SECTIONS[name]
    declared = document.get(name) or {}
    if not isinstance(declared, dict):
        raise ConfigError(path, name, "expected a mapping")
    types = {f.name: f.type for f in fields(model)}  # annotations, as strings
    for key, value in declared.items():
        where = f"{name}.{key}"
        if key not in types:
            raise ConfigError(path, where, "unknown key")
        # bool is an int in Python; `min_files: yes` is a mistake, not 1.
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(path, where, f"must be a number, got {value!r}")
        if value < 0 or (value == 0 and key in DIVISORS):
            least = "greater than 0" if key in DIVISORS else "0 or more"
            raise ConfigError(path, where, f"must be {least}, got {value!r}")
        if types[key] == "int" and not isinstance(value, int):
            raise ConfigError(path, where, f"must be a whole number, got {value!r}")
    return model(**declared)


def load_policy(path: Path | str = DEFAULT_COMPACTION_FILE) -> CompactionPolicy:
    """Parse and validate the compaction policy file."""
    path = Path(path)
    document = read_yaml_mapping(path)
    unknown = sorted(set(document) - set(SECTIONS))
    if unknown:
        raise ConfigError(path, unknown[0], f"unknown section; expected {', '.join(SECTIONS)}")
    return CompactionPolicy(_section(path, document, "selection"), _section(path, document, "cost"))
