"""What `lake` tells the operator: each promoted partition's outcome, the exact command that
approves a BREAKING schema, and a failed contract rule's rule, column, partition and count."""

from __future__ import annotations

import contextlib
import io
import json
import re
import shlex

import pytest
from dagster import AssetKey, AssetMaterialization, DagsterEventType, DagsterInstance
from lake_harness import Lake, card, write_card_contract

from lake_assets.cli.main import main

SOURCE = "card_transactions"

RULES = """\
  - name: amount_positive
    severity: error
    action: drop
    range: {column: amount, min: 0.01}
  - name: transaction_id_unique
    severity: error
    unique: {columns: [transaction_id]}
"""


def lake_cli(argv: list[str]) -> tuple[int, str]:
    """Run `lake ARGV` as the shell would; its exit status and everything it printed."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        status = main(argv)
    return status, out.getvalue()


RUN_ENDED = "(the run ended)"


def mark_the_run_end(monkeypatch) -> None:
    """Print RUN_ENDED where the instance records a run's end, among what a command prints: a
    line printed before it was printed while the run went on."""
    record = DagsterInstance.handle_new_event

    def recording(instance, event, **kwargs):
        record(instance, event, **kwargs)
        if event.dagster_event is not None and event.dagster_event.event_type in (
            DagsterEventType.RUN_SUCCESS,
            DagsterEventType.RUN_FAILURE,
        ):
            print(RUN_ENDED)

    monkeypatch.setattr(DagsterInstance, "handle_new_event", recording)


def deliver(lake: Lake, day: str, records: list[dict], name: str) -> None:
    lake.deliver(SOURCE, day, name, "".join(json.dumps(r) + "\n" for r in records))


@pytest.fixture(scope="module")
def contract_range(tmp_path_factory, spark):
    """One `lake promote` of two days under a contract: day one has a row the contract drops,
    day two a duplicated id that blocks it. Returns the exit status and the output."""
    root = tmp_path_factory.mktemp("contract_range")
    contracts = write_card_contract(root / "contracts", RULES)
    lake = Lake(root / "lake", contracts=contracts)
    day1 = [card(n, "2026-03-02") for n in range(10)]
    day1[0]["amount"] = -5.0
    day2 = [card(n, "2026-03-03") for n in range(10, 16)]
    day2[1]["transaction_id"] = day2[0]["transaction_id"]
    deliver(lake, "2026-03-02", day1, "day1.json")
    deliver(lake, "2026-03-03", day2, "day2.json")
    with pytest.MonkeyPatch.context() as env:
        env.delenv("DAGSTER_HOME", raising=False)
        for name, value in lake.env.items():
            env.setenv(name, value)
        mark_the_run_end(env)
        yield lake_cli(
            ["promote", "--source", SOURCE, "--date", "2026-03-02", "--to", "2026-03-03"]
        )


def test_promote_prints_each_partition_published_or_refused(contract_range):
    status, out = contract_range
    assert status == 1
    assert f"{SOURCE}: promoting 2026-03-02..2026-03-03 (2 partitions, one run)" in out
    assert re.search(
        rf"\[1/2\] {SOURCE} 2026-03-02: published 9 rows, 1 quarantined, schema version#\S+", out
    ), out
    assert (
        f"[2/2] {SOURCE} 2026-03-03: refused, not published: contract rules "
        "transaction_id_unique failed" in out
    ), out


def test_promote_prints_each_partition_while_the_run_goes_on(contract_range):
    _, out = contract_range
    lines = out.splitlines()
    said = [i for i, line in enumerate(lines) if line.startswith(("[1/2]", "[2/2]"))]
    ended = lines.index(RUN_ENDED)
    assert len(said) == 2 and said[-1] < ended, out  # each partition's line before the run ends
    assert lines[ended + 1].startswith("CHECK FAILED"), out  # the run's own report after it


def test_a_failed_rule_names_the_rule_column_partition_and_count(contract_range):
    _, out = contract_range
    assert (
        f"CHECK FAILED curated/{SOURCE}:contract_transaction_id_unique: rule "
        "'transaction_id_unique' (unique on column transaction_id) in partition 2026-03-03: "
        "2 violating rows; the partition is not published"
    ) in out, out
    assert ": None" not in out
    # The blocking check stopped the step; its own line says why, Dagster's wrapper is noise.
    assert "DagsterAssetCheckFailedError" not in out


def test_the_refusal_and_the_alert_print_the_command_that_approves(tmp_path, monkeypatch, spark):
    """A rename, a removal and a type change at once: each gets its flag, and the printed
    command, run as it is, approves the version so the next promotion publishes."""
    lake = Lake(tmp_path / "lake")
    for name, value in lake.env.items():
        monkeypatch.setenv(name, value)
    before = [
        {"transaction_id": f"T{i}", "amount": i * 1.5, "branch_code": f"B{i % 2}",
         "transaction_date": f"2026-03-02T{i:02d}:00:00Z"}
        for i in range(8)
    ]  # fmt: skip
    after = [
        {"transaction_id": f"T{i}", "amount": f"{i}.50 MYR", "txn_date": f"2026-03-03T{i:02d}:00:00Z"}
        for i in range(8)
    ]  # fmt: skip
    deliver(lake, "2026-03-02", before, "before.json")
    deliver(lake, "2026-03-03", after, "after.json")
    assert lake_cli(["profile"])[0] == 0
    breaking = lake.registry.versions(SOURCE)[-1]
    assert breaking.status == "BREAKING"

    status, out = lake_cli(["promote", "--source", SOURCE, "--date", "2026-03-03"])
    assert status == 1
    assert f"{SOURCE} 2026-03-03: nothing published" in out
    assert f"SchemaDriftBlocked: promotion of {SOURCE} refused" in out, out
    [command] = re.findall(r"lake registry approve .*$", out, re.MULTILINE)
    assert command == (
        f"lake registry approve {SOURCE} '{breaking.version}' --rename txn_date=transaction_date "
        "--accept-removal branch_code --accept-type-change amount"
    )
    [alert] = [a for a in lake.notifier.alerts() if a.kind == "schema.breaking"]
    assert alert.detail["resolve_with"] == command

    words = shlex.split(command)
    assert words[:1] == ["lake"]
    status, out = lake_cli(words[1:])
    assert status == 0 and f"{SOURCE} {breaking.version} is now ACTIVE" in out
    status, out = lake_cli(["promote", "--source", SOURCE, "--date", "2026-03-03"])
    assert status == 0, out
    assert (
        f"[1/1] {SOURCE} 2026-03-03: published 8 rows, 0 quarantined, schema {breaking.version}"
        in out
    )


def test_demo_refuses_aws_and_a_lake_it_would_replace_and_reset_wipes_its_runs(
    tmp_path, monkeypatch
):
    """`lake demo --reset` over an existing lake: the folder goes and so do the instance's runs
    and events of it (kept, a second demo's run-less verdicts clashed with the first's)."""
    from lake_assets.cli.runs import dagster_instance

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LAKE_ROOT", str(tmp_path / "lake"))
    (tmp_path / "lake").mkdir()
    (tmp_path / "lake" / "old").write_text("the previous demo's lake")
    instance = dagster_instance()
    instance.report_runless_asset_event(AssetMaterialization("old_demo_table", partition="d"))
    assert instance.get_latest_materialization_event(AssetKey("old_demo_table")) is not None
    played = []
    monkeypatch.setattr(
        "lake_assets.demo.demo.run_demo", lambda settings, days: played.append(days) or 0
    )
    # Without --reset an existing lake is never replaced, and the demo never runs on aws.
    with pytest.raises(SystemExit, match="exists; pass --reset to replace it"):
        main(["demo", "--days", "2"])
    assert (tmp_path / "lake" / "old").exists() and played == []
    monkeypatch.setenv("LAKE_PROFILE", "aws")
    with pytest.raises(SystemExit, match="runs on the embedded local profile"):
        main(["demo", "--reset", "--days", "2"])
    monkeypatch.delenv("LAKE_PROFILE")
    assert (tmp_path / "lake" / "old").exists() and played == []
    assert main(["demo", "--reset", "--days", "2"]) == 0
    assert played == [2] and not (tmp_path / "lake").exists()
    assert dagster_instance().get_latest_materialization_event(AssetKey("old_demo_table")) is None
