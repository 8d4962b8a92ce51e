"""Tagging compliance of a month's bill, before attribution (the seed's cost black hole): every
CUR line item whose resource lacks a required tag, carries one misspelt, empty or with a value
the lake does not know, grouped by resource, with its cost and the share of the month's bill it
leaves unattributable. Pure: the lines, the policy and the lake's teams and pipelines in, a
`TaggingReport` out (tag_escalation.py decides what to notify; tagging_service.py reads and
notifies).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, Field, model_validator

from lake_assets.config import NO_UNKNOWN_KEYS, WholeNumber, keyed, load_config
from lake_assets.cost.model import REQUIRED_TAGS, TAG_PREFIX, cents, team_of_owner, to_nanos
from lake_assets.settings import REPO_ROOT, UNOWNED

DEFAULT_TAGGING_FILE = REPO_ROOT / "config" / "cost" / "tagging.yaml"

# Line items a tag can be on: usage of a resource. Tax, credits, refunds and fees carry no
# resource's tags, so flagging them would list what nobody can fix; allocation treats them.
USAGE_LINE_TYPES = frozenset({"Usage", "DiscountedUsage", "SavingsPlanCoveredUsage"})
# How much of a tag key may differ from the required one to count as misspelt rather than some
# other tag (`user_Team`, `user_teams` and `user_tema` are; `user_cost_center` is not).
MISSPELT_SIMILARITY = 0.8
TagName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
TagValue = Annotated[str, Field(min_length=1)]


class TaggingPolicy(BaseModel):
    """config/cost/tagging.yaml: the required tags, the values they may take, the escalation."""

    model_config = NO_UNKNOWN_KEYS

    required_tags: tuple[TagName, ...] = Field(default=REQUIRED_TAGS, min_length=1)
    shared_pipelines: tuple[TagValue, ...] = ("platform",)
    environments: tuple[TagValue, ...] = Field(default=("dev", "staging", "prod"), min_length=1)
    alert_after_days: Annotated[WholeNumber, Field(ge=1)] = 3
    incident_after_days: Annotated[WholeNumber, Field(ge=1)] = 7

    @model_validator(mode="after")
    def _incident_after_alert(self) -> TaggingPolicy:
        if self.incident_after_days <= self.alert_after_days:
            raise keyed(
                "incident_after_days",
                f"must be more than alert_after_days ({self.alert_after_days}), "
                f"got {self.incident_after_days}",
            )
        if len(set(self.required_tags)) != len(self.required_tags):
            raise keyed("required_tags", "lists a tag twice")
        return self


def load_tagging_policy(path: Path | str = DEFAULT_TAGGING_FILE) -> TaggingPolicy:
    """The policy in `path`; every error a ConfigError naming file, key and reason."""
    return load_config(path, TaggingPolicy, lines=True)


def vocabulary(
    policy: TaggingPolicy, owners: Iterable[str], pipelines: Iterable[str]
) -> dict[str, frozenset[str]]:
    """The values each tag with a known set may take: `team` the teams owning the lake's sources
    and the platform (`owners`, as declared: "team:payments-data"), `pipeline` the lake's
    pipelines and the shared ones, `environment` the declared environments. A required tag not
    named here only needs a value."""
    teams = {team_of_owner(owner) for owner in owners if owner != UNOWNED}
    return {
        "team": frozenset(teams),
        "pipeline": frozenset(pipelines) | frozenset(policy.shared_pipelines),
        "environment": frozenset(policy.environments),
    }


@dataclass(frozen=True, order=True)
class TagProblem:
    """What is wrong with one required tag of a line item."""

    tag: str
    kind: str  # "missing", "misspelt", "empty", "unknown value"
    key: str = ""  # the key found: the misspelt one, or the right one with a bad value
    value: str = ""

    def describe(self) -> str:
        if self.kind == "misspelt":
            return f"{self.tag} misspelt as {self.key}"
        if self.kind == "unknown value":
            return f"{self.tag} has unknown value {self.value!r}"
        return f"{self.tag} {self.kind}"


@dataclass(frozen=True)
class Untagged:
    """One resource (or, for line items without a resource id, one product and usage type)
    with line items that cannot be attributed by their tags this month."""

    resource: str  # the resource id, or "<product>/<usage type>"
    resource_id: str  # "" when the line items name no resource
    product: str
    usage_types: tuple[str, ...]
    problems: tuple[TagProblem, ...]  # every problem of any of its line items
    # The problems of its latest line item: none when it was tagged since (escalation resolves).
    current_problems: tuple[TagProblem, ...]
    cost_nanos: int  # of its line items with a problem
    line_items: int
    bill_nanos: int  # the month's bill, for the share

    @property
    def share(self) -> float:
        return self.cost_nanos / self.bill_nanos if self.bill_nanos > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "resource": self.resource,
            "resource_id": self.resource_id,
            "product": self.product,
            "usage_types": list(self.usage_types),
            "problems": [problem.describe() for problem in self.problems],
            "tagged_since": not self.current_problems,
            "cost_nanos": self.cost_nanos,
            "cost_usd": str(cents(self.cost_nanos)),
            "share": self.share,
            "line_items": self.line_items,
        }


@dataclass(frozen=True)
class TaggingReport:
    month: str
    bill_nanos: int  # every line item of the month, what the bill says
    line_items: int
    untagged: tuple[Untagged, ...]  # most costly first
    # Every resource key of the month's usage lines, tagged or not: evidence of a fix.
    seen: frozenset[str] = field(default_factory=frozenset)

    @property
    def untagged_nanos(self) -> int:
        return sum(u.cost_nanos for u in self.untagged)

    @property
    def share(self) -> float:
        return self.untagged_nanos / self.bill_nanos if self.bill_nanos > 0 else 0.0

    def summary(self) -> str:
        if not self.untagged:
            return f"{self.month}: every billed resource carries its required tags"
        return (
            f"{self.month}: {len(self.untagged)} resources untagged, "
            f"${cents(self.untagged_nanos)} of ${cents(self.bill_nanos)} "
            f"({self.share:.2%}) unattributable"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "month": self.month,
            "bill_nanos": self.bill_nanos,
            "bill_usd": str(cents(self.bill_nanos)),
            "untagged_nanos": self.untagged_nanos,
            "untagged_usd": str(cents(self.untagged_nanos)),
            "share": self.share,
            "line_items": self.line_items,
            "untagged": [u.to_dict() for u in self.untagged],
        }


def tag_problems(
    tags: Mapping[str, str | None],
    required: Iterable[str],
    known: Mapping[str, frozenset[str]],
) -> tuple[TagProblem, ...]:
    """The problems of one line item's `resource_tags` (CUR keys, `user_team`)."""
    problems = []
    for tag in required:
        key = TAG_PREFIX + tag
        if key not in tags:
            near = _misspelt_key(key, tags)
            problems.append(
                TagProblem(tag, "misspelt", near) if near else TagProblem(tag, "missing")
            )
            continue
        # Exact, as allocation reads it: "payments-data " names no team there, so it is an
        # unknown value here, not a compliant tag whose cost the ledger leaves unallocated.
        value = tags[key] or ""
        if not value.strip():
            problems.append(TagProblem(tag, "empty", key))
        elif tag in known and value not in known[tag]:
            problems.append(TagProblem(tag, "unknown value", key, value))
    return tuple(problems)


