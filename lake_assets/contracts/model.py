"""Data contracts: one YAML file per dataset, validated into typed models. A generated pipeline's
contract is `lake_pipelines/<p>/contract.yaml` (rendered from pipelines/<p>.yaml); the derived
tables' are in config/contracts/.

A contract states what a curated partition must satisfy before it is published: the schema,
row rules (checked per row, in the promotion pass), partition rules (unique keys, volume,
quality score, referential integrity) and freshness. Everything wrong with a file is found when
it is loaded, and the error names the file, the key path (`rules[2].range.max`) and the reason.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lake_assets.config import NO_UNKNOWN_KEYS, ConfigError, keyed, load_config
from lake_assets.contracts.dialects import java_regex_problem, python_spelling, sql_columns
from lake_assets.ingestion.curated_columns import LINEAGE_COLUMNS
from lake_assets.settings import DEFAULT_PIPELINES_DIR, REPO_ROOT, Settings
from lake_assets.tables.locations import PARTITION
from lake_assets.tables.types import FieldType

CONTRACTS_DIR = REPO_ROOT / "config" / "contracts"
GENERATED_CONTRACT = "contract.yaml"

Severity = Literal["error", "warn"]
Action = Literal["fail", "drop", "warn"]
ROW_KINDS = ("not_null", "range", "regex", "allowed_values", "sql")
KINDS = (*ROW_KINDS, "unique", "volume", "quality_score", "referential_integrity")
# Rules that judge a whole partition by its counts: no row violates them, so none can drop rows.
COUNT_KINDS = ("volume", "quality_score")
# The newest published partitions a contract trial reads (trial.py): a month of days.
TRIED_DAYS = 30
# Rows are compared with numbers; Spark would compare other types as strings, silently.
NUMERIC = ("integer", "double")
# What a YAML scalar in `allowed_values` must be for the column's type.
SCALAR_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "json": (str,),
    "integer": (int,),
    "double": (int, float),
    "boolean": (bool,),
}
SCHEMA_NOT_NULL = "schema.not_null."
# Columns a row rule sees besides the schema: lineage and the partition column.
PROMOTION_COLUMNS = (*LINEAGE_COLUMNS, PARTITION)


class _Strict(BaseModel):
    model_config = ConfigDict(**NO_UNKNOWN_KEYS, frozen=True)


class ColumnSpec(_Strict):
    name: str = Field(min_length=1)
    type: FieldType
    nullable: bool = True


class NotNull(_Strict):
    column: str


class Range(_Strict):
    """Inclusive bounds; at least one."""

    column: str
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _bounded(self) -> Range:
        if self.min is None and self.max is None:
            raise ValueError("needs min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is greater than max {self.max}")
        return self


class Regex(_Strict):
    """Spark RLIKE semantics: matches anywhere in the value unless anchored with ^...$."""

    column: str
    pattern: str = Field(min_length=1)


class AllowedValues(_Strict):
    column: str
    values: tuple[Any, ...] = Field(min_length=1)  # checked against the column type below


class Unique(_Strict):
    columns: tuple[str, ...] = Field(min_length=1)


class Sql(_Strict):
    """A Spark SQL boolean expression that must hold for every row."""

    expression: str = Field(min_length=1)


class Volume(_Strict):
    """A partition's row count against the trailing partitions: by % change or by z-score."""

    trailing_partitions: int = Field(default=7, ge=1)
    max_change_pct: float | None = Field(default=None, gt=0)
    max_zscore: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _one_threshold(self) -> Volume:
        if (self.max_change_pct is None) == (self.max_zscore is None):
            raise ValueError("needs exactly one of max_change_pct or max_zscore")
        return self


class QualityScore(_Strict):
    """The share of a partition's rows that promotion publishes, of all it read for that
    partition: the rest are quarantined (drop rules, values that do not fit their type,
    malformed records). Below `min_share`, a day that is mostly bad is held as a whole instead
    of publishing what is left of it."""

    min_share: float = Field(gt=0, le=1)


class Reference(_Strict):
    dataset: str
    column: str


class ReferentialIntegrity(_Strict):
    column: str
    references: Reference
    grace_hours: float = Field(default=0, ge=0)


RuleCheck = (
    NotNull
    | Range
    | Regex
    | AllowedValues
    | Unique
    | Sql
    | Volume
    | QualityScore
    | ReferentialIntegrity
)


