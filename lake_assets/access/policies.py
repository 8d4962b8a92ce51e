"""The access policy files, config/access/*.yaml: subject profiles, policies, exceptions and the
declared safe transformations, validated at load time (an error names the file, key and reason).

A file holds any of four sections:

    profiles:                      # name -> the subject's attributes
      fraud_analyst: {team: fraud, role: analyst, clearance: 3}
    policies:
      - id: amounts-banded-outside-fraud
        effect: allow              # allow (with a column treatment, clear by default) | deny
        resource: {semantic_type: amount, dataset: [card_transactions]}
        subject: {team: {not: fraud}, role: analyst}
        when: {time_of_day: {from: "07:00", to: "20:00"}, environment: [prod, dev]}
        treatment: generalise(band:1000)
        row_filter: "merchant_country = {subject.region}"   # a subject attribute, as a literal
    exceptions:                    # the only thing that lifts a deny or a mask, in its scope
      - id: ex-2026-114
        lifts: [amounts-banded-outside-fraud]
        scope: {subject: {profile: marketing_lead}, resource: {dataset: card_transactions}}
        treatment: clear
        justification: reconciling the Q4 campaign's spend
        ticket: SEC-114
        approver: ciso
        expires: 2026-12-31        # through that day (UTC); a datetime is exact
    safe_transformations:          # lineage: an origin computed this way does not pass its
      hmac: keyed HMAC with a key the lake manages               # restriction on;
      aggregate>=5: count, sum or avg over >= 5 individuals      # covers any k >= 5

A row filter is a Trino predicate; `{subject.x}` puts the subject's attribute x in it as a SQL
literal (a subject without it gets no rows). Row filters belong to allows of whole datasets; those
of every applying allow are ANDed, and an exception lifting an allow's mask keeps its filter.

An attribute test is a value (equal, or for a list attribute such as tags: contains it), a list
(any of), or a mapping `{not: value-or-list}`, `{min: n}`, `{max: n}`. Subject tests read the
subject's attributes (`profile` is the subject's name); resource tests read the column's
`sensitivity`, `semantic_type` and `column_tags` (a policy testing one of them, or `column`,
applies to the columns it matches; any other policy to the whole dataset), the dataset's `zone`,
`tags`, `owner` and any other attribute (`dataset` and `column` are the names); `when.context`
tests read the context's attributes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal

import sqlglot
from pydantic import Field, field_validator, model_validator
from pydantic.dataclasses import dataclass as declared

from lake_assets.access.model import TREATMENT_ORDER, Treatment
from lake_assets.config import NO_UNKNOWN_KEYS, keyed

Scalar = str | int | float | bool
Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")]
NonEmpty = Annotated[str, Field(min_length=1)]
# lake_assets/access/safe.py's names: "hmac", "aggregate>=k".
SafeName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]*(>=[1-9]\d*)?$")]
# Resource attributes a column has and a dataset has not: a policy testing one of them is about
# columns and applies only to those it matches; any other policy applies to the whole dataset.
COLUMN_KEYS = frozenset({"column", "sensitivity", "semantic_type", "column_tags"})

# Details a masking view can implement, per treatment kind (lake_assets/access/views.py).
_DETAILS = {
    "partial": re.compile(r"(first|last)[1-9]\d?"),
    "generalise": re.compile(r"day|month|quarter|year|band:[1-9]\d*"),
    "token": re.compile(r"hmac-sha256"),
}
_DEFAULT_DETAIL = {"token": "hmac-sha256"}


@declared(frozen=True, config=NO_UNKNOWN_KEYS)
class Comparison:
    """`{not: ...}`, `{min: n}`, `{max: n}`: the value must not be one of, at least, at most."""

    not_: Scalar | list[Scalar] | None = Field(default=None, alias="not")
    min: int | float | None = None
    max: int | float | None = None

    @model_validator(mode="after")
    def _one_test(self) -> Comparison:
        if sum(v is not None for v in (self.not_, self.min, self.max)) != 1:
            raise ValueError("a comparison names exactly one of not, min, max")
        return self


AttributeTests = dict[NonEmpty, Comparison | list[Scalar] | Scalar]


@dataclass(frozen=True)
class Test:
    """One attribute test of a policy, compiled: `side` is subject, resource or context."""

    side: str
    attribute: str
    op: Literal["in", "not_in", "min", "max"]
    values: tuple[Any, ...]
    value_set: frozenset = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "value_set", frozenset(self.values))

    def holds(self, actual: Any) -> bool:
        """Whether the test holds for the attribute's value; raises on values it cannot
        compare (the engine treats that as unknown, fail closed)."""
        if self.op == "min":
            return actual >= self.values[0]
        if self.op == "max":
            return actual <= self.values[0]
        if isinstance(actual, list | tuple | set | frozenset):  # e.g. tags: any of them
            found = not self.value_set.isdisjoint(actual)
        else:
            found = actual in self.value_set
        return found if self.op == "in" else not found

    def words(self) -> str:
        target = f"{self.side}.{self.attribute}"
        shown = self.values[0] if len(self.values) == 1 else list(self.values)
        return {
            "in": f"{target} is {shown!r}" if len(self.values) == 1 else f"{target} in {shown!r}",
            "not_in": f"{target} is not {shown!r}",
            "min": f"{target} >= {shown!r}",
            "max": f"{target} <= {shown!r}",
        }[self.op]


def compile_tests(side: str, tests: dict[str, Any]) -> tuple[Test, ...]:
    """The tests of a section, sorted by attribute so their order never depends on the file."""
    compiled = []
    for attribute, expected in sorted(tests.items()):
        if isinstance(expected, Comparison):
            if expected.not_ is not None:
                values = expected.not_ if isinstance(expected.not_, list) else [expected.not_]
                compiled.append(Test(side, attribute, "not_in", tuple(values)))
            else:
                op = "min" if expected.min is not None else "max"
                compiled.append(Test(side, attribute, op, (getattr(expected, op),)))
        else:
            values = expected if isinstance(expected, list) else [expected]
            compiled.append(Test(side, attribute, "in", tuple(values)))
    return tuple(compiled)


# `{subject.region}` in a row filter: the subject's attribute as a SQL literal.
PLACEHOLDER = re.compile(r"\{subject\.([A-Za-z_][A-Za-z0-9_]*)\}")


def render_row_filter(template: str, attributes: Mapping[str, Any]) -> tuple[str, tuple[str, ...]]:
    """The row filter for a subject, and the placeholders it lacks (or cannot put in SQL, e.g. a
    list): with any lacking, the filter is FALSE (no rows: fail closed)."""
    lacking = []

    def literal(found: re.Match) -> str:
        value = attributes.get(found.group(1))
        if isinstance(value, bool):
            return "TRUE" if value else "FALSE"
        if isinstance(value, int | float):
            return repr(value)
        if isinstance(value, str):
            return "'" + value.replace("'", "''") + "'"
        lacking.append(found.group(1))
        return "NULL"

    rendered = PLACEHOLDER.sub(literal, template)
    return ("FALSE" if lacking else rendered), tuple(lacking)


def parse_treatment(text: str) -> Treatment:
    """`clear`, `null`, `deny`, `token`, `partial(last4)`, `generalise(month)`,
    `generalise(band:1000)`: a Treatment, or ValueError saying what is wrong."""
    found = re.fullmatch(r"([a-z]+)(?:\(([^()]+)\))?", text.strip())
    if not found or found.group(1) not in TREATMENT_ORDER:
        raise ValueError(f"must be one of {', '.join(TREATMENT_ORDER)}, got {text!r}")
    kind, detail = found.group(1), found.group(2) or _DEFAULT_DETAIL.get(found.group(1))
    pattern = _DETAILS.get(kind)
    if pattern is None and detail is not None:
        raise ValueError(f"{kind} takes no detail, got {text!r}")
    if pattern is not None and (detail is None or not pattern.fullmatch(detail)):
        raise ValueError(f"{kind} needs a detail matching {pattern.pattern}, got {text!r}")
    return Treatment(kind, detail)


def _valid_treatment(text: str | None) -> str | None:
    if text is not None:
        parse_treatment(text)
    return text


@declared(frozen=True, config=NO_UNKNOWN_KEYS)
class TimeOfDay:
    """From `from` (inclusive) to `to` (exclusive), UTC; from > to spans midnight."""

    to: time
    from_: time = Field(alias="from")  # after `to`: a dataclass field with a Field() follows

    @field_validator("to", "from_", mode="before")
    @classmethod
    def _quoted(cls, value: object) -> object:
        # YAML reads an unquoted 18:00 as the number 1080 (base 60), which would be 00:18.
        if not isinstance(value, str | time):
            raise ValueError(f'must be a quoted time such as "18:00", got {value!r}')
        return value

    @field_validator("to", "from_")
    @classmethod
    def _utc(cls, value: time) -> time:
        # The window is compared with the UTC clock; "09:00+08:00" would fail every decision.
        if value.tzinfo is not None:
            utc = datetime.combine(date.min, value.replace(tzinfo=None)) - value.utcoffset()
            raise ValueError(f'is in UTC: write "{utc:%H:%M}", not {value.isoformat("minutes")}')
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> TimeOfDay:
        if self.from_ == self.to:
            raise keyed("to", "must differ from `from` (the window would be empty)")
        return self


@declared(frozen=True, config=NO_UNKNOWN_KEYS)
class DateWindow:
    """From `from` through `to`, both inclusive; either may be left open."""

    from_: date | None = Field(default=None, alias="from")
    to: date | None = None


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@declared(frozen=True, config=NO_UNKNOWN_KEYS)
class When:
    """Conditions on the context of the question."""

    time_of_day: TimeOfDay | None = None
    dates: DateWindow | None = None
    weekdays: list[Weekday] | None = None
    environment: list[NonEmpty] | None = None
    context: AttributeTests = Field(default_factory=dict)


@declared(frozen=True, config=NO_UNKNOWN_KEYS)
class Policy:
    id: Name
    effect: Literal["allow", "deny"]
    description: str = ""
    resource: AttributeTests = Field(default_factory=dict)
    subject: AttributeTests = Field(default_factory=dict)
    when: When = Field(default_factory=When)
    treatment: str | None = None
    row_filter: NonEmpty | None = None

    @field_validator("treatment")
    @classmethod
    def _treatment(cls, text: str | None) -> str | None:
        return _valid_treatment(text)

    @field_validator("row_filter")
    @classmethod
    def _trino_predicate(cls, predicate: str | None) -> str | None:
        if predicate is not None:
            try:
                sqlglot.parse_one(PLACEHOLDER.sub("'x'", predicate), read="trino")
            except sqlglot.errors.ParseError as error:
                raise ValueError(f"not a Trino predicate: {error}") from None
        return predicate

    @model_validator(mode="after")
    def _deny_has_no_mask(self) -> Policy:
        if self.effect == "deny" and (self.treatment or self.row_filter):
            key = "treatment" if self.treatment else "row_filter"
            raise keyed(key, "a deny removes the column; only an allow has a treatment")
        return self

    @model_validator(mode="after")
    def _row_filter_on_datasets(self) -> Policy:
        # A view has one WHERE for all its columns: a filter on some columns has no place.
        if self.row_filter and (tested := sorted(COLUMN_KEYS & set(self.resource))):
            raise keyed(
                "row_filter",
                f"filters a dataset's rows, but this policy is about columns (it tests "
                f"{', '.join(tested)}): put the filter on an allow of the whole dataset",
            )
        return self


@declared(frozen=True, config=NO_UNKNOWN_KEYS)
class Scope:
    """Whom and what an exception covers: both must be named, an exception is never global."""

    subject: Annotated[AttributeTests, Field(min_length=1)]
    resource: AttributeTests

    @field_validator("resource")
    @classmethod
    def _names_datasets(cls, resource: dict) -> dict:
        if "dataset" not in resource:
            raise ValueError("an exception's scope names its datasets (resource.dataset)")
        return resource


@declared(frozen=True, config=NO_UNKNOWN_KEYS)
class PolicyException:
    """A deliberate, approved, expiring lift of named deny or mask policies within a scope."""

    id: Name
    lifts: Annotated[list[Name], Field(min_length=1)]
    scope: Scope
    justification: NonEmpty
    ticket: NonEmpty
    approver: NonEmpty
    expires: datetime | date
    treatment: str = "clear"
    when: When = Field(default_factory=When)

    @field_validator("treatment")
    @classmethod
    def _treatment(cls, text: str) -> str:
        return _valid_treatment(text)

    @property
    def expires_at(self) -> datetime:
        """The first instant the exception no longer applies (a date: the day after, UTC)."""
        if isinstance(self.expires, datetime):
            moment = self.expires
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        return datetime.combine(self.expires + timedelta(days=1), time(), tzinfo=UTC)


@declared(frozen=True, config=NO_UNKNOWN_KEYS)
class AccessFile:
    """One file of config/access/."""

    profiles: dict[Name, dict[NonEmpty, Any]] = Field(default_factory=dict)
    policies: list[Policy] = Field(default_factory=list)
    exceptions: list[PolicyException] = Field(default_factory=list)
    safe_transformations: dict[SafeName, NonEmpty] = Field(default_factory=dict)
