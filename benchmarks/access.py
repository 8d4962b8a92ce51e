"""Access decisions (issue 14): `PolicySet.decide` over 1,000 generated policies, one question
per (subject, dataset, column), against cedarpy (Cedar's Python binding, Rust inside) deciding
the same questions with the same policies written in Cedar, parsed once and given every entity.

cedarpy evaluates every policy for every question (microseconds each, whatever the
policy's scope: 1,000 policies cost it milliseconds per question), so it is timed on the first
CEDAR_QUESTIONS of the questions and compared per decision; `decide` answers all of them.

The two are not doing the same amount of work: Cedar answers allow or deny; `decide` also picks
the column's treatment among the applicable masks, names every matched policy and the deciding
one, and for a deny the unmet conditions, the policy versions and the input hash. The outcomes
must agree on every question (printed), which checks that the policy sets are equivalent.

`--rows N` asks N / 10 questions (100,000 by default).
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime

import cedarpy

from benchmarks.timing import alternate, print_table
from lake_assets.access.engine import PolicySet
from lake_assets.access.model import Column, Context, Resource, Subject
from lake_assets.access.policies import Policy, Test
from lake_assets.access.rules import Rule, policy_rule

POLICIES = 1_000
DATASETS, COLUMNS, SUBJECTS, TEAMS = 100, 20, 50, 20
REPEATS = 3
CEDAR_QUESTIONS = 5_000
SENSITIVITIES = ("public", "internal", "confidential", "pii")
SEMANTIC_TYPES = ("amount", "email", "phone", "code", "date", "identifier", "flag", "number")
MASKS = ("partial(last4)", "generalise(month)", "token", "null")
NOW = Context(datetime(2026, 12, 2, 12, tzinfo=UTC), environment="prod")


def run(rows: int) -> str:
    questions = max(1_000, rows // 10)
    rng = random.Random(14)
    subjects = [_subject(n, rng) for n in range(SUBJECTS)]
    columns = {f"d{d:03d}": [_column(c, rng) for c in range(COLUMNS)] for d in range(DATASETS)}
    policies = [_policy(n, rng) for n in range(POLICIES)]
    asked = [
        (rng.choice(subjects), dataset, rng.choice(columns[dataset]))
        for dataset in rng.choices(sorted(columns), k=questions)
    ]
    print(f"\n[access] {POLICIES:,} policies, {questions:,} (subject, dataset, column) questions")
    ours = PolicySet([policy_rule(p, "generated.yaml") for p in policies], {}, {})
    cedar_policies = cedarpy.PolicySet.from_str("\n".join(_cedar(r) for r in ours.rules.values()))
    entities = cedarpy.Entities.from_json_str(json.dumps(_entities(subjects, columns)))
    requests = [
        {
            "principal": {"type": "User", "id": subject.name},
            "action": {"type": "Action", "id": "read"},
            "resource": {"type": "Column", "id": f"{dataset}.{column.name}"},
            "context": {},
        }
        for subject, dataset, column in asked[:CEDAR_QUESTIONS]
    ]

    def decide(_: int) -> list[str]:
        return [
            ours.decide(subject, Resource(dataset, {}, (column,)), NOW).outcome
            for subject, dataset, column in asked
        ]

    def cedar(_: int) -> list[str]:
        results = cedarpy.is_authorized_batch(requests, cedar_policies, entities)
        return ["allow" if r.allowed else "deny" for r in results]

    runs = alternate({"cedarpy (baseline)": cedar, "PolicySet.decide": decide}, REPEATS)
    base, subject = runs["cedarpy (baseline)"], runs["PolicySet.decide"]
    sample = len(requests)
    agree = sum(a == b for a, b in zip(base.result, subject.result[:sample], strict=True))
    rate = {
        "cedarpy (baseline)": sample / base.median,
        "PolicySet.decide": questions / subject.median,
    }
    print_table(
        f"Decisions per second ({POLICIES:,} policies; median of alternated runs)",
        ["case", "questions", "median s", "decisions/s", "runs s"],
        [
            [name, sample if r is base else questions, r.median, round(rate[name]), r.spread()]
            for name, r in runs.items()
        ],
    )
    allowed = subject.result.count("allow")
    print(f"  outcomes agree on {agree:,} of the {sample:,} both answered ({allowed:,} allowed)")
    ratio = rate["cedarpy (baseline)"] / rate["PolicySet.decide"]
    return (
        f"access: {round(rate['PolicySet.decide']):,} decisions/s over {POLICIES:,} policies, "
        f"{ratio:.2f}x cedarpy's time per decision (target <= 2x), outcomes agree "
        f"{agree / sample:.1%}"
    )


def _subject(n: int, rng: random.Random) -> Subject:
    return Subject(
        f"s{n:02d}",
        {
            "team": f"t{rng.randrange(TEAMS):02d}",
            "role": rng.choice(["analyst", "engineer", "auditor"]),
            "clearance": rng.randint(1, 4),
        },
    )


def _column(n: int, rng: random.Random) -> Column:
    return Column(
        f"c{n:02d}",
        {"sensitivity": rng.choice(SENSITIVITIES), "semantic_type": rng.choice(SEMANTIC_TYPES)},
    )


def _policy(n: int, rng: random.Random) -> Policy:
    """Dataset grants per team (60%), masks by semantic type (25%), denies (15%)."""
    team = f"t{rng.randrange(TEAMS):02d}"
    datasets = [f"d{d:03d}" for d in rng.sample(range(DATASETS), rng.randint(1, 3))]
    draw = rng.random()
    if draw < 0.6:
        subject = {"team": team} if rng.random() < 0.7 else {"role": "auditor"}
        if rng.random() < 0.3:
            subject["clearance"] = {"min": rng.randint(2, 4)}
        body = {"effect": "allow", "resource": {"dataset": datasets}, "subject": subject}
    elif draw < 0.85:
        body = {
            "effect": "allow",
            "resource": {"semantic_type": rng.choice(SEMANTIC_TYPES), "dataset": datasets},
            "subject": {"team": {"not": [team]}},
            "treatment": rng.choice(MASKS),
        }
    else:
        body = {
            "effect": "deny",
            "resource": {"dataset": datasets, "column": f"c{rng.randrange(COLUMNS):02d}"},
            "subject": {"team": team},
        }
    return Policy(id=f"p{n:04d}", **body)


def _cedar(rule: Rule) -> str:
    """The rule in Cedar, written for Cedar's speed: the same tests, the most selective first
    (the dataset; Cedar's && stops at the first false), equality rather than set literals."""
    tests = sorted(rule.resource, key=lambda t: t.attribute != "dataset")
    conditions = [_cedar_test("resource", t) for t in tests] + [
        _cedar_test("principal", t) for t in rule.subject
    ]
    effect = "permit" if rule.kind == "allow" else "forbid"
    return f"{effect}(principal, action, resource) when {{ {' && '.join(conditions)} }};"


def _cedar_test(side: str, test: Test) -> str:
    value = f"{side}.{test.attribute}"
    if test.op in ("min", "max"):
        return f"{value} {'>=' if test.op == 'min' else '<='} {test.values[0]}"
    equal = " || ".join(f"{value} == {json.dumps(v)}" for v in test.values)
    equal = f"({equal})" if len(test.values) > 1 else equal
    return equal if test.op == "in" else f"!({equal})"


def _entities(subjects: list[Subject], columns: dict[str, list[Column]]) -> list[dict]:
    users = [
        {"uid": {"type": "User", "id": s.name}, "attrs": dict(s.attributes), "parents": []}
        for s in subjects
    ]
    cells = [
        {
            "uid": {"type": "Column", "id": f"{dataset}.{c.name}"},
            "attrs": {"dataset": dataset, "column": c.name, **c.attributes},
            "parents": [],
        }
        for dataset, listed in columns.items()
        for c in listed
    ]
    return users + cells
