"""The access audit trail and `lake access`: every decision appended (SQLite locally, DynamoDB on
the moto server), replayed against the same policy versions, tampering and changed policies
caught; check, explain and audit on the command line."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import uuid
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from lake_assets.access.audit import Mismatch, ReplayRefused, audit_entry, replay
from lake_assets.access.model import (
    CLEAR,
    DENY,
    Column,
    ColumnDecision,
    Context,
    Decision,
    Origin,
    Resource,
    Subject,
    Treatment,
    input_hash,
)
from lake_assets.classification.model import ColumnClassification
from lake_assets.cli.main import main
from lake_assets.settings import REPO_ROOT, load_settings
from resources import command_resources
from resources.access_audit import AccessAuditTrail, AuditConflict, SQLiteAccessAuditTrail
from resources.aws.dynamo_access_audit import DynamoAccessAuditTrail
from resources.catalog import PublishedPartition
from resources.classification_store import ColumnRecord

REGION = "eu-west-1"
MORNING = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
EVENING = datetime(2026, 12, 1, 19, 0, tzinfo=UTC)


class FakePolicies:
    """A policy set with the engine's method names: fraud sees amounts, marketing gets them
    banded, nobody sees a national id (nor what lineage derives from it), an unclassified
    column is denied."""

    def __init__(self, versions=None):
        self.versions = versions or {"amounts": "v1", "national_id": "v1"}
        self.profiles = {
            "fraud_analyst": Subject("fraud_analyst", {"team": "fraud"}),
            "marketing_analyst": Subject("marketing_analyst", {"team": "marketing"}),
        }

    def profile(self, name: str) -> Subject:
        return self.profiles[name]

    def _column(self, subject: Subject, column: Column) -> ColumnDecision:
        for origin in column.origins:
            inherited = self._column(subject, origin.column)
            if inherited.treatment == DENY and origin.safe is None:
                path = (column.name, *(inherited.path or (origin.column.name,)))
                return replace(inherited, column=column.name, path=path)
        semantic = column.attributes.get("semantic_type")
        if semantic is None:
            return ColumnDecision(column.name, DENY, None, "not classified: fail closed")
        if semantic == "mykad":
            return ColumnDecision(column.name, DENY, "national_id", "national ids are denied")
        if semantic == "amount" and subject.attributes.get("team") != "fraud":
            return ColumnDecision(
                column.name, Treatment("generalise", "band:1000"), "amounts", "marketing: bands"
            )
        return ColumnDecision(column.name, CLEAR, "amounts", "allowed")

    def decide(self, subject: Subject, resource: Resource, context: Context) -> Decision:
        columns = {c.name: self._column(subject, c) for c in resource.columns}
        allowed = any(c.treatment != DENY for c in columns.values())
        return Decision(
            decision_id=str(uuid.uuid4()),
            subject=subject.name,
            dataset=resource.dataset,
            outcome="allow" if allowed else "deny",
            columns=columns,
            decided_by="amounts" if allowed else "national_id",
            reason="fraud and marketing read cards" if allowed else "every column denied",
            matched=("amounts", "national_id"),
            unmet=() if allowed else ("team in [fraud, marketing]",),
            policy_versions=dict(self.versions),
            input_hash=input_hash(subject, resource, context),
        )


def _cards(*names: str) -> Resource:
    national_id = Column("national_id", {"sensitivity": "pii", "semantic_type": "mykad"})
    columns = {
        "amount": Column("amount", {"sensitivity": "confidential", "semantic_type": "amount"}),
        "national_id": national_id,
        "hashed_id": Column(
            "hashed_id",
            {"sensitivity": "internal", "semantic_type": "hash", "tags": ["derived"]},
            (Origin("silver_customer", national_id, "TRANSFORMATION"),),
        ),
        "merchant": Column("merchant"),
    }
    return Resource("card_transactions", {"zone": "curated"}, tuple(columns[n] for n in names))


def _trail(policies: FakePolicies) -> list:
    """Three questions and their answers, as the trail records them."""
    questions = [
        ("fraud_analyst", ("amount", "national_id"), MORNING),
        ("marketing_analyst", ("amount", "hashed_id", "merchant"), MORNING),
        ("marketing_analyst", ("national_id",), EVENING),
    ]
    entries = []
    for profile, columns, now in questions:
        subject, resource = policies.profile(profile), _cards(*columns)
        context = Context(now=now, environment="prod", attributes={"ticket": "SEC-1"})
        entries.append(
            audit_entry(subject, resource, context, policies.decide(subject, resource, context))
        )
    return entries


@pytest.fixture(params=["local", "aws"])
def audit_trail(request, tmp_path) -> AccessAuditTrail:
    if request.param == "local":
        return SQLiteAccessAuditTrail(tmp_path / "access_audit.db")
    endpoint = request.getfixturevalue("aws_endpoint")
    return DynamoAccessAuditTrail.create_table(
        "lake-access-audit", endpoint_url=endpoint, region=REGION
    )


def test_entries_are_appended_read_back_and_never_replaced(audit_trail):
    entries = _trail(FakePolicies())
    for entry in reversed(entries):
        audit_trail.append(entry)

    assert audit_trail.entries() == sorted(entries, key=lambda e: (e.at, e.decision_id))
    assert audit_trail.entries(since="2026-12-01T18:00:00+00:00") == [entries[2]]
    assert audit_trail.entries(since="2026-12-02T02:00:00+08:00") == [entries[2]]  # the same
    with pytest.raises(AuditConflict, match=entries[0].decision_id):
        audit_trail.append(replace(entries[0], outcome="allow", subject="someone else"))
    assert audit_trail.entries()[:2] == sorted(entries[:2], key=lambda e: e.decision_id)


def test_a_local_entry_cannot_be_changed_or_removed_even_in_sql(tmp_path):
    trail = SQLiteAccessAuditTrail(tmp_path / "access_audit.db")
    trail.append(_trail(FakePolicies())[0])
    with sqlite3.connect(trail.path) as db:
        for sql in ("UPDATE access_audit SET body = '{}'", "DELETE FROM access_audit"):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                db.execute(sql)


def test_an_entry_holds_the_question_and_its_answer():
    entry = _trail(FakePolicies())[1]
    assert (entry.subject, entry.dataset, entry.columns, entry.environment, entry.at) == (
        "marketing_analyst",
        "card_transactions",
        ("amount", "hashed_id", "merchant"),
        "prod",
        "2026-12-01T09:30:00+00:00",
    )
    assert (entry.outcome, entry.decided_by) == ("allow", "amounts")
    assert entry.policy_versions == {"amounts": "v1", "national_id": "v1"}
    assert entry.treatments == {
        "amount": "generalise(band:1000)",
        "hashed_id": "deny",
        "merchant": "deny",
    }
    assert entry.decision["columns"]["hashed_id"]["path"] == ["hashed_id", "national_id"]
    origin = entry.question["resource"]["columns"][1]["origins"][0]
    assert origin["column"]["attributes"]["semantic_type"] == "mykad"


def test_replay_reproduces_every_decision(tmp_path):
    policies = FakePolicies()
    trail = SQLiteAccessAuditTrail(tmp_path / "access_audit.db")
    for entry in _trail(policies):
        trail.append(entry)
    assert replay(trail.entries(), policies) == []


def test_replay_finds_a_tampered_answer_and_a_tampered_question():
    policies = FakePolicies()
    granted, rebanded, asked = _trail(policies)
    columns = {**rebanded.decision["columns"]}
    columns["amount"] = {**columns["amount"], "treatment": {"kind": "clear", "detail": None}}
    question = {**asked.question, "subject": {"name": "marketing_analyst", "attributes": {}}}
    tampered = [
        replace(granted, outcome="deny"),
        replace(rebanded, decision={**rebanded.decision, "columns": columns}),
        replace(asked, question=question),
    ]

    found = replay(tampered, policies)

    assert found[:2] == [
        Mismatch(granted.decision_id, "outcome", "deny", "allow"),
        Mismatch(rebanded.decision_id, "column amount", "clear", "generalise(band:1000)"),
    ]
    assert (found[2].decision_id, found[2].what, found[2].recorded) == (
        asked.decision_id,
        "question",
        asked.input_hash,
    )
    assert len(found) == 3


@pytest.mark.parametrize(
    "versions, named",
    [
        ({"amounts": "v2", "national_id": "v1"}, "amounts v1 then, v2 now"),
        ({"national_id": "v1"}, "amounts v1 then, absent now"),
        ({"amounts": "v1", "national_id": "v1", "new": "v1"}, "new absent then, v1 now"),
    ],
    ids=["changed", "removed", "added"],
)
def test_replay_refuses_other_policy_versions_and_names_them(versions, named):
    entries = _trail(FakePolicies())
    with pytest.raises(ReplayRefused) as refused:
        replay(entries, FakePolicies(versions))
    assert named in str(refused.value)
    assert set(refused.value.differences) == {e.decision_id for e in entries}
    assert "national_id" not in str(refused.value)  # its version is the same


# --- lake access ---------------------------------------------------------------------------------


def _classified(dataset: str, column: str, semantic_type: str, sensitivity: str) -> ColumnRecord:
    said = ColumnClassification(
        dataset, column, (), semantic_type, sensitivity, 0.95, "test", ("2026-03-01",) * 2
    )
    return ColumnRecord(dataset, column, automated=said)


@pytest.fixture
def access_lake(tmp_path, monkeypatch):
    """A local lake whose catalog publishes card_transactions (amount and national_id
    classified, merchant not) and classifies the customer master's national_id, asked under
    the project's policies (config/access)."""
    monkeypatch.setenv("LAKE_ROOT", str(tmp_path / "lake"))
    monkeypatch.delenv("LAKE_PROFILE", raising=False)
    stores = command_resources(load_settings())
    columns = {"amount": "decimal", "national_id": "string", "merchant": "string"}
    stores["catalog"].publish(
        PublishedPartition(
            "card_transactions", "2026-03-01", "curated/x/", "run-1", "t", 3, "v1", columns
        )
    )
    stores["classification"].write(
        "card_transactions",
        [
            _classified("card_transactions", "amount", "amount", "confidential"),
            _classified("card_transactions", "national_id", "mykad", "pii"),
        ],
    )
    stores["classification"].write(
        "customers", [_classified("customers", "national_id", "mykad", "pii")]
    )
    return stores


