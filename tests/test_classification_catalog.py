"""Classification kept current in the catalog (issue 12), on the local store and on Glue.

The classifier is a stand-in here (its own tests measure its accuracy): what is tested is what
the service does around it, so each test runs against SQLite and against Glue + DynamoDB on the
moto server, without Spark.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import replace

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lake_assets.classification.adapter import Classifier
from lake_assets.classification.cli import row
from lake_assets.classification.drift import Drift
from lake_assets.classification.model import Candidate, ColumnClassification
from lake_assets.classification.service import DRIFT_ALERT, ClassificationService
from lake_assets.tables.manifest import write_manifest
from resources.aws.clients import ensure_table
from resources.aws.glue import GlueCatalog
from resources.aws.glue_classification import HIGHEST, GlueClassificationStore
from resources.aws.s3 import S3Storage
from resources.catalog import PublishedPartition, SQLiteCatalog
from resources.classification_store import SQLiteClassificationStore
from resources.notifier import LocalNotifier
from resources.storage import LocalStorage

REGION, BUCKET, FILES = "eu-west-1", "lake-classify", "lake-files"
IC = re.compile(r"\b\d{6}-?\d{2}-?\d{4}\b")
SENSITIVITY = {"mykad": "pii", "email": "pii", "free_text": "internal", "amount": "confidential"}


def _share(values) -> float:
    present = [v for v in values if v is not None]
    return sum(bool(IC.search(str(v))) for v in present) / max(len(present), 1)


def _classify(dataset, sample, partitions, columns, profiles):
    found = []
    for column in columns:
        share = _share(sample[column].to_pylist())
        kind = (
            "mykad"
            if share >= 0.02
            else "amount"
            if pa.types.is_floating(sample.schema.field(column).type)
            else "free_text"
        )
        found.append(
            ColumnClassification(
                dataset=dataset,
                column=column,
                candidates=(Candidate(kind, 0.9, {"format.mykad": round(share, 4)}),),
                semantic_type=kind,
                sensitivity=SENSITIVITY[kind],
                confidence=0.9,
                classifier_version="stand-in-1",
                partitions=partitions,
            )
        )
    return found


def _drift(baseline: dict, now: dict) -> Drift | None:
    moved = abs(now["mykad"] - baseline["mykad"]) >= 0.02
    return Drift("notes", "format.mykad", baseline["mykad"], now["mykad"], 0.02) if moved else None


def _sensitivity_of(kind: str) -> str:
    if kind not in SENSITIVITY:
        raise KeyError(f"unknown semantic type {kind!r}; known: {', '.join(sorted(SENSITIVITY))}")
    return SENSITIVITY[kind]


STAND_IN = Classifier(
    version="stand-in-1",
    sample=lambda table: table,
    profile=lambda t: {c: {"mykad": _share(t[c].to_pylist())} for c in t.column_names},
    drift=_drift,
    classify=_classify,
    sensitivity_of=_sensitivity_of,
)


class Backend:
    def __init__(self, catalog, storage, store, notifier):
        self.catalog, self.storage, self.store, self.notifier = catalog, storage, store, notifier
        self.service = ClassificationService(catalog, storage, store, notifier, STAND_IN)

    def publish(self, partition: str, rows: dict, dataset: str = "support_tickets") -> None:
        location = f"curated/{dataset}/run-{partition}/event_date={partition}/"
        sink = io.BytesIO()
        pq.write_table(pa.table(rows), sink)
        self.storage.put_bytes(location + "part-0.parquet", sink.getvalue())
        write_manifest(self.storage, location, {"files": ["part-0.parquet"]})
        kinds = {c: "double" if isinstance(v[0], float) else "string" for c, v in rows.items()}
        self.catalog.publish(
            PublishedPartition(
                dataset,
                partition,
                location,
                f"run-{partition}",
                "2026-03-02T00:00:00+00:00",
                len(next(iter(rows.values()))),
                "v1",
                kinds,
            )
        )


def aws_backend(endpoint: str, tmp_path) -> Backend:
    boto3.client("s3", endpoint_url=endpoint, region_name=REGION).create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    dynamo = boto3.client("dynamodb", endpoint_url=endpoint, region_name=REGION)
    ensure_table(dynamo, FILES, "source_id", "key")
    catalog = GlueCatalog("lake_classify", BUCKET, endpoint_url=endpoint, region=REGION)
    catalog.ensure_database()
    store = GlueClassificationStore(catalog, FILES, endpoint_url=endpoint, region=REGION)
    storage = S3Storage(BUCKET, endpoint_url=endpoint, region=REGION)
    return Backend(catalog, storage, store, LocalNotifier(tmp_path / "alerts.jsonl"))


@pytest.fixture(params=["local", "aws"])
def backend(request, tmp_path) -> Backend:
    if request.param == "aws":
        return aws_backend(request.getfixturevalue("aws_endpoint"), tmp_path)
    return Backend(
        SQLiteCatalog(tmp_path / "catalog.db"),
        LocalStorage(tmp_path / "lake"),
        SQLiteClassificationStore(tmp_path / "classification.db"),
        LocalNotifier(tmp_path / "alerts.jsonl"),
    )


def _notes(ic_every: int | None, rows: int = 100) -> list[str]:
    return [
        f"customer called about card, IC 900101-14-{5000 + i:04d}"
        if ic_every and i % ic_every == 0
        else f"customer called about card {i}"
        for i in range(rows)
    ]


def test_a_publish_classifies_only_new_and_drifted_columns(backend: Backend):
    service, amounts = backend.service, [float(i) for i in range(100)]
    with pytest.raises(LookupError, match=r"support_tickets\[2026-03-02\] is not published"):
        service.classify_partition("support_tickets", "2026-03-02")

    backend.publish("2026-03-02", {"notes": _notes(None), "amount": amounts})
    first = service.classify_partition("support_tickets", "2026-03-02")
    assert first.new_columns == ("notes", "amount") and set(first.written) == {"notes", "amount"}
    assert service.pending("support_tickets") == []

    # The same values again: nothing classified, nothing written, no alert.
    backend.publish("2026-03-03", {"notes": _notes(None), "amount": amounts})
    assert service.pending("support_tickets") == ["2026-03-03"]
    quiet = service.classify_partition("support_tickets", "2026-03-03")
    assert (quiet.classified, quiet.written, quiet.drifted) == ((), (), {})
    # Even `lake classify` (everything) writes nothing when the evidence is the same.
    assert (
        service.classify_partition("support_tickets", "2026-03-03", everything=True).written == ()
    )

    # A new schema version adds `email`; operators start pasting IC numbers into notes (4%).
    backend.publish(
        "2026-03-04",
        {"notes": _notes(25), "amount": amounts, "email": ["a@b.my"] * 100},
    )
    drift = service.classify_partition("support_tickets", "2026-03-04")
    assert drift.new_columns == ("email",)
    assert drift.drifted == {"notes": Drift("notes", "format.mykad", 0.0, 0.04, 0.02)}
    assert {c.column for c in drift.classified} == {"email", "notes"}  # amount not re-read
    notes = backend.store.columns("support_tickets")["notes"].current
    assert (notes.semantic_type, notes.sensitivity, notes.partitions) == (
        "mykad",
        "pii",
        ("2026-03-04", "2026-03-04"),
    )
    [alert] = backend.notifier.alerts()
    assert alert.kind == DRIFT_ALERT
    assert {k: alert.detail[k] for k in ("dataset", "column", "partition", "share")} == {
        "dataset": "support_tickets",
        "column": "notes",
        "partition": "2026-03-04",
        "share": 0.04,
    }
    assert "support_tickets.notes drifted in partition 2026-03-04" in alert.subject
    assert "0.0% -> 4.0%" in alert.subject


def test_an_operators_decision_is_never_overwritten(backend: Backend):
    service = backend.service
    backend.publish("2026-03-02", {"notes": _notes(None), "amount": [1.0] * 100})
    service.classify_partition("support_tickets", "2026-03-02")
    with pytest.raises(LookupError, match="support_tickets has no column 'note'"):
        service.decide("support_tickets", "note", "free_text", "typo")
    with pytest.raises(ValueError, match="unknown semantic type 'freetext'"):
        service.decide("support_tickets", "notes", "freetext", "typo")
    with pytest.raises(LookupError, match="unknown dataset 'tickets'"):
        service.decide("tickets", "notes", "free_text", "typo")

    service.decide("support_tickets", "notes", "free_text", "agents' notes, reviewed by DPO")
    backend.publish("2026-03-03", {"notes": _notes(20), "amount": [1.0] * 100})
    run = service.classify_partition("support_tickets", "2026-03-03")

    record = backend.store.columns("support_tickets")["notes"]
    assert (record.current.semantic_type, record.current.decided_by) == ("free_text", "operator")
    assert record.current.reason == "agents' notes, reviewed by DPO"
    assert record.automated.semantic_type == "mykad"  # automation's opinion, kept beside it
    assert run.disagreements["notes"].startswith("automation now says mykad (0.90")
    assert "the operator decided free_text" in run.disagreements["notes"]


def test_an_operators_decision_made_during_a_run_is_kept(backend: Backend, monkeypatch):
    """`lake classify set` lands after a run read the store and before it writes: the run
    writes only automation's opinion, and the decision it finds at write time stays."""
    service = backend.service
    backend.publish("2026-03-02", {"notes": _notes(None), "amount": [1.0] * 100})
    service.classify_partition("support_tickets", "2026-03-02")
    backend.publish("2026-03-03", {"notes": _notes(20), "amount": [1.0] * 100})  # drifts
    write = backend.store.write

    def decided_meanwhile(dataset, records, *, keep_decisions=False):
        if keep_decisions:  # the run's write
            service.decide("support_tickets", "notes", "mykad", "DPO: IC numbers pasted here")
        return write(dataset, records, keep_decisions=keep_decisions)

    monkeypatch.setattr(backend.store, "write", decided_meanwhile)
    service.classify_partition("support_tickets", "2026-03-03")
    record = backend.store.columns("support_tickets")["notes"]
    assert (record.current.decided_by, record.current.reason) == (
        "operator",
        "DPO: IC numbers pasted here",
    )
    assert record.automated.partitions == ("2026-03-03", "2026-03-03")  # the run's, written


