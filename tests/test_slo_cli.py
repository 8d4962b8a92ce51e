"""`lake slo status` and `lake slo explain` on an empty lake: every declared SLO listed with its
tier and status, nothing measured yet, and an unknown SLO refused by name; the `slo` job run
through Dagster across evaluations."""

from __future__ import annotations

import json

import pytest

from lake_assets.cli.main import main
from lake_assets.settings import load_settings
from lake_assets.slo.service import evaluate_lake, lake_slos


@pytest.fixture
def empty_lake(tmp_path, monkeypatch):
    monkeypatch.setenv("LAKE_ROOT", str(tmp_path / "lake"))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)  # an ephemeral instance: no runs


def test_status_lists_every_slo_with_its_tier_and_status(empty_lake, capsys):
    assert main(["slo", "status", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    declared = {slo.id: slo.tier for slo in lake_slos(load_settings())}
    assert {s["id"]: s["tier"] for s in document["slos"]} == declared
    # Nothing has run: no SLO has an event, none spent budget, nothing is open.
    assert {s["status"] for s in document["slos"]} == {"no_data"}
    assert {s["budget_remaining"] for s in document["slos"]} == {1.0}
    assert document["open_incidents"] == []
    # Each names its objective and window as declared (the tier's default where it says none).
    by_id = {s["id"]: s for s in document["slos"]}
    assert (
        by_id["card_transactions.quality"]["objective"],
        by_id["crm_contacts.latency"]["window_days"],
    ) == (0.995, 28)


def test_explain_prints_the_objective_and_that_nothing_burned(empty_lake, capsys):
    assert main(["slo", "explain", "card_transactions.quality"]) == 0
    out = capsys.readouterr().out
    assert "card_transactions.quality: quality of card_transactions, objective 99.500%" in out
    assert "over 30 days (regulatory)" in out
    assert "nothing burned the budget" in out or "not measured" in out


def test_explain_refuses_an_unknown_slo_naming_the_known(empty_lake, capsys):
    assert main(["slo", "explain", "nope"]) == 2
    err = capsys.readouterr().err
    assert "no SLO 'nope' in config/slo/" in err and "card_transactions.freshness" in err


def test_the_slo_tables_are_queryable_like_any_table(empty_lake, capsys):
    """What an evaluation publishes is read with `lake query`, under the access policies."""
    from datetime import UTC, datetime

    from dagster import DagsterInstance

    from resources import build_resources

    settings = load_settings()
    at = datetime.now(UTC)
    evaluate_lake(settings, build_resources(settings), DagsterInstance.ephemeral(), at, "run-1")
    sql = "SELECT slo_id, tier, status FROM slo_status WHERE slo_id LIKE 'card%' ORDER BY slo_id"
    assert main(["query", "--as", "marketing_analyst", sql]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()[2:]]
    assert rows == [
        [f"card_transactions.{sli}", "regulatory", "no_data"]
        for sli in ("completeness", "freshness", "quality", "success")
    ] + [["(4", "rows)"]]


def test_a_past_days_evaluation_publishes_its_tables_and_alerts_nothing(empty_lake):
    """A backfill of slo/evaluation for a past day: that day's tables, as of its end; the
    alerting state (which follows the present) and the dashboard untouched."""
    from datetime import UTC, datetime

    from dagster import DagsterInstance

    from lake_assets.slo.model import STATUS_DATASET
    from lake_assets.slo.service import STATE_KEY
    from lake_assets.slo.site import DASHBOARD_KEY
    from lake_assets.tables.reader import read_version_arrow
    from resources import build_resources

    settings = load_settings()
    resources = build_resources(settings)
    at = datetime(2026, 11, 20, tzinfo=UTC)
    instance = DagsterInstance.ephemeral()
    evaluation = evaluate_lake(settings, resources, instance, at, "run-1", live=False)
    assert evaluation.sent == () and evaluation.dashboard == ""
    published = resources["catalog"].current(STATUS_DATASET, "2026-11-20")
    rows = read_version_arrow(resources["storage"], published).to_pylist()
    assert {r["evaluated_at"] for r in rows} == {at.isoformat()}
    for key in (STATE_KEY, DASHBOARD_KEY):
        assert not resources["storage"].exists(key), key


def test_the_slo_job_sends_an_incident_once_across_evaluations_and_fails_the_check(empty_lake):
    """The path production takes: the `slo` job (what its five-minute schedule launches) run
    twice through Dagster on a lake whose card_transactions stopped four days ago. The first
    evaluation opens the incident (the budget is spent), sends it through the notifier and
    fails the dataset's slo check as a warning; the second finds it open and sends nothing."""
    from datetime import UTC, datetime, timedelta

    from dagster import AssetCheckSeverity, DagsterInstance

    from lake_assets.definitions import build_definitions
    from lake_assets.slo.assets import SLO_JOB
    from resources import build_resources
    from resources.catalog import PublishedPartition

    settings = load_settings()
    resources = build_resources(settings)
    now = datetime.now(UTC)
    day = (now - timedelta(days=4)).date().isoformat()
    published = PublishedPartition(
        "card_transactions",
        day,
        f"curated/card_transactions/run=r1/_zone=published/event_date={day}/",
        "r1",
        (now - timedelta(days=3, hours=12)).isoformat(),
        10,
        "v1",
        {"transaction_id": "string"},
    )
    resources["catalog"].publish(published, "")
    job = build_definitions(settings, resources).resolve_job_def(SLO_JOB)
    instance = DagsterInstance.ephemeral()
    today = now.date().isoformat()

    first = job.execute_in_process(partition_key=today, instance=instance)
    incidents = [a for a in resources["notifier"].alerts() if a.kind == "slo.exhausted"]
    assert "card_transactions.freshness" in {a.subject.split()[1] for a in incidents}
    checks = {
        e.asset_key.path[-1]: e
        for e in first.get_asset_check_evaluations()
        if e.check_name == "slo"
    }
    freshness = checks["card_transactions"]
    assert not freshness.passed and freshness.severity == AssetCheckSeverity.WARN
    assert "card_transactions.freshness exhausted" in freshness.description

    second = job.execute_in_process(partition_key=today, instance=instance)
    assert second.success
    again = [a for a in resources["notifier"].alerts() if a.kind == "slo.exhausted"]
    assert again == incidents  # still open: not sent again
    (evaluation,) = second.asset_materializations_for_node("slo__evaluation")
    assert evaluation.metadata["alerts sent"].value == 0
    assert evaluation.metadata["open incidents"].value >= 1
