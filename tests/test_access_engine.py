"""The access policy engine (lake_assets/access/engine.py): plain data in, Decision out; no
Spark, no Dagster. Policies are written as YAML in a temporary folder, as an officer would."""

from __future__ import annotations

import random
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from lake_assets.access.engine import build_policy_set, load_policy_set
from lake_assets.access.model import Column, Context, Origin, Resource, Subject
from lake_assets.access.policies import AccessFile
from lake_assets.config import ConfigError

NOON = Context(datetime(2026, 12, 2, 12, tzinfo=UTC), environment="prod")

AMOUNT = Column("amount", {"sensitivity": "confidential", "semantic_type": "amount"})
NATIONAL_ID = Column("national_id", {"sensitivity": "pii", "semantic_type": "mykad"})
SEGMENT = Column("segment", {"sensitivity": "internal", "semantic_type": "code"})
EMAIL = Column("email", {"sensitivity": "pii", "semantic_type": "email"})


def policies(tmp_path: Path, **files: str):
    for name, text in files.items():
        (tmp_path / f"{name}.yaml").write_text(textwrap.dedent(text))
    return load_policy_set(tmp_path)


def treatments(decision) -> dict[str, str]:
    return {name: str(c.treatment) for name, c in decision.columns.items()}


BASE = """
    profiles:
      fraud: {team: fraud, role: analyst, clearance: 3}
      marketing: {team: marketing, role: analyst, clearance: 2}
    safe_transformations:
      hmac: keyed token
      aggregate>=5: aggregate over at least five
    policies:
      - id: analysts-read
        effect: allow
        resource: {dataset: [customers, cards, gold_x, gold_y]}
        subject: {role: analyst}
      - id: amounts-null
        effect: allow
        resource: {semantic_type: amount}
        subject: {team: {not: fraud}}
        treatment: "null"
      - id: pii-token
        effect: allow
        resource: {sensitivity: pii}
        treatment: token
      - id: mykad-never
        effect: deny
        resource: {semantic_type: mykad}
"""


def test_the_seed_sentence_with_the_shipped_policies():
    """Fraud sees transaction amounts, marketing does not, neither sees the national ID."""
    lake = load_policy_set()  # config/access
    cards = Resource("card_transactions", {"zone": "curated"}, (AMOUNT,))
    customers = Resource("customers", {"zone": "curated"}, (NATIONAL_ID, SEGMENT))
    fraud, marketing = lake.profile("fraud_analyst"), lake.profile("marketing_analyst")

    assert treatments(lake.decide(fraud, cards, NOON)) == {"amount": "clear"}
    assert treatments(lake.decide(marketing, cards, NOON)) == {"amount": "null"}
    for subject in (fraud, marketing):
        decision = lake.decide(subject, customers, NOON)
        assert decision.columns["national_id"].treatment.kind == "deny"
        assert decision.columns["national_id"].decided_by == "national-id-never"
        assert decision.columns["segment"].treatment.kind == "clear"
    assert {"fraud_analyst", "marketing_analyst", "data_engineer", "auditor"} <= set(lake.profiles)
    assert set(lake.versions) == set(lake.rules)
    # a row filter from the subject's region, as a SQL literal; no region, no rows
    spend = Resource("gold_fact_card_spend", {"zone": "gold"}, (AMOUNT,))
    assert lake.decide(marketing, spend, NOON).row_filter == "(merchant_country = 'MY')"
    unregioned = Subject("marketing_intern", {"team": "marketing", "role": "analyst"})
    blind = lake.decide(unregioned, spend, NOON)
    assert blind.row_filter == "(FALSE)"
    assert any("subject.region" in u and "no rows" in u for u in blind.unmet)
    assert lake.decide(fraud, spend, NOON).row_filter is None