def _misspelt_key(key: str, tags: Mapping[str, Any]) -> str:
    """The key of `tags` that is `key` misspelt (case, separators, a letter or two), or ""."""
    wanted = _folded(key)
    for candidate in sorted(tags):
        folded = _folded(candidate)
        if folded == wanted or difflib.SequenceMatcher(None, folded, wanted).ratio() >= (
            MISSPELT_SIMILARITY
        ):
            return candidate
    return ""


def _folded(key: str) -> str:
    return re.sub(r"[^a-z0-9]", "", key.lower())


LINE_COLUMNS = (
    "line_item_line_item_type",
    "line_item_product_code",
    "line_item_resource_id",
    "line_item_usage_type",
    "line_item_usage_start_date",
    "line_item_unblended_cost",
    "resource_tags",
)
# What joins a tag set into one string per line item, so Arrow can group lines by it: control
# characters no tag key or value uses.
_PAIR, _ENTRY = "\x1e", "\x1f"
TAGS_TYPE = pa.map_(pa.string(), pa.string())  # resource_tags (model.CUR_COLUMNS)


def check_tags(
    month: str,
    lines: pa.Table | Iterable[Mapping[str, Any]],
    policy: TaggingPolicy,
    known: Mapping[str, frozenset[str]],
) -> TaggingReport:
    """The month's untagged resources: `lines` are CUR line items (`model.CUR_COLUMNS`, with
    `cost_nanos` when curated), `known` the values of tags with a known set (`vocabulary`).

    Arrow groups the lines by resource, usage type and tag set first (a month of a million lines
    is a few thousand groups); each distinct tag set is then judged once."""
    table = lines if isinstance(lines, pa.Table) else _table_of(list(lines))
    cost = _cost_nanos(table)
    bill = pc.sum(cost).as_py() or 0
    lines_of = pa.table(
        {
            "kind": _text(table, "line_item_line_item_type", "Usage"),
            "resource_id": _text(table, "line_item_resource_id"),
            "product": _text(table, "line_item_product_code"),
            "usage_type": _text(table, "line_item_usage_type"),
            "tags": _tags_text(table),
            "start": _started(table),
            "cost": cost,
        }
    )
    usage = lines_of.filter(pc.is_in(lines_of["kind"], pa.array(sorted(USAGE_LINE_TYPES))))
    grouped = usage.group_by(["resource_id", "product", "usage_type", "tags"]).aggregate(
        [("cost", "sum"), ("cost", "count"), ("start", "max")]
    )
    judged: dict[str, tuple[TagProblem, ...]] = {}
    groups: dict[str, _Group] = {}
    for row in grouped.to_pylist():
        if row["tags"] not in judged:
            judged[row["tags"]] = tag_problems(_tags_of(row["tags"]), policy.required_tags, known)
        resource_id, product = row["resource_id"], row["product"]
        key = resource_id or f"{product}/{row['usage_type']}"
        group = groups.setdefault(key, _Group(resource_id, product))
        group.add(row, judged[row["tags"]])
    untagged = [group.untagged(key, bill) for key, group in groups.items() if group.problems]
    untagged.sort(key=lambda u: (-u.cost_nanos, u.resource))
    return TaggingReport(month, bill, table.num_rows, tuple(untagged), frozenset(groups))


