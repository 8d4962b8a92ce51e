"""Policies and exceptions compiled for evaluation (Rule), how one is evaluated against a
question (fail closed: an attribute that is missing or cannot be compared is unknown, which
keeps an allow from matching and lets a deny apply), and the index that finds the rules that can
match a question without looking at the others."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any, Literal

from pydantic import TypeAdapter

from lake_assets.access.model import CLEAR, Column, Context, Resource, Subject, Treatment
from lake_assets.access.policies import (
    COLUMN_KEYS,
    WEEKDAYS,
    Policy,
    PolicyException,
    Test,
    When,
    compile_tests,
    parse_treatment,
)

# The keys the index files rules under, most selective first: a rule is filed under the first
# of them it tests with a plain value or list of values; the rest stay in the unkeyed bucket.
INDEX_KEYS = ("dataset", "column", "semantic_type", "sensitivity", "zone")

RuleKind = Literal["allow", "deny", "exception"]
_MISSING = object()


@dataclass(frozen=True)
class Rule:
    """A policy or an exception, ready to evaluate."""

    id: str
    kind: RuleKind
    file: str
    version: str
    resource: tuple[Test, ...]
    subject: tuple[Test, ...]
    context: tuple[Test, ...]
    when: When
    treatment: Treatment | None = None  # allow: its mask (clear by default); deny: None
    row_filter: str | None = None
    lifts: frozenset[str] = frozenset()
    expires_at: datetime | None = None
    description: str = ""
    column_level: bool = field(init=False)
    conditional: bool = field(init=False)  # reads the context: when, context tests, expiry

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "column_level", any(t.attribute in COLUMN_KEYS for t in self.resource)
        )
        unconditional = When() == self.when and not self.context and self.expires_at is None
        object.__setattr__(self, "conditional", not unconditional)

    @property
    def grants(self) -> Treatment:
        """What the rule gives a column it applies to."""
        if self.kind == "deny":
            return Treatment("deny")
        return self.treatment or CLEAR


def policy_rule(policy: Policy, file: str) -> Rule:
    return Rule(
        id=policy.id,
        kind=policy.effect,
        file=file,
        version=_version(Policy, policy),
        resource=compile_tests("resource", policy.resource),
        subject=compile_tests("subject", policy.subject),
        context=compile_tests("context", policy.when.context),
        when=policy.when,
        treatment=parse_treatment(policy.treatment) if policy.treatment else None,
        row_filter=policy.row_filter,
        description=policy.description,
    )


def exception_rule(exception: PolicyException, file: str) -> Rule:
    return Rule(
        id=exception.id,
        kind="exception",
        file=file,
        version=_version(PolicyException, exception),
        resource=compile_tests("resource", exception.scope.resource),
        subject=compile_tests("subject", exception.scope.subject),
        context=compile_tests("context", exception.when.context),
        when=exception.when,
        treatment=parse_treatment(exception.treatment),
        lifts=frozenset(exception.lifts),
        expires_at=exception.expires_at,
        description=f"{exception.justification} ({exception.ticket}, approved by "
        f"{exception.approver})",
    )


def _version(model: type, value: object) -> str:
    """The policy's content hash: any change to it is a new version, whatever file holds it."""
    body = json.dumps(_adapter(model).dump_python(value, mode="json"), sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()[:16]


@cache
def _adapter(model: type) -> TypeAdapter:
    return TypeAdapter(model)


@dataclass(frozen=True)
class Evaluation:
    """A rule against one question: whether it applies, and in words what was not met
    (`unmet`) or could not be known (`unknown`: a missing attribute, a failing comparison)."""

    rule: Rule
    in_scope: bool  # the resource tests held: the rule is about this resource
    applies: bool
    unmet: tuple[Failed | str, ...] = ()
    unknown: tuple[Failed, ...] = ()

    def why_not(self) -> str:
        return "; ".join(str(reason) for reason in (*self.unmet, *self.unknown))


def evaluate(
    rule: Rule,
    resource: Resource,
    column: Column | None,
    context: Context,
    who: tuple[tuple[Failed, ...], tuple[Failed, ...]],
) -> Evaluation:
    """`rule` against a question; `who` is `subject_check(rule, subject)` (the engine reuses
    it across the columns and questions of one subject)."""
    unmet: list[Failed | str] = []
    unknown: list[Failed] = []
    _check(rule.resource, lambda name: _resource_value(resource, column, name), unmet, unknown)
    if unmet:
        return Evaluation(rule, False, False, tuple(unmet), tuple(unknown))
    unmet.extend(who[0])
    unknown.extend(who[1])
    if rule.conditional:
        _check(rule.context, lambda name: context.attributes.get(name, _MISSING), unmet, unknown)
        unmet.extend(_when_unmet(rule.when, context))
        if rule.expires_at is not None and _utc(context.now) >= rule.expires_at:
            unmet.append(f"exception expired at {rule.expires_at.isoformat()}")
    # Fail closed: what cannot be known keeps an allow or exception from matching, and lets a
    # deny apply (unlike Cedar, which skips a policy whose evaluation errors).
    applies = not unmet and (rule.kind == "deny" or not unknown)
    return Evaluation(rule, True, applies, tuple(unmet), tuple(unknown))


def subject_check(rule: Rule, subject: Subject) -> tuple[tuple[Failed, ...], tuple[Failed, ...]]:
    """The rule's subject tests against `subject`: what is not met, what cannot be known."""
    unmet: list[Failed] = []
    unknown: list[Failed] = []
    _check(rule.subject, lambda name: _subject_value(subject, name), unmet, unknown)
    return tuple(unmet), tuple(unknown)


@dataclass(frozen=True)
class Failed:
    """A test that did not hold, put in words only when an explanation needs it (most
    evaluations fail a test and are never explained)."""

    test: Test
    actual: Any = _MISSING
    error: str | None = None

    def __str__(self) -> str:
        if self.actual is _MISSING:
            return f"needs {self.test.words()} (attribute missing)"
        if self.error is not None:
            return f"needs {self.test.words()} (cannot compare {self.actual!r}: {self.error})"
        return f"needs {self.test.words()} (is {self.actual!r})"


def _check(tests: Iterable[Test], value_of, unmet: list, unknown: list) -> None:
    for test in tests:
        actual = value_of(test.attribute)
        if actual is _MISSING:
            unknown.append(Failed(test))
            continue
        try:
            held = test.holds(actual)
        except TypeError as error:  # e.g. clearance "high" against {min: 3}
            unknown.append(Failed(test, actual, str(error)))
            continue
        if not held:
            unmet.append(Failed(test, actual))


def _subject_value(subject: Subject, name: str) -> Any:
    if name == "profile":
        return subject.name
    return subject.attributes.get(name, _MISSING)


def _resource_value(resource: Resource, column: Column | None, name: str) -> Any:
    """`dataset` and `column` are the names, `tags` the dataset's and `column_tags` the
    column's (none when absent); any other attribute is the column's if it has it (lineage may
    give a source column its zone), else its dataset's."""
    if name == "dataset":
        return resource.dataset
    if name in COLUMN_KEYS:
        if column is None:
            return _MISSING
        if name == "column":
            return column.name
        if name == "column_tags":
            return column.attributes.get("tags", ())
        return column.attributes.get(name, _MISSING)
    if name == "tags":  # tags are known to be none when none are given, unlike a value
        return resource.attributes.get("tags", ())
    if column is not None and name in column.attributes:
        return column.attributes[name]
    return resource.attributes.get(name, _MISSING)


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _when_unmet(when: When, context: Context) -> list[str]:
    now = _utc(context.now)
    unmet = []
    if when.time_of_day is not None:
        start, end, clock = when.time_of_day.from_, when.time_of_day.to, now.time()
        inside = start <= clock < end if start <= end else (clock >= start or clock < end)
        if not inside:
            unmet.append(f"needs time of day {start:%H:%M}-{end:%H:%M} UTC (is {clock:%H:%M})")
    if when.dates is not None:
        first, last, today = when.dates.from_, when.dates.to, now.date()
        if (first is not None and today < first) or (last is not None and today > last):
            unmet.append(f"needs a date from {first or '-'} to {last or '-'} (is {today})")
    if when.weekdays is not None and WEEKDAYS[now.weekday()] not in when.weekdays:
        unmet.append(f"needs a weekday in {when.weekdays} (is {WEEKDAYS[now.weekday()]})")
    if when.environment is not None and context.environment not in when.environment:
        unmet.append(f"needs environment in {when.environment} (is {context.environment!r})")
    return unmet


class RuleIndex:
    """Rules filed by the resource values they name, so a question only evaluates the rules
    that can match it. A question that lacks an indexed attribute also gets every deny filed
    under that attribute: a deny needing a missing attribute applies (fail closed)."""

    def __init__(self, rules: Iterable[Rule]):
        self._keyed: dict[tuple[str, Any], list[Rule]] = defaultdict(list)
        self._unkeyed: list[Rule] = []
        self._denies_by_key: dict[str, list[Rule]] = defaultdict(list)
        for rule in rules:
            key = _index_key(rule)
            if key is None:
                self._unkeyed.append(rule)
                continue
            attribute, values = key
            for value in values:
                self._keyed[(attribute, value)].append(rule)
            if rule.kind == "deny":
                self._denies_by_key[attribute].append(rule)
        self._cache: dict[tuple, tuple[Rule, ...]] = {}

    def candidates(self, values: Mapping[str, Any], column_level: bool) -> tuple[Rule, ...]:
        """The dataset-level (or column-level) rules that can match a question whose indexed
        attributes are `values` (a missing attribute is absent), sorted by id."""
        cache_key = (column_level, *(values.get(k, _MISSING) for k in INDEX_KEYS))
        try:
            return self._cache[cache_key]
        except KeyError:
            pass
        except TypeError:  # an unhashable attribute value: no caching for this question
            return self._collect(values, column_level)
        found = self._cache[cache_key] = self._collect(values, column_level)
        return found

    def _collect(self, values: Mapping[str, Any], column_level: bool) -> tuple[Rule, ...]:
        found: dict[str, Rule] = {}
        for attribute in INDEX_KEYS:
            value = values.get(attribute, _MISSING)
            if value is _MISSING:
                bucket = self._denies_by_key[attribute]
            elif isinstance(value, Hashable):
                bucket = self._keyed.get((attribute, value), ())
            else:  # a list value (e.g. two zones): any rule filed under the attribute
                bucket = [r for (a, _), rs in self._keyed.items() if a == attribute for r in rs]
            found.update((rule.id, rule) for rule in bucket)
        found.update((rule.id, rule) for rule in self._unkeyed)
        return tuple(
            found[rule_id]
            for rule_id in sorted(found)
            if found[rule_id].column_level == column_level
        )


def _index_key(rule: Rule) -> tuple[str, tuple[Any, ...]] | None:
    for attribute in INDEX_KEYS:
        for test in rule.resource:
            if test.attribute == attribute and test.op == "in":
                try:
                    hash(test.values)
                except TypeError:
                    return None
                return attribute, test.values
    return None