class Rule(_Strict):
    """One named rule with exactly one kind key (`not_null:`, `range:`, ...)."""

    # Names become check and metadata keys downstream, so they stay identifiers.
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    severity: Severity
    action: Action
    not_null: NotNull | None = None
    range: Range | None = None
    regex: Regex | None = None
    allowed_values: AllowedValues | None = None
    unique: Unique | None = None
    sql: Sql | None = None
    volume: Volume | None = None
    quality_score: QualityScore | None = None
    referential_integrity: ReferentialIntegrity | None = None

    @model_validator(mode="before")
    @classmethod
    def _default_action(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("action") is None:
            return {**data, "action": "fail" if data.get("severity") == "error" else "warn"}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> Rule:
        kinds = [k for k in KINDS if getattr(self, k) is not None]
        if len(kinds) != 1:
            found = ", ".join(kinds) or "none"
            raise ValueError(
                f"rule {self.name!r} needs exactly one of {', '.join(KINDS)}; found {found}"
            )
        if self.action == "fail" and self.severity == "warn":
            raise ValueError(f"rule {self.name!r}: action fail needs severity error")
        if self.action == "drop" and kinds[0] in COUNT_KINDS:
            raise ValueError(f"rule {self.name!r}: a {kinds[0]} rule judges a partition, not rows")
        if self.action == "drop" and kinds[0] == "referential_integrity":
            # A reference snapshot that is merely late would quarantine every row.
            raise ValueError(
                f"rule {self.name!r}: referential_integrity cannot drop rows; use fail or warn"
            )
        return self

    @property
    def kind(self) -> str:
        return next(k for k in KINDS if getattr(self, k) is not None)

    @property
    def check(self) -> RuleCheck:
        return getattr(self, self.kind)

    @property
    def columns(self) -> tuple[str, ...]:
        """The columns the rule reads (an sql expression's are known only to Spark)."""
        check = self.check
        if isinstance(check, Unique):
            return check.columns
        column = getattr(check, "column", None)
        return (column,) if column else ()


class Freshness(_Strict):
    """deadline_hours: partition D is due by the end of day D (UTC) plus this many hours.
    max_staleness_hours: the newest publish may be at most this old."""

    deadline_hours: float | None = Field(default=None, ge=0)
    max_staleness_hours: float | None = Field(default=None, gt=0)


# How much a dataset matters to its consumers, most first: what its SLOs may promise
# (config/slo/tiers.yaml gives each tier its floor and ceiling).
TIERS = ("regulatory", "critical", "standard", "best_effort")


class Contract(_Strict):
    dataset: str = Field(min_length=1)
    owner: str = Field(min_length=1)
    version: int = Field(ge=1)
    tier: Literal[TIERS] | None = None  # type: ignore[valid-type]
    # `schema` would shadow a BaseModel attribute, so the YAML key is an alias.
    columns: tuple[ColumnSpec, ...] = Field(alias="schema", min_length=1)
    rules: tuple[Rule, ...] = ()
    freshness: Freshness = Freshness()
    # Volume rules observe this many partitions before they enforce anything.
    bootstrap_partitions: int = Field(default=7, ge=1)

    @model_validator(mode="after")
    def _references(self) -> Contract:
        types: dict[str, str] = {}
        for i, column in enumerate(self.columns):
            if column.name in types:
                raise keyed(f"schema[{i}].name", f"column {column.name!r} is declared twice")
            types[column.name] = column.type
        seen: set[str] = set()
        for i, rule in enumerate(self.rules):
            if rule.name in seen:
                raise keyed(f"rules[{i}].name", f"rule name {rule.name!r} is used twice")
            seen.add(rule.name)
            _check_rule(rule, f"rules[{i}].{rule.kind}", types)
        return self

    @cached_property
    def column_types(self) -> dict[str, str]:
        return {c.name: c.type for c in self.columns}

    @cached_property
    def implicit_rules(self) -> tuple[Rule, ...]:
        """A non-nullable schema column is a not_null rule; a null there quarantines the row."""
        # Constructed unvalidated: the dotted name is deliberately outside the pattern of
        # declared names, so the two can never collide.
        return tuple(
            Rule.model_construct(
                name=f"{SCHEMA_NOT_NULL}{c.name}",
                severity="error",
                action="drop",
                not_null=NotNull(column=c.name),
            )
            for c in self.columns
            if not c.nullable
        )

    @cached_property
    def all_rules(self) -> tuple[Rule, ...]:
        return (*self.implicit_rules, *self.rules)

    def rules_of(self, *kinds: str) -> tuple[Rule, ...]:
        return tuple(r for r in self.all_rules if r.kind in kinds)

    def rule(self, name: str) -> Rule:
        for rule in self.all_rules:
            if rule.name == name:
                return rule
        raise KeyError(f"contract {self.dataset!r} has no rule {name!r}")


def _check_rule(rule: Rule, key: str, types: dict[str, str]) -> None:
    """Every column a rule reads is in the schema, with a type the rule can compare."""
    check = rule.check
    for j, column in enumerate(rule.columns):
        if column not in types:
            where = f"{key}.columns[{j}]" if isinstance(check, Unique) else f"{key}.column"
            raise keyed(where, f"rule {rule.name!r} reads column {column!r}, not in schema")
    if isinstance(check, Range) and types[check.column] not in NUMERIC:
        raise keyed(
            f"{key}.column",
            f"rule {rule.name!r}: range needs an integer or double column, "
            f"{check.column!r} is {types[check.column]} (use an sql rule)",
        )
    if isinstance(check, Regex):
        problem = java_regex_problem(check.pattern)
        if problem:
            raise keyed(f"{key}.pattern", f"rule {rule.name!r}: {problem}")
        try:
            re.compile(python_spelling(check.pattern))
        except re.error as error:
            raise keyed(
                f"{key}.pattern", f"rule {rule.name!r}: invalid regex {check.pattern!r}: {error}"
            ) from None
    if isinstance(check, Sql):
        known = {c.lower() for c in (*types, *PROMOTION_COLUMNS)}
        unknown = [c for c in sql_columns(check.expression) if c.lower() not in known]
        if unknown:
            raise keyed(
                f"{key}.expression",
                f"rule {rule.name!r} reads column {unknown[0]!r}, not in schema",
            )
    if isinstance(check, AllowedValues):
        column_type = types[check.column]
        accepted = SCALAR_TYPES.get(column_type)
        if accepted is None:
            raise keyed(
                f"{key}.column",
                f"rule {rule.name!r}: allowed_values cannot compare {column_type} column "
                f"{check.column!r} (use an sql rule)",
            )
        for j, value in enumerate(check.values):
            # bool is an int in Python; only a boolean column takes true/false.
            if not isinstance(value, accepted) or (
                isinstance(value, bool) and bool not in accepted
            ):
                raise keyed(
                    f"{key}.values[{j}]",
                    f"rule {rule.name!r}: {value!r} is not a {column_type} value",
                )


def load_contract(path: Path | str) -> Contract:
    """Parse and validate one contract file; its `dataset:` must equal the file's stem, or for a
    generated pipeline's contract.yaml, the pipeline's name (its folder)."""
    path = Path(path)
    contract = load_config(path, Contract)
    generated = path.name == GENERATED_CONTRACT
    dataset = path.parent.name if generated else path.stem
    if contract.dataset != dataset:
        named_by = "its pipeline's folder" if generated else "the file name"
        raise ConfigError(path, "dataset", f"must match {named_by} ({dataset!r})")
    return contract


def contract_file(dataset: str) -> Path:
    """Where the repository keeps a dataset's contract: generated from its pipeline spec
    (lake_pipelines/<dataset>/contract.yaml), or written by hand in config/contracts/."""
    generated = DEFAULT_PIPELINES_DIR / dataset / GENERATED_CONTRACT
    return generated if generated.exists() else CONTRACTS_DIR / f"{dataset}.yaml"


def load_contracts(
    folder: Path | str = CONTRACTS_DIR,
    datasets: Collection[str] | None = None,
    pipelines_dir: Path | str | None = None,
) -> dict[str, Contract]:
    """Every `<dataset>.yaml` in `folder` and every generated `<pipelines_dir>/<dataset>/
    contract.yaml`, by dataset. A referential_integrity rule references a dataset of `datasets`
    (the declared sources) or one with a contract, and if it has a contract, a column of that
    contract's schema."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(folder, "-", "contracts folder not found")
    files = {p.stem: p for p in sorted(folder.glob("*.yaml"))}
    contracts = {dataset: load_contract(p) for dataset, p in files.items()}
    if pipelines_dir is not None:
        for path in sorted(Path(pipelines_dir).glob(f"*/{GENERATED_CONTRACT}")):
            dataset = path.parent.name
            if dataset in files:  # a contract left behind when its pipeline was generated
                raise ConfigError(
                    files[dataset], "dataset", f"{dataset!r} is also the contract of {path}"
                )
            files[dataset] = path
            contracts[dataset] = load_contract(path)
    for dataset, contract in contracts.items():
        for i, rule in enumerate(contract.rules):
            if not isinstance(rule.check, ReferentialIntegrity):
                continue
            target = rule.check.references
            if datasets is not None and target.dataset not in {*datasets, *contracts}:
                raise ConfigError(
                    files[dataset],
                    f"rules[{i}].referential_integrity.references.dataset",
                    f"rule {rule.name!r}: unknown dataset {target.dataset!r}; known: "
                    f"{', '.join(sorted({*datasets, *contracts}))}",
                )
            if target.dataset in contracts and target.column not in (
                contracts[target.dataset].column_types
            ):
                raise ConfigError(
                    files[dataset],
                    f"rules[{i}].referential_integrity.references.column",
                    f"rule {rule.name!r}: {target.column!r} is not in the schema of "
                    f"{target.dataset!r}",
                )
    return contracts


def lake_contracts(settings: Settings) -> dict[str, Contract]:
    """The lake's contracts as `settings` place them (its contracts folder and its generated
    pipelines'), every referential rule checked against its sources: what the code location,
    the SLOs and `lake contract try` read."""
    return load_contracts(
        settings.contracts_dir,
        datasets=settings.sources,
        pipelines_dir=settings.pipeline_contracts_dir,
    )