def test_automation_tightens_a_column_at_once_but_only_an_operator_relaxes_it(backend: Backend):
    """A day whose sample looks harmless must not unmask a column: automation's opinion that
    would open a column to more readers sends it to review (denied to every reader) instead."""
    service = backend.service
    backend.publish("2026-03-02", {"notes": _notes(None)})
    service.classify_partition("support_tickets", "2026-03-02")
    backend.publish("2026-03-03", {"notes": _notes(25)})  # IC numbers pasted: tightened at once
    service.classify_partition("support_tickets", "2026-03-03")
    assert backend.store.columns("support_tickets")["notes"].current.sensitivity == "pii"

    backend.publish("2026-03-04", {"notes": _notes(None)})  # a day without any
    quiet = service.classify_partition("support_tickets", "2026-03-04")
    assert quiet.drifted["notes"].observed == 0.0 and quiet.review == ("notes",)
    held = backend.store.columns("support_tickets")["notes"].current
    assert (held.semantic_type, held.sensitivity, held.decided_by) == (None, None, "classifier")
    assert held.reason == (
        "automation would change it from mykad (pii) to free_text (internal): an operator "
        "decides (lake classify set)"
    )
    assert held.candidates[0].semantic_type == "free_text"  # what automation saw, kept
    # `lake catalog show` says why, which is what the operator is asked to decide.
    shown = row("notes", backend.store.columns("support_tickets")["notes"])
    assert shown.split()[:3] == ["notes", "REVIEW", "-"] and shown.endswith(held.reason)
    alert = backend.notifier.alerts()[-1]
    assert alert.subject.endswith("reclassified as needs review")
    assert alert.detail["reason"] == held.reason
    # Another harmless day: still held, however sure automation is.
    backend.publish("2026-03-05", {"notes": _notes(None, rows=50)})
    service.classify_partition("support_tickets", "2026-03-05", everything=True)
    assert backend.store.columns("support_tickets")["notes"].current.needs_review

    service.decide("support_tickets", "notes", "free_text", "the pasted numbers were purged")
    record = backend.store.columns("support_tickets")["notes"]
    assert (record.current.semantic_type, record.current.sensitivity) == ("free_text", "internal")