def test_deny_overrides_and_the_strictest_mask_wins(tmp_path):
    lake = policies(
        tmp_path,
        base=BASE,
        more="""
        policies:
          - id: emails-partial-for-marketing
            effect: allow
            resource: {semantic_type: email}
            subject: {team: marketing}
            treatment: partial(last4)
          - id: marketing-no-customers
            effect: deny
            resource: {dataset: customers}
            subject: {team: marketing}
        """,
    )
    resource = Resource("customers", {}, (AMOUNT, EMAIL, SEGMENT))
    fraud = lake.decide(lake.profile("fraud"), resource, NOON)
    # partial(last4) applies only to marketing; for fraud the token is the only mask
    assert treatments(fraud) == {
        "amount": "clear",
        "email": "token(hmac-sha256)",
        "segment": "clear",
    }
    assert fraud.outcome == "allow" and fraud.decided_by == "analysts-read"

    marketing = lake.decide(lake.profile("marketing"), resource, NOON)
    assert marketing.outcome == "deny" and marketing.decided_by == "marketing-no-customers"
    assert set(treatments(marketing).values()) == {"deny"}
    assert "analysts-read" in marketing.matched and "marketing-no-customers" in marketing.matched

    cards = lake.decide(lake.profile("marketing"), Resource("cards", {}, (AMOUNT, EMAIL)), NOON)
    # token (a keyed HMAC) is stricter than partial: the strictest applicable mask wins
    assert treatments(cards) == {"amount": "null", "email": "token(hmac-sha256)"}

    # an exception for one column lifts the dataset's deny there only
    (tmp_path / "lift.yaml").write_text(
        "exceptions:\n  - {id: segments-ok, lifts: [marketing-no-customers], scope: {subject:"
        " {team: marketing}, resource: {dataset: customers, column: segment}}, justification: j,"
        " ticket: t, approver: a, expires: 2027-01-01}\n"
    )
    lifted = load_policy_set(tmp_path).decide(lake.profile("marketing"), resource, NOON)
    assert treatments(lifted) == {"amount": "deny", "email": "deny", "segment": "clear"}
    assert lifted.outcome == "allow" and lifted.decided_by == "segments-ok"
    assert cards.columns["email"].decided_by == "pii-token"


EXCEPTION = """
    exceptions:
      - id: ex-1
        lifts: [mykad-never, pii-token]   # a deny and a mask
        scope:
          subject: {profile: fraud}
          resource: {dataset: customers}
        treatment: partial(last4)
        justification: chargebacks
        ticket: SEC-1
        approver: ciso
        expires: 2026-12-31
"""


def test_an_exception_lifts_only_in_its_scope_and_until_it_expires(tmp_path):
    lake = policies(tmp_path, base=BASE, exceptions=EXCEPTION)
    fraud, marketing = lake.profile("fraud"), lake.profile("marketing")
    customers = Resource("customers", {}, (NATIONAL_ID, AMOUNT))

    lifted = lake.decide(fraud, customers, NOON)
    assert str(lifted.columns["national_id"].treatment) == "partial(last4)"
    assert lifted.columns["national_id"].decided_by == "ex-1"
    assert "SEC-1" in lifted.columns["national_id"].reason
    # it lifts, it does not grant: other columns keep their own treatment
    assert lifted.columns["amount"].treatment.kind == "clear"
    # out of scope: another subject, another dataset
    assert lake.decide(marketing, customers, NOON).columns["national_id"].treatment.kind == "deny"
    other = lake.decide(fraud, Resource("cards", {}, (NATIONAL_ID,)), NOON)
    assert other.columns["national_id"].decided_by == "mykad-never"
    # through 2026-12-31 (UTC), then denied again, with the expiry named in "why denied"
    last_day = Context(datetime(2026, 12, 31, 23, 59, tzinfo=UTC))
    assert lake.decide(fraud, customers, last_day).columns["national_id"].decided_by == "ex-1"
    expired = lake.decide(fraud, customers, Context(datetime(2027, 1, 1, tzinfo=UTC)))
    assert expired.columns["national_id"].treatment.kind == "deny"
    assert any("ex-1" in u and "expired" in u for u in expired.unmet)


def test_an_exception_lifting_a_mask_keeps_the_row_filter_of_the_allow_it_lifts(tmp_path):
    """ADR-0075: exceptions lift masks and denies, never row filters. Lifting the banded allow
    dropped the whole rule, its region filter with it: every region's rows were shown."""
    lake = policies(
        tmp_path,
        base="""
        profiles:
          lead: {team: marketing, region: MY}
        policies:
          - id: marketing-sees-its-region-banded
            effect: allow
            resource: {dataset: spend}
            subject: {team: marketing}
            treatment: generalise(band:1000)
            row_filter: "merchant_country = {subject.region}"
        exceptions:
          - id: ex-1
            lifts: [marketing-sees-its-region-banded]
            scope: {subject: {profile: lead}, resource: {dataset: spend}}
            justification: reconciling amounts
            ticket: SEC-1
            approver: ciso
            expires: 2027-12-31
        """,
    )
    decision = lake.decide(lake.profile("lead"), Resource("spend", {}, (AMOUNT,)), NOON)
    assert treatments(decision) == {"amount": "clear"}
    assert decision.row_filter == "(merchant_country = 'MY')"