def _lake(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_check_explain_and_audit_on_the_command_line(access_lake, capsys):
    code, out, _ = _lake(capsys, "access", "check", "--as", "fraud_analyst", "card_transactions")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "fraud_analyst on card_transactions: ALLOW (decided by fraud-reads-the-lake)"
    assert lines[1].split() == ["amount", "clear", "fraud-reads-the-lake"]
    assert lines[2].split() == ["national_id", "deny", "national-id-never"]
    assert lines[3].split() == ["merchant", "deny", "-"]  # not classified: fail closed
    assert lines[4].startswith("decision ") and lines[4].endswith("(in the audit trail)")

    code, out, _ = _lake(capsys, "access", "check", "--as", "marketing_analyst",
                         "card_transactions", "--column", "national_id")  # fmt: skip
    assert code == 1
    assert out.splitlines()[0] == (
        "marketing_analyst on card_transactions: DENY (decided by national-id-never)"
    )
    assert out.splitlines()[1].startswith("  why: every column asked is denied")

    code, out, _ = _lake(capsys, "access", "explain", "--as", "marketing_analyst",
                         "card_transactions")  # fmt: skip
    assert code == 0
    lines = out.splitlines()
    assert lines[1:4] == [
        "  decided by: marketing-reads-customers-and-marts",
        "  why: allowed by marketing-reads-customers-and-marts; 1 of 3 columns readable",
        "  policies that matched: amounts-hidden-outside-fraud-and-audit, "
        "marketing-reads-customers-and-marts, marketing-sees-its-region-in-card-transactions, "
        "national-id-never",
    ]
    assert "  conditions not met:" in lines
    assert "    - card_transactions.merchant: not yet classified (no sensitivity)" in lines
    assert any(line.startswith("  column amount: null: ") for line in lines)

    # silver_customer.national_id copies the master's: it inherits the deny, and says from where.
    code, out, _ = _lake(capsys, "access", "explain", "--as", "fraud_analyst",
                         "silver_customer", "national_id")  # fmt: skip
    lines = out.splitlines()
    assert lines[0] == "fraud_analyst on silver_customer: DENY"
    assert lines[1] == "  decided by: national-id-never"
    assert "  column national_id: deny: inherits deny from customers.national_id" in out
    assert "    lineage: silver_customer.national_id <- customers.national_id" in lines

    # What the trail holds: the four answers above, in the order they were asked.
    code, out, _ = _lake(capsys, "access", "audit")
    assert code == 0
    assert [line.split()[2:6] for line in out.splitlines()] == [
        ["fraud_analyst", "on", "card_transactions:", "allow"],
        ["marketing_analyst", "on", "card_transactions:", "deny"],
        ["marketing_analyst", "on", "card_transactions:", "allow"],
        ["fraud_analyst", "on", "silver_customer:", "deny"],
    ]
    assert out.splitlines()[2].endswith("[amount null, national_id deny, merchant deny]")
    code, out, _ = _lake(capsys, "access", "audit", "--json")
    assert [e["columns"] for e in json.loads(out)][1] == ["national_id"]
    code, out, _ = _lake(capsys, "access", "audit", "--replay")
    assert (code, out) == (0, "replayed 4 decisions: every one reproduced\n")
    code, out, _ = _lake(capsys, "access", "audit", "--since", "2999-01-01")
    assert (code, out) == (0, "")

    # Someone with the file drops the guard and grants marketing the amounts: the replay says so.
    banded = access_lake["access_audit"].entries()[2]  # marketing: amount null
    forged = {
        **banded.decision["columns"]["amount"],
        "treatment": {"kind": "clear", "detail": None},
    }
    columns = {**banded.decision["columns"], "amount": forged}
    forged = replace(banded, decision={**banded.decision, "columns": columns})
    with sqlite3.connect(access_lake["access_audit"].path) as db:
        db.execute("DROP TRIGGER access_audit_no_update")
        db.execute(
            "UPDATE access_audit SET body = ? WHERE decision_id = ?",
            (json.dumps(forged.to_json()), banded.decision_id),
        )
    code, out, _ = _lake(capsys, "access", "audit", "--replay")
    assert (code, out.splitlines()) == (
        1,
        [
            "replayed 4 decisions: 1 differ",
            f"  {banded.decision_id}: column amount: recorded clear, replayed null",
        ],
    )


def test_command_line_errors_name_the_thing_and_what_exists(access_lake, capsys):
    code, _, err = _lake(capsys, "access", "check", "--as", "nobody", "card_transactions")
    assert code == 2
    assert "unknown profile 'nobody'; the policies' profiles: auditor, data_engineer, " in err
    code, _, err = _lake(capsys, "access", "explain", "--as", "fraud_analyst", "cards")
    assert code == 2
    assert (
        "unknown dataset 'cards'; the lake's datasets: card_transactions, crm_contacts, customers"
        in err
    )
    assert "silver_customer" in err and "gold_dim_customer" in err
    code, _, err = _lake(capsys, "access", "explain", "--as", "fraud_analyst",
                         "card_transactions", "amnt")  # fmt: skip
    assert code == 2
    assert (
        "card_transactions has no column 'amnt'; its columns: amount, national_id, merchant" in err
    )
    assert access_lake["access_audit"].entries() == []  # no question was answered


# Runs `lake` commands in a fresh interpreter, then says which of Dagster and PySpark they loaded.
COMMANDS_THEN_MODULES = """
import json, sys
from lake_assets.cli.main import main
codes = [main(argv) for argv in json.loads(sys.argv[1])]
print(json.dumps([codes, sorted(m for m in sys.modules if m.split(".")[0] in ("dagster", "pyspark"))]))
"""


def test_the_access_commands_load_neither_dagster_nor_spark(access_lake):
    commands = [
        ["access", "check", "--as", "auditor", "card_transactions", "--column", "amount"],
        ["access", "explain", "--as", "fraud_analyst", "card_transactions", "national_id"],
        ["access", "audit", "--replay"],
    ]
    alone = subprocess.run(
        [sys.executable, "-c", COMMANDS_THEN_MODULES, json.dumps(commands)],
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert alone.returncode == 0, alone.stderr
    assert json.loads(alone.stdout.splitlines()[-1]) == [[0, 0, 0], []]
    assert "replayed 2 decisions: every one reproduced" in alone.stdout