def test_a_type_access_treats_apart_is_held_a_label_given_on_no_evidence_is_not(backend: Backend):
    """mykad is denied and phone or bank_account tokenised (config/access/columns.yaml): a change
    between two pii types opens the column too. A first day without values labels nothing, and
    the first label given on values applies at once."""
    said = iter([("", None), ("mykad", "pii"), ("bank_account", "pii"), ("mykad", "pii")])

    def opinions(dataset, sample, partitions, columns, profiles):
        kind, sensitivity = next(said)
        evidence = (Candidate(kind, 0.9, {}),) if kind else ()
        return [ColumnClassification(dataset, "ref", evidence, kind or None, sensitivity,
                                     0.9 if kind else 0.0, "stand-in-1", partitions)]  # fmt: skip

    moved = Drift("ref", "format.mykad", 0.0, 1.0, 0.0)
    service = ClassificationService(
        backend.catalog, backend.storage, backend.store, backend.notifier,
        replace(STAND_IN, classify=opinions, drift=lambda baseline, now: moved),
    )  # fmt: skip
    current = []
    for day in ("2026-03-02", "2026-03-03", "2026-03-04", "2026-03-05"):
        backend.publish(day, {"ref": ["900101-14-5001"] * 10})
        service.classify_partition("support_tickets", day)
        current.append(backend.store.columns("support_tickets")["ref"].current)
    assert [c.semantic_type for c in current] == [None, "mykad", None, None]
    assert current[2].reason == (
        "automation would change it from mykad (pii) to bank_account (pii): an operator "
        "decides (lake classify set)"
    )