def test_fail_closed(tmp_path):
    lake = policies(
        tmp_path,
        base=BASE,
        more="""
        policies:
          - id: cleared-only
            effect: allow
            resource: {dataset: gold_y}
            subject: {clearance: {min: 3}}
          - id: no-unregioned
            effect: deny
            resource: {dataset: cards, region: {not: [MY]}}
          - id: no-embargoed-datasets
            effect: deny
            resource: {tags: embargoed}
          - id: no-secret-columns
            effect: deny
            resource: {column_tags: secret}
        """,
    )
    unclassified = Column("notes", {"semantic_type": "free_text"})
    decision = lake.decide(lake.profile("fraud"), Resource("customers", {}, (unclassified,)), NOON)
    assert decision.columns["notes"].treatment.kind == "deny"
    assert "not yet classified" in decision.columns["notes"].reason

    # a missing attribute: the allow needing it does not match (default deny) ...
    nobody = Subject("contractor", {"team": "fraud"})
    denied = lake.decide(nobody, Resource("gold_y", {}, (SEGMENT,)), NOON)
    assert denied.outcome == "deny" and denied.decided_by is None
    assert any("subject.clearance" in u and "missing" in u for u in denied.unmet)
    # ... a condition that errors (a clearance that is not a number) does not match either ...
    odd = Subject("odd", {"role": "x", "clearance": "high"})
    assert lake.decide(odd, Resource("gold_y", {}, (SEGMENT,)), NOON).outcome == "deny"
    # ... and a deny needing a missing attribute applies
    unknown_region = lake.decide(lake.profile("fraud"), Resource("cards", {}, (SEGMENT,)), NOON)
    assert unknown_region.decided_by == "no-unregioned"
    known = lake.decide(
        lake.profile("fraud"), Resource("cards", {"region": "MY"}, (SEGMENT,)), NOON
    )
    assert known.outcome == "allow"
    # tags: the dataset's deny the dataset, a column's deny that column
    embargoed = Resource("customers", {"tags": ["embargoed"]})
    assert lake.decide(lake.profile("fraud"), embargoed, NOON).decided_by == "no-embargoed-datasets"
    secret = Column("risk", {"sensitivity": "internal", "tags": ["secret"]})
    tagged = lake.decide(lake.profile("fraud"), Resource("customers", {}, (secret, SEGMENT)), NOON)
    assert treatments(tagged) == {"risk": "deny", "segment": "clear"}


def test_why_denied_names_the_unmet_conditions(tmp_path):
    lake = policies(
        tmp_path,
        base=BASE,
        hours="""
        policies:
          - id: fraud-office-hours
            effect: allow
            resource: {dataset: cases}
            subject: {team: fraud}
            when:
              time_of_day: {from: "08:00", to: "18:00"}
              environment: [prod]
        """,
    )
    night = Context(datetime(2026, 12, 2, 22, 30, tzinfo=UTC), environment="dev")
    decision = lake.decide(lake.profile("marketing"), Resource("cases", {}, (SEGMENT,)), night)
    assert decision.outcome == "deny"
    (why,) = [u for u in decision.unmet if "fraud-office-hours" in u]
    assert "subject.team is 'fraud' (is 'marketing')" in why
    assert "time of day 08:00-18:00 UTC (is 22:30)" in why
    assert "environment in ['prod'] (is 'dev')" in why
    assert lake.decide(lake.profile("fraud"), Resource("cases", {}, (SEGMENT,)), NOON).outcome == (
        "allow"
    )
    nothing = lake.decide(lake.profile("fraud"), Resource("elsewhere", {}, (SEGMENT,)), NOON)
    assert nothing.unmet == ("elsewhere.segment: no allow policy is about this resource",)


def _hop(dataset: str, column: Column, safe: str | None = None) -> Origin:
    return Origin(dataset, column, "TRANSFORMATION", safe)


