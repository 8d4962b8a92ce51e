"""The audit trail's entries, and their replay.

An entry records one access question and its answer: who asked (subject), about what (dataset,
columns), when and where (the context), under which policy versions, the input hash, the outcome
and the policy that decided it. It also keeps the question itself (Subject, Resource and Context
as JSON) and the whole Decision: a hash proves a question was not changed, but only the question
can be decided again. `replay` does that with the same policy versions and reports every entry
whose stored answer the engine no longer gives, or whose question no longer matches its hash.

Plain data in and out: the stores (resources/access_audit.py, resources/aws/) keep entries as
`to_json()` bodies, and the policy set is anything with `decide` and `versions`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Protocol

from lake_assets.access.model import (
    Column,
    Context,
    Decision,
    Origin,
    Resource,
    Subject,
    Treatment,
    input_hash,
)
from lake_assets.instants import format_instant


class DecidingPolicies(Protocol):
    """What a replay needs of a policy set (lake_assets/access/engine.py's PolicySet)."""

    @property
    def versions(self) -> Mapping[str, str]: ...

    def decide(self, subject: Subject, resource: Resource, context: Context) -> Decision: ...


@dataclass(frozen=True)
class AuditEntry:
    """One decision as the trail keeps it."""

    decision_id: str
    at: str  # the question's instant (Context.now) in UTC: the trail's order
    subject: str
    dataset: str
    columns: tuple[str, ...]
    environment: str
    outcome: str
    decided_by: str | None
    policy_versions: Mapping[str, str]
    input_hash: str
    question: Mapping[str, Any]  # {"subject": ..., "resource": ..., "context": ...}
    decision: Mapping[str, Any] = field(default_factory=dict)  # Decision.to_json()

    def to_json(self) -> dict:
        return {**asdict(self), "columns": list(self.columns)}

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> AuditEntry:
        return cls(**{**body, "columns": tuple(body["columns"])})

    @property
    def treatments(self) -> dict[str, str]:
        """Column -> its recorded treatment, as `str(Treatment)` ("partial(last4)")."""
        return {
            name: str(Treatment(**column["treatment"]))
            for name, column in self.decision.get("columns", {}).items()
        }


def _plain(value: Any) -> Any:
    # What input_hash sees of a value (json with default=str), so the stored question hashes
    # to the recorded input hash after a round trip through JSON.
    return json.loads(json.dumps(value, default=str))


def question_json(subject: Subject, resource: Resource, context: Context) -> dict:
    """The question as JSON, enough to ask it again (`question_of`)."""
    return {
        "subject": _plain(asdict(subject)),
        "resource": _plain(asdict(resource)),
        "context": {**_plain(asdict(context)), "now": context.now.isoformat()},
    }


def _column(body: Mapping[str, Any]) -> Column:
    return Column(
        name=body["name"],
        attributes=body["attributes"],
        origins=tuple(
            Origin(
                dataset=origin["dataset"],
                column=_column(origin["column"]),
                transformation=origin["transformation"],
                safe=origin["safe"],
                # Absent from entries recorded before origins carried them (ADR-0198).
                dataset_attributes=origin.get("dataset_attributes", {}),
            )
            for origin in body["origins"]
        ),
    )


def question_of(entry: AuditEntry) -> tuple[Subject, Resource, Context]:
    """The stored question, rebuilt into the engine's shapes."""
    subject, resource, context = (entry.question[k] for k in ("subject", "resource", "context"))
    return (
        Subject(subject["name"], subject["attributes"]),
        Resource(
            resource["dataset"],
            resource["attributes"],
            tuple(_column(c) for c in resource["columns"]),
        ),
        Context(
            datetime.fromisoformat(context["now"]), context["environment"], context["attributes"]
        ),
    )


def audit_entry(
    subject: Subject, resource: Resource, context: Context, decision: Decision
) -> AuditEntry:
    """The trail's entry for `decision`, the engine's answer to (subject, resource, context)."""
    return AuditEntry(
        decision_id=decision.decision_id,
        at=format_instant(context.now),
        subject=subject.name,
        dataset=resource.dataset,
        columns=tuple(c.name for c in resource.columns),
        environment=context.environment,
        outcome=decision.outcome,
        decided_by=decision.decided_by,
        policy_versions=dict(decision.policy_versions),
        input_hash=decision.input_hash or input_hash(subject, resource, context),
        question=question_json(subject, resource, context),
        decision=_plain(decision.to_json()),
    )


@dataclass(frozen=True)
class Mismatch:
    """An entry whose replay disagrees with what the trail recorded: `what` differed (the
    question against its hash, the outcome, a column's treatment, the row filter)."""

    decision_id: str
    what: str
    recorded: str | None
    replayed: str | None

    def __str__(self) -> str:
        return (
            f"{self.decision_id}: {self.what}: recorded {self.recorded}, replayed {self.replayed}"
        )


class ReplayRefused(ValueError):
    """Entries were decided under other policy versions than the policy set's: replaying them
    against today's policies would prove nothing. Names each policy that differs."""

    def __init__(self, differences: Mapping[str, list[str]]):
        self.differences = dict(differences)
        shown = "; ".join(
            f"{decision_id}: {', '.join(policies)}"
            for decision_id, policies in list(self.differences.items())[:5]
        )
        more = len(self.differences) - 5
        super().__init__(
            f"{len(self.differences)} audit entries were decided under other policy versions "
            f"than these policies ({shown}{f'; and {more} more' if more > 0 else ''}): replay "
            "them against the policy files of that time, or choose entries with --since"
        )


def version_differences(recorded: Mapping[str, str], current: Mapping[str, str]) -> list[str]:
    """Each policy whose version differs, in words; empty when the versions are the same."""
    return [
        f"{policy} {recorded.get(policy, 'absent')} then, {current.get(policy, 'absent')} now"
        for policy in sorted(set(recorded) | set(current))
        if recorded.get(policy) != current.get(policy)
    ]


def _differences(entry: AuditEntry, replayed: Decision) -> list[Mismatch]:
    found = []
    if replayed.outcome != entry.outcome:
        found.append(Mismatch(entry.decision_id, "outcome", entry.outcome, replayed.outcome))
    now = {name: str(c.treatment) for name, c in replayed.columns.items()}
    then = entry.treatments
    for column in sorted(set(then) | set(now)):
        if then.get(column) != now.get(column):
            found.append(
                Mismatch(entry.decision_id, f"column {column}", then.get(column), now.get(column))
            )
    recorded_filter = entry.decision.get("row_filter")
    if recorded_filter != replayed.row_filter:
        found.append(
            Mismatch(entry.decision_id, "row filter", recorded_filter, replayed.row_filter)
        )
    return found


def replay(entries: Iterable[AuditEntry], policies: DecidingPolicies) -> list[Mismatch]:
    """Decide every entry's question again and return where the answer differs from the one
    recorded (none: the trail is reproduced). A question that no longer hashes to its input hash
    was changed after it was recorded and is not decided.

    ReplayRefused when an entry was decided under other policy versions: before deciding
    anything when a policy it records changed or is gone, and after deciding when the replay
    evaluated other policies than the entry records (one added since that now applies). A
    decision records the versions of the policies it evaluated, not of every policy, so the
    second check is what sees an added policy."""
    entries = list(entries)
    current = dict(policies.versions)
    refused = {
        entry.decision_id: differences
        for entry in entries
        if (
            differences := version_differences(
                entry.policy_versions,
                {p: current[p] for p in entry.policy_versions if p in current},
            )
        )
    }
    if refused:
        raise ReplayRefused(refused)
    mismatches: list[Mismatch] = []
    for entry in entries:
        subject, resource, context = question_of(entry)
        asked = input_hash(subject, resource, context)
        if asked != entry.input_hash:
            mismatches.append(Mismatch(entry.decision_id, "question", entry.input_hash, asked))
            continue
        replayed = policies.decide(subject, resource, context)
        differences = version_differences(entry.policy_versions, replayed.policy_versions)
        if differences:
            refused[entry.decision_id] = differences
        mismatches.extend(_differences(entry, replayed))
    if refused:
        raise ReplayRefused(refused)
    return mismatches