def _table_of(lines: list[Mapping[str, Any]]) -> pa.Table:
    """Line items given as mappings (tests, the generator) as the curated table would hold them:
    resource_tags a map, costs in nanos."""
    tags = [line.get("resource_tags") for line in lines]  # a mapping or (key, value) pairs
    columns = {
        name: [line.get(name) for line in lines] for name in LINE_COLUMNS if name != "resource_tags"
    }
    columns["cost_nanos"] = pa.array(
        [
            line["cost_nanos"]
            if line.get("cost_nanos") is not None
            else to_nanos(line.get("line_item_unblended_cost"))
            for line in lines
        ],
        pa.int64(),
    )
    columns["resource_tags"] = pa.array(tags, type=TAGS_TYPE)
    return pa.table(columns)


def _cost_nanos(table: pa.Table) -> pa.Array:
    if "cost_nanos" in table.column_names:
        return pc.fill_null(table["cost_nanos"].cast(pa.int64()), 0)
    # A raw CUR: the double converted as model.to_nanos does (once, exactly, half-even).
    costs = table["line_item_unblended_cost"].to_pylist()
    return pa.array([to_nanos(cost) for cost in costs], pa.int64())


def _text(table: pa.Table, column: str, default: str = "") -> pa.Array:
    if column not in table.column_names:
        return pa.array([default] * table.num_rows, pa.string())
    return pc.fill_null(table[column].cast(pa.string()), default)


def _started(table: pa.Table) -> pa.ChunkedArray | pa.Array:
    """When each line's usage started, as delivered (a timestamp, or text in ISO form)."""
    column = "line_item_usage_start_date"
    if column in table.column_names and not pa.types.is_null(table[column].type):
        return table[column]
    return _text(table, column)


def _tags_text(table: pa.Table) -> pa.Array:
    """Each line's resource_tags as one string ("k<pair>v<entry>k<pair>v"), "" for none."""
    if "resource_tags" not in table.column_names or table.num_rows == 0:
        return pa.array([""] * table.num_rows, pa.string())
    tags = table["resource_tags"].combine_chunks()
    if not pa.types.is_map(tags.type):
        # Read as no tags, every line would be listed as untagged: refuse instead.
        raise TypeError(f"resource_tags must be a {TAGS_TYPE}, got {tags.type}")
    pairs = pc.binary_join_element_wise(
        tags.keys, tags.items, _PAIR, null_handling="replace", null_replacement=""
    )
    entries = pa.ListArray.from_arrays(tags.offsets, pairs, mask=tags.is_null())
    return pc.fill_null(pc.binary_join(entries, _ENTRY), "")


def _tags_of(text: str) -> dict[str, str]:
    if not text:
        return {}
    return dict(entry.split(_PAIR, 1) for entry in text.split(_ENTRY))


class _Group:
    """The line-item groups of one resource key, as they are added."""

    def __init__(self, resource_id: str, product: str):
        self.resource_id, self.product = resource_id, product
        self.usage_types: set[str] = set()
        self.problems: set[TagProblem] = set()
        self.cost = self.lines = 0
        self.latest: tuple[Any, set[TagProblem]] | None = None

    def add(self, row: Mapping[str, Any], problems: tuple[TagProblem, ...]) -> None:
        started = row["start_max"]
        latest = self.latest[0] if self.latest else None
        if self.latest is None or (started is not None and (latest is None or started > latest)):
            self.latest = (started, set(problems))
        elif started == self.latest[0]:
            self.latest[1].update(problems)
        if problems:
            self.problems.update(problems)
            self.usage_types.add(row["usage_type"])
            self.cost += row["cost_sum"]
            self.lines += row["cost_count"]

    def untagged(self, key: str, bill: int) -> Untagged:
        return Untagged(
            resource=key,
            resource_id=self.resource_id,
            product=self.product,
            usage_types=tuple(sorted(self.usage_types)),
            problems=tuple(sorted(self.problems)),
            current_problems=tuple(sorted(self.latest[1])) if self.latest else (),
            cost_nanos=self.cost,
            line_items=self.lines,
            bill_nanos=bill,
        )