def test_restrictions_follow_lineage(tmp_path):
    lake = policies(tmp_path, base=BASE)
    fraud = lake.profile("fraud")
    internal = {"sensitivity": "internal", "semantic_type": "identifier"}
    # sha2(national_id, 256): an unkeyed hash inherits the deny, naming source, policy, path
    hashed = Column("hashed_national_id", internal, (_hop("customers", NATIONAL_ID),))
    decision = lake.decide(fraud, Resource("gold_x", {}, (hashed,)), NOON)
    verdict = decision.columns["hashed_national_id"]
    assert verdict.treatment.kind == "deny" and verdict.decided_by == "mykad-never"
    assert "customers.national_id" in verdict.reason
    assert verdict.path == ("gold_x.hashed_national_id", "customers.national_id")
    # two hops: gold_y.copy <- gold_x.hashed_national_id <- customers.national_id
    copy = Column("copy", internal, (_hop("gold_x", hashed),))
    two = lake.decide(fraud, Resource("gold_y", {}, (copy,)), NOON).columns["copy"]
    assert two.treatment.kind == "deny"
    assert two.path == ("gold_y.copy", "gold_x.hashed_national_id", "customers.national_id")
    # a declared safe transformation (keyed HMAC) relaxes; an undeclared one does not
    token = Column("token", internal, (_hop("customers", NATIONAL_ID, safe="hmac"),))
    forged = Column("forged", internal, (_hop("customers", NATIONAL_ID, safe="rot13"),))
    big = Column("spend", internal, (_hop("cards", AMOUNT, safe="aggregate>=10"),))
    small = Column("spend3", internal, (_hop("cards", AMOUNT, safe="aggregate>=3"),))
    marketing = lake.decide(
        lake.profile("marketing"), Resource("gold_x", {}, (token, forged, big, small)), NOON
    )
    assert treatments(marketing) == {
        "token": "clear",
        "forged": "deny",
        "spend": "clear",
        "spend3": "null",
    }
    assert "not a declared safe transformation" in marketing.columns["forged"].reason


def test_validation_errors_name_file_key_and_reason(tmp_path):
    cases = {
        "effect: maybe": "policies[0].effect: must be allow or deny",
        "treatment: blur": "policies[0].treatment: must be one of clear",
        "treatment: partial": "policies[0].treatment: partial needs a detail",
        "row_filter: 'region = = 1'": "policies[0].row_filter: not a Trino predicate",
        "colour: red": "policies[0].colour: unknown key",
        "when: {time_of_day: {from: '08:00', to: '08:00'}}": "policies[0].when.time_of_day.to: must",
        "when: {time_of_day: {from: '08:00', to: 18:00}}": "policies[0].when.time_of_day.to: must be a quoted time",
        # Compared with the UTC clock, an offset failed every decision that reached the policy.
        "when: {time_of_day: {from: '09:00+08:00', to: '18:00'}}": 'policies[0].when.time_of_day.from: is in UTC: write "01:00", not 09:00+08:00',
        # A view has one WHERE: a column-level allow's filter was silently never applied.
        "resource: {semantic_type: amount}\n    row_filter: 'region = 1'": "policies[0].row_filter: filters a dataset's rows, but this policy is about columns (it tests semantic_type)",
    }
    for line, expected in cases.items():
        (tmp_path / "bad.yaml").write_text(
            f"policies:\n  - id: p\n    effect: allow\n    {line}\n".replace(
                "effect: allow\n    effect: maybe", "effect: maybe"
            )
        )
        with pytest.raises(ConfigError) as raised:
            load_policy_set(tmp_path)
        assert str(raised.value).startswith(f"{tmp_path / 'bad.yaml'}: {expected}"), line

    (tmp_path / "bad.yaml").write_text(
        "policies:\n  - {id: p, effect: deny, resource: {dataset: x}}\n"
        "exceptions:\n  - {id: e, lifts: [q], scope: {subject: {team: a}, resource: {dataset: x}},"
        " justification: j, ticket: t, approver: a, expires: 2027-01-01}\n"
    )
    with pytest.raises(ConfigError, match=r"exceptions\[0\]\.lifts\[0\]: no policy 'q' to lift"):
        load_policy_set(tmp_path)
    (tmp_path / "bad.yaml").write_text("policies:\n  - {id: p, effect: deny}\n")
    (tmp_path / "twin.yaml").write_text("policies:\n  - {id: p, effect: deny}\n")
    with pytest.raises(ConfigError, match=r"twin.yaml: policies\[0\]\.id: id 'p' is also used in"):
        load_policy_set(tmp_path)


TYPES = {"email": "pii", "phone": "pii", "amount": "confidential", "code": "internal"}


