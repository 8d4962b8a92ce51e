"""Bi-temporal SCD2: every case of the merge, the out-of-order policies and as-of queries.

Snapshots are published straight into a temporary lake's catalog (as promotion would publish
them), so these tests run the real apply path, catalog and Parquet, without the ingestion run.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest
from pyspark.sql import functions as F

from lake_assets.history.apply import (
    WHOLE_TABLE,
    AmbiguousSnapshot,
    apply_snapshots,
    current_history,
    history_dataset,
    read_manifest,
)
from lake_assets.history.ledger import OutOfOrderSnapshot, plan_apply
from lake_assets.history.merge import as_of, overlapping_versions
from lake_assets.runtime.jobs import run_job
from lake_assets.settings import HistoryConfig, SourceConfig
from lake_assets.tables.locations import published_location
from resources.catalog import PublishedPartition, SQLiteCatalog
from resources.storage import LocalStorage

COLUMNS = {
    "customer_id": "string",
    "segment": "string",
    "seq": "integer",
    "snapshot_date": "date",
    "_source_file": "string",
}
MON, TUE, WED, THU, FRI = "2026-03-02", "2026-03-03", "2026-03-04", "2026-03-05", "2026-03-06"
T0 = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


def source(policy="resequence", sequence=None) -> SourceConfig:
    return SourceConfig(
        source_id="customers",
        format="csv",
        event_time_field="snapshot_date",
        delivery="snapshot",
        history=HistoryConfig(keys=("customer_id",), sequence_field=sequence, out_of_order=policy),
    )


class History:
    """A lake with published snapshots and the history applied over them, step by step."""

    def __init__(self, root, spark, config: SourceConfig | None = None):
        self.spark, self.source = spark, config or source()
        self.storage = LocalStorage(root)
        self.catalog = SQLiteCatalog(root / "_state" / "catalog.db")
        self.clock = T0
        self.deliveries = 0

    def deliver(
        self, day: str, segments: dict[str, str | list[tuple[int, str]]], seq_type: str = "bigint"
    ) -> None:
        """Publish the snapshot of `day`: customer -> segment, or -> [(seq, segment), ...]."""
        self.deliveries += 1
        run = f"promote-{self.deliveries}"
        rows = []
        for customer, value in segments.items():
            for seq, segment in value if isinstance(value, list) else [(1, value)]:
                seq = float(seq) if seq_type == "double" else seq
                rows.append((customer, segment, seq, day, f"raw/{run}.csv"))
        location = published_location("customers", run, day)
        frame = self.spark.createDataFrame(
            rows,
            f"customer_id string, segment string, seq {seq_type}, snapshot_date string, "
            "_source_file string",
        ).selectExpr(
            "customer_id",
            "segment",
            "seq",
            "to_date(snapshot_date) AS snapshot_date",
            "_source_file",
        )
        frame.write.parquet(self.storage.uri(location))
        columns = {**COLUMNS, "seq": "double"} if seq_type == "double" else COLUMNS
        entry = PublishedPartition(
            "customers", day, location, run, self.clock.isoformat(), len(rows), "v1", columns
        )
        files = [i.key.rsplit("/", 1)[-1] for i in self.storage.list(location)]
        manifest = {
            **entry.__dict__,
            "inputs": [f"raw/{run}.csv"],
            "files": [name for name in files if name.endswith(".parquet")],
        }
        self.storage.put_bytes(location + "_manifest.json", json.dumps(manifest).encode())
        self.catalog.publish(entry)

    def apply(self, *days: str, **kwargs):
        self.clock += timedelta(hours=1)
        return apply_snapshots(
            partial(run_job, self.spark),
            self.catalog,
            self.storage,
            self.source,
            list(days),
            run_id=f"apply-{self.clock:%H}",
            clock=lambda: self.clock,
            **kwargs,
        )

    def rows(self) -> list[dict]:
        frame = current_history(self.spark, self.catalog, self.storage, "customers")
        # Spark hands back naive local times; make them comparable with the UTC clock.
        return [
            {k: v.astimezone(UTC) if isinstance(v, datetime) else v for k, v in r.asDict().items()}
            for r in frame.collect()
        ]

    def current(self, customer: str) -> list[tuple]:
        """The current belief about one customer: (valid_from, valid_to, segment, opened, closed)."""
        return sorted(
            (
                (
                    str(r["valid_from"]),
                    str(r["valid_to"]) if r["valid_to"] else None,
                    r["segment"],
                    r["opened_by"],
                    r["closed_by"],
                )
                for r in self.rows()
                if r["customer_id"] == customer and r["superseded_at"] is None
            ),
            key=lambda version: (version[0], version[1] or "open", version[2]),
        )

    def as_of(self, valid_at: str, known_at: datetime, customer: str | None = None) -> dict:
        frame = as_of(
            current_history(self.spark, self.catalog, self.storage, "customers"),
            valid_at,
            known_at,
            {"customer_id": customer} if customer else None,
        )
        return {r["customer_id"]: r["segment"] for r in frame.collect()}


@pytest.fixture
def history(tmp_path, spark):
    return History(tmp_path / "lake", spark)


def test_insert_update_unchanged_and_delete_are_versions(history):
    history.deliver(MON, {"C1": "retail", "C2": "retail", "C3": "sme"})
    first = history.apply(MON)
    assert (first.recorded, first.superseded, first.rows) == (3, 0, 3)
    history.deliver(TUE, {"C1": "premier", "C2": "retail"})  # C1 updated, C2 same, C3 gone
    second = history.apply(TUE)
    assert history.current("C1") == [
        (MON, TUE, "retail", "insert", "update"),
        (TUE, None, "premier", "update", None),
    ]
    assert history.current("C2") == [(MON, None, "retail", "insert", None)]
    # Deleted: soft-closed at the first snapshot without it, never removed.
    assert history.current("C3") == [(MON, TUE, "sme", "insert", "delete")]
    # C1 and C3's open rows are superseded (two rows), three rows recorded; C2 untouched.
    assert (second.recorded, second.superseded) == (3, 2)
    c2 = [r for r in history.rows() if r["customer_id"] == "C2"]
    assert len(c2) == 1 and c2[0]["recorded_at"] == T0 + timedelta(hours=1)


def test_rows_are_never_rewritten_only_superseded(history):
    history.deliver(MON, {"C1": "retail"})
    history.apply(MON)
    before = {
        (r["valid_from"], r["valid_to"], r["segment"], r["recorded_at"]) for r in history.rows()
    }
    history.deliver(TUE, {"C1": "premier"})
    history.apply(TUE)
    after = history.rows()
    # Every earlier row is still there with its content and recorded_at; only superseded_at set.
    assert before <= {
        (r["valid_from"], r["valid_to"], r["segment"], r["recorded_at"]) for r in after
    }
    superseded = [r for r in after if r["superseded_at"] is not None]
    assert [(str(r["valid_from"]), r["valid_to"]) for r in superseded] == [(MON, None)]


def test_reinstated_key_gets_a_new_version_after_its_gap(history):
    history.deliver(MON, {"C1": "retail", "C2": "sme"})
    history.deliver(TUE, {"C2": "sme"})
    history.deliver(WED, {"C2": "sme"})
    history.deliver(THU, {"C1": "retail", "C2": "sme"})
    for day in (MON, TUE, WED, THU):
        history.apply(day)
    assert history.current("C1") == [
        (MON, TUE, "retail", "insert", "delete"),
        (THU, None, "retail", "reinstate", None),
    ]
    assert history.as_of(WED, history.clock) == {"C2": "sme"}


def test_reinstatement_is_recognised_in_one_run_over_several_days(history):
    history.deliver(MON, {"C1": "retail"})
    history.deliver(TUE, {})
    history.deliver(WED, {"C1": "private"})
    history.apply(MON, TUE, WED)
    assert history.current("C1") == [
        (MON, TUE, "retail", "insert", "delete"),
        (WED, None, "private", "reinstate", None),
    ]


def test_same_day_updates_are_ordered_by_the_sequence_not_file_order(tmp_path, spark):
    history = History(tmp_path / "lake", spark, source(sequence="seq"))
    history.deliver(MON, {"C1": "retail"})
    history.apply(MON)
    # Three changes in one day, delivered out of sequence order: the last by sequence wins.
    history.deliver(TUE, {"C1": [(3, "private"), (1, "sme"), (2, "premier")]})
    history.apply(TUE)
    assert history.current("C1") == [
        (MON, TUE, "retail", "insert", "update"),
        (TUE, TUE, "premier", "update", "update"),  # held within the day only: zero width
        (TUE, TUE, "sme", "update", "update"),
        (TUE, None, "private", "update", None),
    ]
    zero_width = sorted(
        (r["seq"], r["segment"])
        for r in history.rows()
        if r["valid_from"] == r["valid_to"] and r["superseded_at"] is None
    )
    assert zero_width == [(1, "sme"), (2, "premier")]
    assert history.as_of(TUE, history.clock) == {"C1": "private"}


def test_several_rows_for_a_key_without_a_sequence_are_refused(history):
    history.deliver(MON, {"C1": [(1, "retail"), (2, "sme")], "C2": "retail"})
    with pytest.raises(AmbiguousSnapshot, match=r"2026-03-02 customer_id=C1 \(2 rows\)"):
        history.apply(MON)
    assert history.catalog.current(history_dataset("customers"), WHOLE_TABLE) is None


def test_rows_of_a_key_with_the_same_sequence_value_are_refused(tmp_path, spark):
    """ADR-0022 refuses a key's rows that nothing orders; with a sequence field, two rows with
    the same value of it were ordered by their hash instead: an arbitrary current version."""
    history = History(tmp_path / "lake", spark, source(sequence="seq"))
    history.deliver(MON, {"C1": [(7, "retail"), (7, "premier")], "C2": [(1, "sme"), (2, "retail")]})
    with pytest.raises(
        AmbiguousSnapshot,
        match=r"the same seq, so nothing orders them, e\.g\. 2026-03-02 customer_id=C1, seq=7 \(2 rows\)",
    ):
        history.apply(MON)
    assert history.catalog.current(history_dataset("customers"), WHOLE_TABLE) is None


def test_a_step_retried_in_its_run_after_a_busy_catalog_applies_once(history, monkeypatch):
    """A transient failure at the switch (SQLite busy, Glue throttled) makes Dagster retry the
    step in the same run (ADR-0156): the retry wrote to the folder the first try had left and
    failed the same way every time (PATH_ALREADY_EXISTS)."""
    import sqlite3

    history.deliver(MON, {"C1": "retail"})
    history.apply(MON)
    history.deliver(TUE, {"C1": "premier"})
    publish, busy = history.catalog.publish, []

    def busy_once(entry, expected_run_id=None):
        if not busy:
            busy.append(entry.location)
            raise sqlite3.OperationalError("database is locked")
        return publish(entry, expected_run_id)

    monkeypatch.setattr(history.catalog, "publish", busy_once)
    retried_step = dict(run_id="dagster-run-1", clock=lambda: history.clock)
    run = partial(run_job, history.spark)
    with pytest.raises(sqlite3.OperationalError):
        apply_snapshots(
            run, history.catalog, history.storage, history.source, [TUE], **retried_step
        )
    assert not list(history.storage.list(busy[0]))  # the failed try's folder is gone
    applied = apply_snapshots(
        run, history.catalog, history.storage, history.source, [TUE], **retried_step
    )
    assert applied.published.location != busy[0]
    assert [row[2] for row in history.current("C1")] == ["retail", "premier"]


def test_a_column_widened_since_the_last_apply_changes_no_unchanged_row(history):
    """A column widened by the registry (integer to double, ADR-0027) reads 1 as 1.0. The
    seeds kept the row hash made over the integer, so every key with a value there got an
    update on the first day of the wider type, though nothing about it changed."""
    history.deliver(MON, {"C1": "retail", "C2": "sme"})
    history.deliver(TUE, {"C1": "retail", "C2": "sme"})
    history.apply(MON, TUE)
    history.deliver(WED, {"C1": "retail", "C2": "premier"}, seq_type="double")
    applied = history.apply(WED)
    assert history.current("C1") == [(MON, None, "retail", "insert", None)]
    assert history.current("C2") == [
        (MON, WED, "sme", "insert", "update"),
        (WED, None, "premier", "update", None),
    ]
    assert (applied.recorded, applied.superseded) == (2, 1)


def test_reapplying_an_applied_snapshot_is_a_noop(history):
    history.deliver(MON, {"C1": "retail"})
    history.deliver(TUE, {"C1": "premier"})
    history.apply(MON, TUE)
    version = history.catalog.current(history_dataset("customers"), WHOLE_TABLE)
    again = history.apply(MON, TUE)
    assert again.published is None and again.plan.unchanged == (MON, TUE)
    assert history.catalog.current(history_dataset("customers"), WHOLE_TABLE) == version


def test_retroactive_correction_supersedes_only_the_amended_version(history):
    history.deliver(MON, {"C1": "retail", "C2": "sme"})
    history.deliver(TUE, {"C1": "premier", "C2": "sme"})
    history.deliver(WED, {"C1": "premier", "C2": "sme"})
    history.apply(MON, TUE, WED)
    believed_before_correction = history.clock
    # The source re-delivers Monday: C1 was actually "private" that day.
    history.deliver(MON, {"C1": "private", "C2": "sme"})
    corrected = history.apply(MON)
    assert corrected.plan.corrected == (MON,)
    assert history.current("C1") == [
        (MON, TUE, "private", "insert", "update"),
        (TUE, None, "premier", "update", None),
    ]
    rows = history.rows()
    # The old transaction-time record of Monday is closed, not deleted; the valid-time history
    # from Tuesday on (and C2 entirely) keeps its original rows.
    old_monday = [r for r in rows if r["customer_id"] == "C1" and r["segment"] == "retail"]
    assert [r["superseded_at"] for r in old_monday] == [history.clock]
    untouched = [r for r in rows if r["customer_id"] == "C2" or r["segment"] == "premier"]
    assert {r["recorded_at"] for r in untouched} == {T0 + timedelta(hours=1)}
    assert corrected.recorded == 1 and corrected.superseded == 1
    # Both questions: what was true on Monday, and what we believed about it before the fix.
    assert history.as_of(MON, history.clock, "C1") == {"C1": "private"}
    assert history.as_of(MON, believed_before_correction, "C1") == {"C1": "retail"}


def test_late_snapshot_is_resequenced_never_recorded_as_a_revert(history):
    history.deliver(MON, {"C1": "retail"})
    history.apply(MON)
    history.deliver(WED, {"C1": "private"})  # Wednesday's job ran before Tuesday's
    history.apply(WED)
    believed_without_tuesday = history.clock
    history.deliver(TUE, {"C1": "premier"})
    late = history.apply(TUE)
    assert late.plan.resequenced == (TUE,) and late.plan.dates == (TUE, WED)
    assert "out of order" in late.plan.notes[0]
    assert history.current("C1") == [
        (MON, TUE, "retail", "insert", "update"),
        (TUE, WED, "premier", "update", "update"),
        (WED, None, "private", "update", None),
    ]
    assert history.as_of(TUE, history.clock) == {"C1": "premier"}
    assert history.as_of(TUE, believed_without_tuesday) == {"C1": "retail"}


def test_resequenced_history_equals_the_history_of_in_order_delivery(tmp_path, spark):
    days = {
        MON: {"C1": "retail", "C2": "sme", "C3": "retail"},
        TUE: {"C1": "premier", "C3": "retail"},
        WED: {"C1": "premier", "C2": "sme", "C3": "private"},
        THU: {"C2": "retail", "C3": "private"},
    }
    in_order, shuffled = History(tmp_path / "a", spark), History(tmp_path / "b", spark)
    for day, snapshot in days.items():
        in_order.deliver(day, snapshot)
        in_order.apply(day)
    for day in (THU, MON, WED, TUE):
        shuffled.deliver(day, days[day])
        shuffled.apply(day)
    for customer in ("C1", "C2", "C3"):
        assert shuffled.current(customer) == in_order.current(customer)
    history = current_history(spark, shuffled.catalog, shuffled.storage, "customers")
    assert overlapping_versions(history, ["customer_id"]) == 0
    # The check does find a broken history: a second open version of C3, from Thursday.
    c3 = history.where("customer_id = 'C3' AND valid_to IS NULL AND superseded_at IS NULL")
    broken = history.unionByName(c3.withColumn("valid_from", F.lit(THU).cast("date")))
    assert overlapping_versions(broken, ["customer_id"]) == 1


def test_reject_policy_refuses_the_late_snapshot_and_keeps_the_history(tmp_path, spark):
    history = History(tmp_path / "lake", spark, source(policy="reject"))
    history.deliver(MON, {"C1": "retail"})
    history.deliver(WED, {"C1": "private"})
    history.apply(MON, WED)
    version = history.catalog.current(history_dataset("customers"), WHOLE_TABLE)
    history.deliver(TUE, {"C1": "premier"})
    with pytest.raises(OutOfOrderSnapshot, match="2026-03-03 arrived after 2026-03-04"):
        history.apply(TUE)
    assert history.catalog.current(history_dataset("customers"), WHOLE_TABLE) == version
    assert TUE not in read_manifest(history.storage, version)["applied"]


def test_ledger_records_each_applied_snapshot(history):
    history.deliver(MON, {"C1": "retail"})
    history.deliver(TUE, {"C1": "retail"})
    applied = history.apply(MON, TUE)
    ledger = read_manifest(history.storage, applied.published)["applied"]
    assert sorted(ledger) == [MON, TUE]
    assert ledger[MON]["run_id"] == applied.published.run_id.split("/")[0]


def test_concurrent_apply_loses_the_race_and_replans(history, monkeypatch):
    history.deliver(MON, {"C1": "retail"})
    history.apply(MON)
    history.deliver(TUE, {"C1": "premier"})
    history.deliver(WED, {"C1": "private"})
    publish = history.catalog.publish
    calls = []

    def a_rival_publishes_first(entry, expected_run_id=None):
        if not calls:  # another worker applies Wednesday between our read and our switch
            calls.append("rival")
            monkeypatch.setattr(history.catalog, "publish", publish)
            history.apply(WED)
            monkeypatch.setattr(history.catalog, "publish", a_rival_publishes_first)
        return publish(entry, expected_run_id)

    monkeypatch.setattr(history.catalog, "publish", a_rival_publishes_first)
    result = history.apply(TUE)
    assert result.attempts == 2 and result.plan.resequenced == (TUE,)
    assert [row[2] for row in history.current("C1")] == ["retail", "premier", "private"]


@pytest.mark.parametrize(
    ("applied", "incoming", "policy", "expected"),
    [
        ({}, {MON: "a"}, "reject", {"appended": (MON,), "dates": (MON,)}),
        ({MON: "a"}, {MON: "a"}, "reject", {"unchanged": (MON,), "dates": ()}),
        ({MON: "a", WED: "c"}, {MON: "x"}, "reject", {"corrected": (MON,), "dates": (MON, WED)}),
        ({MON: "a", WED: "c"}, {TUE: "b"}, "reject", {"rejected": (TUE,), "dates": ()}),
        (
            {MON: "a", WED: "c"},
            {TUE: "b"},
            "resequence",
            {"resequenced": (TUE,), "dates": (TUE, WED)},
        ),
        ({MON: "a"}, {MON: "a", TUE: "b"}, "reject", {"appended": (TUE,), "dates": (TUE,)}),
    ],
)
def test_plan_apply_decisions(applied, incoming, policy, expected):
    plan = plan_apply(applied, incoming, policy)
    for name, value in expected.items():
        assert getattr(plan, name) == value


def test_source_config_rejects_history_on_an_event_source(tmp_path):
    from lake_assets.settings import ConfigError, load_sources

    path = tmp_path / "sources.yaml"
    path.write_text(
        "sources:\n  cards:\n    format: json\n    event_time_field: d\n    history: {keys: [id]}\n"
    )
    with pytest.raises(ConfigError, match=r"sources.cards.history: history is kept for snapshot"):
        load_sources(path)
    path.write_text(
        "sources:\n  c:\n    format: csv\n    event_time_field: d\n    delivery: snapshot\n"
        "    history: {keys: [id], out_of_order: ignore}\n"
    )
    with pytest.raises(ConfigError, match="history.out_of_order: must be resequence or reject"):
        load_sources(path)
