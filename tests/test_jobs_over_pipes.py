"""Compaction's rewrite, the spend_by_customer mart and `lake lateness` as registered Spark jobs:
planned by the orchestrator, run by whichever Spark runner the profile has, audited and
published by the orchestrator. Over Pipes (a subprocess running the remote entry point) each
job returns what it returns in-process."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from dagster import AssetExecutionContext, asset, materialize
from lake_harness import card, failure_message

from lake_assets.cli import main
from lake_assets.ingestion.intake import land_payload

CARDS = "card_transactions"


def land_cards(lake, day: str, numbers, event_day: str, landed: datetime) -> None:
    """Cards of `event_day` landed at `landed` (a fixed instant: lateness is measured from it)."""
    path = lake.root.parent / "incoming" / f"{day}-{numbers[0]}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(card(n, event_day)) + "\n" for n in numbers))
    source = lake.settings.source(CARDS)
    land_payload(lake.storage, source, path, day, landed, registry=lake.registry)


def late_cards(lake) -> None:
    """Cards of 2026-03-02 landed that evening, and some of 03-02 and 03-03 landed on 03-04."""
    land_cards(lake, "2026-03-02", range(0, 6), "2026-03-02", datetime(2026, 3, 2, 23, tzinfo=UTC))
    land_cards(lake, "2026-03-04", range(6, 9), "2026-03-02", datetime(2026, 3, 4, 6, tzinfo=UTC))
    land_cards(lake, "2026-03-04", range(9, 11), "2026-03-03", datetime(2026, 3, 4, 7, tzinfo=UTC))
    for day in ("2026-03-02", "2026-03-04"):
        assert lake.profile(CARDS, day).success
    promoted = lake.promote(CARDS, "2026-03-02", "2026-03-04")
    assert promoted.success, failure_message(promoted)


def test_lake_lateness_prints_the_report(lake, monkeypatch, capsys):
    late_cards(lake)
    monkeypatch.setenv("LAKE_ROOT", str(lake.root))
    monkeypatch.setenv("LAKE_CONTRACTS_DIR", str(lake.settings.contracts_dir))

    assert main(["lateness", CARDS]) == 0

    assert capsys.readouterr().out == (
        f"{CARDS}: 11 published records; lateness p50 21.8 h, p95 47.8 h, p99 47.8 h\n"
        "  records by days late: 0 d: 6, 1 d: 2, 2 d: 3\n"
        "  a lookback of 2 days would have caught 99% of them (configured: 3)\n"
    )
