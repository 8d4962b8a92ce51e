"""Operator decisions on one raw object (issue 9, item 7), without Spark or Dagster."""

from __future__ import annotations

import pytest

from lake_assets.cli.main import main as lake_main
from lake_assets.ingestion.raw_decisions import (
    RawDecisionRefused,
    confirm_empty,
    restore,
    set_aside,
)
from lake_assets.ingestion.raw_zone import RawFile
from resources.notifier import LocalNotifier
from resources.registry_store import SQLiteRegistryStore

KEY = "raw/source=customers/ingest_date=2026-03-02/20260302T000000000000Z-ab-c.csv"


@pytest.fixture
def registry(tmp_path):
    store = SQLiteRegistryStore(tmp_path / "lake" / "_state" / "registry.db")
    store.put_raw_file(
        RawFile("customers", KEY, "e1", "2026-03-02", 10, "HELD_EMPTY", "2026-03-02T01:00:00")
    )
    return store


def test_set_aside_and_restore_keep_the_trail_and_the_earlier_status(registry, tmp_path):
    notifier = LocalNotifier(tmp_path / "alerts.jsonl")
    aside = set_aside(registry, notifier, "customers", KEY, "producer disowned it", "ana")
    assert (aside.status, aside.reason) == ("SET_ASIDE", "producer disowned it")
    assert [a.kind for a in notifier.alerts()] == ["raw.set_aside"]
    back = restore(registry, "customers", KEY, "bob")
    assert back.status == "HELD_EMPTY"  # where the set-aside found it
    assert [(d["action"], d["by"]) for d in back.decisions] == [
        ("set-aside", "ana"),
        ("restore", "bob"),
    ]
    assert registry.get_raw_file("customers", KEY) == back
    assert confirm_empty(registry, "customers", KEY, "bob").status == "PROFILED"


def test_decisions_that_do_not_apply_are_refused_with_the_reason(registry, tmp_path):
    notifier = LocalNotifier(tmp_path / "alerts.jsonl")
    with pytest.raises(RawDecisionRefused, match="HELD_EMPTY; restore applies to SET_ASIDE"):
        restore(registry, "customers", KEY, "bob")
    with pytest.raises(RawDecisionRefused, match="needs a reason"):
        set_aside(registry, notifier, "customers", KEY, " ", "bob")
    with pytest.raises(LookupError, match="no raw object 'raw/nope'"):
        set_aside(registry, notifier, "customers", "raw/nope", "x", "bob")


def test_lake_raw_commands(registry, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LAKE_ROOT", str(tmp_path / "lake"))
    assert lake_main(["raw", "list", "customers"]) == 0
    assert "HELD_EMPTY" in capsys.readouterr().out
    argv = ["raw", "set-aside", "customers", KEY, "--reason", "dup", "--by", "ana"]
    assert lake_main(argv) == 0
    assert "SET_ASIDE by ana" in capsys.readouterr().out
    assert lake_main(["raw", "list", "customers", "--status", "SET_ASIDE"]) == 0
    listed = capsys.readouterr().out
    assert "SET_ASIDE" in listed and "by ana" in listed and "dup" in listed
    assert lake_main(["raw", "confirm-empty", "customers", KEY]) == 2  # refused: set aside
    assert "confirm-empty applies to HELD_EMPTY" in capsys.readouterr().err