def _generated_files(seed: int) -> list[tuple[str, dict]]:
    """A generated policy set where grants, masks (with ties), denies and exceptions (some
    expired on NOON) overlap on the same columns."""
    rng = random.Random(seed)
    masks = ["clear", "partial(last4)", "generalise(month)", "token", "null"]
    team = lambda: rng.choice(["a", "b", {"not": "a"}])  # noqa: E731
    entries = []
    for n in range(10):
        grant = {"dataset": rng.sample(["d0", "d1", "d2"], rng.randint(1, 2))}
        entries.append(("policies", {"id": f"g{n}", "effect": "allow", "resource": grant}))
        entries[-1][1]["subject"] = {"team": team()}
    for n in range(14):
        key = rng.choice(["sensitivity", "semantic_type"])
        value = rng.choice(sorted(TYPES) if key == "semantic_type" else sorted(set(TYPES.values())))
        mask = {"id": f"m{n:02d}", "effect": "allow", "resource": {key: value}}
        entries.append(("policies", {**mask, "subject": {"team": team()}}))
        entries[-1][1]["treatment"] = rng.choice(masks)
    restricting = [p["id"] for _, p in entries if p.get("treatment", "clear") != "clear"]
    for n in range(6):
        scope = {
            "dataset": rng.choice(["d0", "d1", "d2"]),
            "semantic_type": rng.choice(sorted(TYPES)),
        }
        deny = {"id": f"n{n}", "effect": "deny", "resource": scope, "subject": {"team": team()}}
        entries.append(("policies", deny))
    for n in range(6):
        exception = {
            "id": f"x{n}",
            "lifts": [f"n{rng.randrange(6)}", rng.choice(restricting)],
            "scope": {"subject": {"team": "a"}, "resource": {"dataset": rng.choice(["d1", "d2"])}},
            "treatment": rng.choice(masks),
            "justification": "j",
            "ticket": "t",
            "approver": "a",
            "expires": f"2026-12-{rng.randint(1, 3):02d}",
        }
        entries.append(("exceptions", exception))
    return entries


def _split(entries: list, rng: random.Random) -> list[tuple[str, AccessFile]]:
    entries = entries[:]
    rng.shuffle(entries)
    files: list[dict] = [{} for _ in range(rng.randint(1, 6))]
    for section, entry in entries:
        files[rng.randrange(len(files))].setdefault(section, []).append(entry)
    rng.shuffle(files)
    return [(f"f{n}.yaml", AccessFile(**document)) for n, document in enumerate(files)]


def test_policy_and_file_order_never_matter(tmp_path):
    entries = _generated_files(seed=17)
    columns = tuple(
        Column(f"c_{name}", {"sensitivity": sensitivity, "semantic_type": name})
        for name, sensitivity in TYPES.items()
    )
    questions = [
        # on 2 December some of the generated exceptions have expired and some have not; the
        # subject without a team fails many policies at once, so its "why denied" is long
        (subject, Resource(dataset, {}, columns), NOON)
        for subject in (Subject("sa", {"team": "a"}), Subject("sb", {"team": "b"}), Subject("x"))
        for dataset in ("d0", "d1", "d2")
    ]

    def answers(policy_set):
        return [policy_set.decide(*q) for q in questions]

    rng = random.Random(2026)
    expected = answers(build_policy_set(_split(entries, rng)))
    # the generated set exercises grants, masks, denies and an exception deciding a column
    deciders = {c.decided_by[0] for d in expected for c in d.columns.values() if c.decided_by}
    assert deciders == {"g", "m", "n", "x"}
    for _ in range(200):
        assert answers(build_policy_set(_split(entries, rng))) == expected
    # and through real files: the same documents written in another order and file names
    for n, (_, document) in enumerate(_split(entries, rng)):
        body = AccessFile.__pydantic_serializer__.to_python(document, mode="json", by_alias=True)
        (tmp_path / f"{n:02d}.yaml").write_text(yaml.safe_dump(body))
    assert answers(load_policy_set(tmp_path)) == expected


def test_a_decision_evaluates_only_the_policies_its_keys_can_match(tmp_path):
    grants = [
        {"id": f"grant-{n:03d}", "effect": "allow", "resource": {"dataset": f"d{n:03d}"}}
        for n in range(300)
    ]
    masks = [
        {
            "id": f"mask-{t}",
            "effect": "allow",
            "resource": {"semantic_type": t},
            "treatment": "null",
        }
        for t in ("amount", "email", "code")
    ]
    raw_closed = {"id": "raw-closed", "effect": "deny", "resource": {"zone": "raw"}}
    (tmp_path / "many.yaml").write_text(yaml.safe_dump({"policies": [*grants, *masks, raw_closed]}))
    lake = load_policy_set(tmp_path)
    someone = Subject("someone")
    decision = lake.decide(someone, Resource("d007", {"zone": "gold"}, (AMOUNT,)), NOON)
    assert set(decision.policy_versions) == {"grant-007", "mask-amount"}
    assert treatments(decision) == {"amount": "null"}
    # a question without a zone also evaluates the denies filed under zone: fail closed
    unzoned = lake.decide(someone, Resource("d007", {}, (AMOUNT,)), NOON)
    assert unzoned.decided_by == "raw-closed" and unzoned.outcome == "deny"
