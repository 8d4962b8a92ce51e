"""Access control's plain data: who asks (Subject), about what (Resource), when and where
(Context), and the answer (Decision) with everything needed to explain, audit and replay it.

Every part of the capability speaks these shapes: the policy engine decides with them, the audit
trail stores a Decision's JSON, the masked views turn a Decision's column treatments into SQL,
and lineage fills a derived column's `origins` so that a restriction follows the data.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from datetime import datetime
from typing import Any, Literal

# What a subject gets of a column, least revealing last. Among the treatments of the policies
# that apply, the strictest wins (unless an exception lifts it), so this order is the security
# argument; ADR-0075 says why each step reveals less than the
# one before: a partial value shows part of the clear value; a generalised one (date to month,
# amount to band) keeps a coarse version of all of it; a keyed token hides the value but still
# links rows; null hides the value and the links; deny removes the column (and a query naming
# it fails).
TreatmentKind = Literal["clear", "partial", "generalise", "token", "null", "deny"]
TREATMENT_ORDER: tuple[TreatmentKind, ...] = (
    "clear",
    "partial",
    "generalise",
    "token",
    "null",
    "deny",
)

Outcome = Literal["allow", "deny"]
# How a derived column was computed from one of its input columns (the lineage store's words).
Transformation = Literal["IDENTITY", "TRANSFORMATION", "AGGREGATION"]


@dataclass(frozen=True)
class Treatment:
    """A column treatment: `kind`, and for some kinds what exactly, e.g. partial "last4",
    generalise "month" (dates) or "band:1000" (amounts), token "hmac-sha256"."""

    kind: TreatmentKind
    detail: str | None = None

    @property
    def strictness(self) -> int:
        return TREATMENT_ORDER.index(self.kind)

    def __str__(self) -> str:
        return self.kind if self.detail is None else f"{self.kind}({self.detail})"


CLEAR = Treatment("clear")
DENY = Treatment("deny")


@dataclass(frozen=True)
class Subject:
    """Who asks: a named profile (e.g. "fraud_analyst") and its attributes (team, role,
    clearance, purpose, region, ...). A policy naming an attribute the subject lacks does not
    match an allow and, for a deny, counts as met (fail closed)."""

    name: str
    attributes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Origin:
    """One column a derived column is computed from: the source column (with its own
    attributes and origins, so a two-hop derivation is a chain), how it was transformed, and
    the declared safe transformation that relaxes the source's restriction (a keyed HMAC with a
    managed key, an aggregate over at least k individuals), or None: an unkeyed hash, a copy or
    any other expression inherits the source's restriction. `dataset_attributes` are the source
    dataset's (zone, owner), as its Resource has them, so the origin is decided as it would be
    asked about itself."""

    dataset: str
    column: Column
    transformation: Transformation = "IDENTITY"
    safe: str | None = None
    dataset_attributes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Column:
    """A column and its attributes: `sensitivity` and `semantic_type` from the catalog's
    classification (absent while the column is not yet classified: that denies), `tags`."""

    name: str
    attributes: Mapping[str, Any] = field(default_factory=dict)
    origins: tuple[Origin, ...] = ()


@dataclass(frozen=True)
class Resource:
    """A dataset and the columns asked about, with the dataset's attributes (zone, owner,
    tags, tier)."""

    dataset: str
    attributes: Mapping[str, Any] = field(default_factory=dict)
    columns: tuple[Column, ...] = ()


@dataclass(frozen=True)
class Context:
    """When and where the question is asked: conditions on time of day, date windows and
    environment (prod, dev) read it. `now` is passed in, never read from the clock, so a replay
    of the audit trail decides as the original did."""

    now: datetime
    environment: str = "dev"
    attributes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ColumnDecision:
    """What the subject gets of one column and why: the policy that decided it, and for a
    restriction inherited through lineage the path from this column to the restricted source
    (e.g. ("gold_x.hashed_national_id", "silver_customer.national_id"))."""

    column: str
    treatment: Treatment
    decided_by: str | None
    reason: str
    path: tuple[str, ...] = ()


@dataclass(frozen=True)
class Decision:
    """The answer to one question, complete enough to explain, audit and replay it."""

    decision_id: str
    subject: str
    dataset: str
    outcome: Outcome
    columns: Mapping[str, ColumnDecision]
    decided_by: str | None  # the policy (or exception) that decided the outcome
    reason: str
    matched: tuple[str, ...] = ()  # every policy that applied, by id
    unmet: tuple[str, ...] = ()  # for a deny: the conditions that were not met, in words
    row_filter: str | None = None  # a SQL predicate (Trino dialect) rows must satisfy
    policy_versions: Mapping[str, str] = field(default_factory=dict)  # policy id -> version
    input_hash: str = ""

    def to_json(self) -> dict:
        body = asdict(self)
        body["columns"] = {
            name: {**asdict(c), "treatment": asdict(c.treatment)}
            for name, c in self.columns.items()
        }
        return body


def input_hash(subject: Subject, resource: Resource, context: Context) -> str:
    """A fingerprint of the question, so a replay can prove it asked the same one."""
    body = json.dumps(
        [_plain(subject), _plain(resource), _plain(context)], sort_keys=True, default=str
    )
    return hashlib.sha256(body.encode()).hexdigest()


def _plain(value: Any) -> Any:
    """`asdict` without its deep copies (the engine hashes every question; the JSON is the
    same): dataclasses and mappings to dicts, tuples to lists."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind in _SHAPES:
        return {name: _plain(getattr(value, name)) for name in _SHAPES[kind]}
    if kind is dict or isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    return value


_SCALARS = frozenset({str, int, float, bool, type(None)})
# Field names of the question's shapes, looked up once rather than per value.
_SHAPES = {
    shape: tuple(f.name for f in fields(shape))
    for shape in (Subject, Resource, Column, Origin, Context)
}
