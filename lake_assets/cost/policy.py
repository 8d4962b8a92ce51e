"""The allocation policy: which declared method takes each CUR line item, how its lines are
pooled, which driver measure weighs a pool, and where what no driver explains goes. Read from
config/cost/allocation.yaml (LAKE_COST_FILE) and validated at load; every error names the file,
the key and the reason. Pure: no Spark, no Dagster (the Spark job validates the plan's copy).

Precedence, the same in the file's header and in the ADR:
1. A line item is taken by the FIRST method, in file order, that selects it: its product code,
   line item type and usage type match, one of the method's `measures` patterns matches its
   usage type, and every pool key can be read from its resource id (a job-level EMR line names
   a job run; an application-level one does not). A line no method takes goes to step 3.
2. The method's pools (its lines summed by its pool keys) are split over the drivers of the
   pool by the measure its lines name, else by the method's fallback measure.
3. A pool no driver weighs (of a method with `by_tag`, the default): each of its lines goes to
   the team its `user_team` tag names, when that team is known (declared in `tag_attribution`,
   owning a source, or named by a driver): direct attribution, method `tag_attribution.id`.
4. Otherwise, and for the idle share of billed capacity, the method's `leftover` rule:
   `unallocated` with its reason, its own `shared` line, or shared over the teams in
   proportion to what the method's category allocated them this month (`share_by_usage`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, model_validator

from lake_assets.config import NO_UNKNOWN_KEYS, PositiveNumber, keyed, load_config
from lake_assets.contracts.dialects import java_regex_problem, python_spelling
from lake_assets.cost.model import MEASURES, SHARED, UNALLOCATED

# What a pool key reads from a line's resource id (and from a driver's `resource`): an EMR
# Serverless ARN's application or job run, an Athena workgroup ARN's name, or the id as it is
# (a bucket). `hour` is the line's usage hour; a pool without it spans the month.
RESOURCE_KEYS = ("application", "job_run", "workgroup", "resource")
POOL_KEYS = (*RESOURCE_KEYS, "hour")
DRIVER_KINDS = ("run", "storage", "query")
IDENTIFIER = r"^[a-z][a-z0-9_]*$"


def _spark_regex(pattern: str) -> str:
    problem = java_regex_problem(pattern)
    if problem:
        raise ValueError(problem)
    try:
        re.compile(python_spelling(pattern))
    except re.error as error:
        raise ValueError(f"not a valid regex: {error}") from None
    return pattern


Regex = Annotated[str, AfterValidator(_spark_regex)]
Measure = Literal[MEASURES]  # type: ignore[valid-type]
Identifier = Annotated[str, Field(pattern=IDENTIFIER)]


class Match(BaseModel):
    """Which line items a method may take (every given condition must hold)."""

    model_config = NO_UNKNOWN_KEYS

    product_codes: tuple[str, ...] = Field(default=(), description="empty: any product")
    line_item_types: tuple[str, ...] = ("Usage",)
    usage_types: Regex | None = None  # searched in line_item_usage_type (Java regex)


class Leftover(BaseModel):
    """What happens to the cost of a method no driver and no tag explains."""

    model_config = NO_UNKNOWN_KEYS

    rule: Literal["unallocated", "shared", "share_by_usage"] = "unallocated"
    reason: Identifier


class BilledCapacity(BaseModel):
    """The pool's billed usage (line_item_usage_amount) in the primary measure's units: what
    runs used is charged at the billed rate, the rest (idle capacity) goes to `leftover`."""

    model_config = NO_UNKNOWN_KEYS

    seconds_per_unit: PositiveNumber  # 3600: usage in vCPU-hours, drivers in vCPU-seconds
    # The measures whose lines bill capacity in those units (not, e.g., ephemeral storage).
    measures: tuple[Measure, ...] = ("vcpu_seconds", "memory_gb_seconds")


class Method(BaseModel):
    """One declared allocation method (see the module docstring for precedence)."""

    model_config = NO_UNKNOWN_KEYS

    id: Identifier
    category: Identifier
    description: str = ""
    match: Match = Field(default_factory=Match)
    # The driver rows that weigh its pools ("run", "storage", "query"); none: lines go by tag.
    drivers: Literal[DRIVER_KINDS] | None = None  # type: ignore[valid-type]
    pool_by: tuple[Literal[POOL_KEYS], ...] = ("resource",)  # type: ignore[valid-type]
    # usage-type pattern (Java regex, searched) -> the measure that weighs those lines, first
    # match wins; a line matching none is not taken by this method. A method without drivers
    # takes every usage type its `match` allows.
    measures: dict[Regex, Measure] = Field(default_factory=dict)
    fallback: Measure | None = None  # weighs a pool none of its measure's drivers weigh
    billed_capacity: BilledCapacity | None = None
    # Whether a pool no driver weighs goes by its lines' team tags (precedence step 3) before
    # `leftover`: not for an application's idle hours, whose tag names the platform that runs it.
    by_tag: bool = True
    leftover: Leftover

    @model_validator(mode="after")
    def _one_resource_key(self) -> Method:
        resources = [key for key in self.pool_by if key in RESOURCE_KEYS]
        if len(resources) != 1 or len(set(self.pool_by)) != len(self.pool_by):
            raise keyed("pool_by", f"name one of {', '.join(RESOURCE_KEYS)}, and hour if pooled")
        if self.drivers is None and (self.measures or self.fallback or self.billed_capacity):
            raise keyed(
                "drivers", "measures, fallback and billed capacity weigh drivers: name them"
            )
        if self.drivers is not None and not self.measures:
            raise keyed("measures", "name the measure that weighs each usage type")
        return self

    @property
    def resource_key(self) -> str:
        return next(key for key in self.pool_by if key in RESOURCE_KEYS)

    @property
    def hourly(self) -> bool:
        return "hour" in self.pool_by


class TagAttribution(BaseModel):
    """Direct attribution by a line's own tags (precedence step 3)."""

    model_config = NO_UNKNOWN_KEYS

    id: Identifier = "tag_attribution"
    # Known teams besides the owners of the lake's sources (the asset adds those).
    teams: tuple[str, ...] = ()
    # Lines no method takes: by tag, else unallocated with this reason.
    unmatched_reason: Identifier = "no_method"


class AllocationPolicy(BaseModel):
    """config/cost/allocation.yaml."""

    model_config = NO_UNKNOWN_KEYS

    tag_attribution: TagAttribution = Field(default_factory=TagAttribution)
    methods: tuple[Method, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _distinct(self) -> AllocationPolicy:
        seen = {self.tag_attribution.id}
        for index, method in enumerate(self.methods):
            if method.id in seen:
                raise keyed(f"methods[{index}].id", f"{method.id!r} is declared twice")
            seen.add(method.id)
        for index, team in enumerate(self.tag_attribution.teams):
            if team in (UNALLOCATED, SHARED):
                raise keyed(f"tag_attribution.teams[{index}]", f"{team!r} is not a team")
        return self


def load_policy(path: Path | str) -> AllocationPolicy:
    """Parse and validate the allocation policy file."""
    return load_config(path, AllocationPolicy)