def test_a_baseline_too_small_to_judge_drift_is_outgrown_quietly(backend: Backend):
    service = ClassificationService(
        backend.catalog, backend.storage, backend.store, backend.notifier,
        replace(STAND_IN, outgrows=lambda baseline, now: True),
    )  # fmt: skip
    backend.publish("2026-03-02", {"notes": _notes(None)})
    service.classify_partition("support_tickets", "2026-03-02")
    backend.publish("2026-03-03", {"notes": _notes(None)})
    again = service.classify_partition("support_tickets", "2026-03-03")
    assert [c.column for c in again.classified] == ["notes"] and again.drifted == {}
    assert backend.notifier.alerts() == []


def test_glue_holds_the_classification_and_is_written_only_on_change(aws_endpoint, tmp_path):
    glue = boto3.client("glue", endpoint_url=aws_endpoint, region_name=REGION)

    def table():
        return glue.get_table(DatabaseName="lake_classify", Name="support_tickets")["Table"]

    aws = aws_backend(aws_endpoint, tmp_path)
    aws.publish("2026-03-02", {"notes": _notes(10), "amount": [1.0] * 100})
    aws.service.classify_partition("support_tickets", "2026-03-02")
    written = table()
    columns = {c["Name"]: c.get("Parameters", {}) for c in written["StorageDescriptor"]["Columns"]}
    assert columns["notes"]["classification.semantic_type"] == "mykad"
    assert columns["notes"]["classification.sensitivity"] == "pii"
    assert columns["notes"]["classification.partitions"] == "2026-03-02..2026-03-02"
    assert columns["amount"]["classification.sensitivity"] == "confidential"
    assert written["Parameters"][HIGHEST] == "pii"

    # Classified again with the same evidence: no UpdateTable, so the table keeps its version.
    assert aws.service.classify_partition("support_tickets", "2026-03-02", True).written == ()
    assert table()["VersionId"] == written["VersionId"]
    # A later publish that widens nothing keeps the columns' classification.
    aws.publish("2026-03-03", {"notes": _notes(10), "amount": [1.0] * 100})
    kept = {c["Name"]: c for c in table()["StorageDescriptor"]["Columns"]}
    assert kept["notes"]["Parameters"]["classification.semantic_type"] == "mykad"


def test_lake_classify_and_catalog_show(local_lake, capsys):
    from lake_assets.cli.main import main

    _, resources = local_lake
    keys = ("catalog", "storage", "classification", "notifier")
    Backend(*(resources[k] for k in keys)).publish(
        "2026-03-02", {"notes": _notes(25), "amount": [float(i) for i in range(100)]}
    )

    def lake(*argv: str) -> tuple[int, str]:
        code = main(list(argv))
        out = capsys.readouterr()
        return code, out.out + out.err

    code, out = lake("classify", "support_tickets")
    assert (code, out.splitlines()[0]) == (
        0, "support_tickets[2026-03-02]: 2 columns classified, 2 changed in the catalog",
    )  # fmt: skip
    code, out = lake("classify", "set", "support_tickets.notes", "free_text", "--reason", "DPO ok")
    assert code == 0 and "free_text (internal), decided by the operator: DPO ok" in out
    assert "automation now says mykad" in out

    code, out = lake("catalog", "show", "support_tickets")
    [notes] = [line for line in out.splitlines() if line.startswith("notes")]
    assert notes.split()[:4] == ["notes", "free_text", "internal", "1.00"]
    assert "operator: DPO ok" in notes and "! automation now says mykad" in out
    code, out = lake("catalog", "show", "support_tickets", "--explain", "notes")
    assert "decided by operator: DPO ok" in out and "  1. mykad" in out
    assert "embedded.mykad=0.04" in out
    code, out = lake("catalog", "show", "support_tickets", "--json")
    body = json.loads(out)
    assert body["columns"]["notes"]["decision"]["semantic_type"] == "free_text"
    assert body["columns"]["amount"]["automated"]["sensitivity"] == "confidential"

    assert lake("catalog", "show", "tickets") == (
        2, "lake: error: unknown dataset 'tickets': nothing of it is published\n",
    )  # fmt: skip
    code, out = lake("catalog", "show", "support_tickets", "--explain", "note")
    assert (code, out) == (
        2, "lake: error: support_tickets has no column 'note'; its columns: notes, amount\n",
    )  # fmt: skip
