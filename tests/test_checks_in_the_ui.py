"""Asset checks as the webserver shows them (issue 11): each day's result of each rule, a
later run of another day leaving a failed day as it was, the registry's check after an
approval, and check descriptions and violation tables. One lake, one webserver start."""

from __future__ import annotations

import json

from lake_harness import Lake, card
from test_backfill_and_contracts_e2e import CONTRACT
from webserver import Webserver, persistent_instance

from lake_assets.cli.main import main
from lake_assets.ingestion.asset_keys import curated_key_of, registry_key_of

CARDS = "card_transactions"
RANGE = ("2026-03-02", "2026-03-04")
FAILED_DAY = "2026-03-03"  # a duplicated transaction id: `transaction_id_unique` blocks it
LATER_DAY = "2026-03-05"
RENAMED_DAY = "2026-03-06"  # `transaction_date` arrives as `txn_date`: BREAKING until approved

CHECKS = """query($key: AssetKeyInput!) { assetNodeOrError(assetKey: $key) { ... on AssetNode {
    assetChecksOrError { ... on AssetChecks { checks { name description
        partitionStatuses { ... on AssetCheckTimePartitionStatuses {
            ranges { startKey endKey status } } } } } } } } }"""
EXECUTIONS = """query($key: AssetKeyInput!, $check: String!, $partition: String) {
    assetCheckExecutions(assetKey: $key, checkName: $check, partition: $partition, limit: 10) {
        partition runId evaluation { success description metadataEntries { label
            ... on TextMetadataEntry { text }
            ... on TableMetadataEntry { table { records schema { columns { name type } } } } } } } }"""


def deliver(lake: Lake, day: str, numbers, duplicate: bool = False, renamed: bool = False):
    records = [card(n, day, renamed) for n in numbers]
    if duplicate:
        records[1]["transaction_id"] = records[0]["transaction_id"]
    lines = "".join(json.dumps(r) + "\n" for r in records)
    lake.deliver(CARDS, day, f"cards-{day}.json", lines)


def day_statuses(check: dict) -> dict[str, str]:
    """{partition: status} from the webserver's ranges, for the days of this test."""
    statuses = {}
    for r in check["partitionStatuses"]["ranges"]:
        day = r["startKey"]
        while day <= r["endKey"]:
            statuses[day] = r["status"]
            day = day[:8] + f"{int(day[8:]) + 1:02d}"  # the test's days are all in March
    return statuses


def test_the_webserver_shows_each_days_check_results(tmp_path, spark, monkeypatch):
    home = tmp_path / "dagster"
    contracts = tmp_path / "contracts"
    contracts.mkdir()
    (contracts / f"{CARDS}.yaml").write_text(CONTRACT.format(bootstrap=7, extra=""))
    lake = Lake(tmp_path / "lake", contracts=contracts, instance=persistent_instance(home))
    for offset, day in enumerate((*RANGE[:1], FAILED_DAY, RANGE[1], LATER_DAY)):
        deliver(lake, day, range(offset * 10, offset * 10 + 10), duplicate=day == FAILED_DAY)
        assert lake.profile(CARDS, day).success

    # One run over three days, one of which breaks a `fail` rule; then a run of another day.
    assert not lake.promote(CARDS, *RANGE).success
    assert lake.promote(CARDS, LATER_DAY).success

    # A rename on a later day fails the registry's check; the operator approves it.
    deliver(lake, RENAMED_DAY, range(50, 60), renamed=True)
    assert not lake.profile(CARDS, RENAMED_DAY).success
    [breaking] = [v for v in lake.registry.versions(CARDS) if v.status == "BREAKING"]
    for name, value in {**lake.env, "DAGSTER_HOME": str(home)}.items():
        monkeypatch.setenv(name, value)
    approve = ["registry", "approve", CARDS, breaking.version, "--rename"]
    assert main([*approve, "txn_date=transaction_date"]) == 0

    with Webserver(home, lake.env) as web:
        curated = {"path": curated_key_of(CARDS).path}
        checks = {
            c["name"]: c
            for c in web.query(CHECKS, {"key": curated})["assetNodeOrError"]["assetChecksOrError"][
                "checks"
            ]
        }
        unique = web.query(
            EXECUTIONS,
            {"key": curated, "check": "contract_transaction_id_unique", "partition": FAILED_DAY},
        )["assetCheckExecutions"]
        registry = {"path": registry_key_of(CARDS).path}
        schema_check = web.query(CHECKS, {"key": registry})["assetNodeOrError"][
            "assetChecksOrError"
        ]["checks"]
        schema = web.query(
            EXECUTIONS, {"key": registry, "check": "schema_compatible", "partition": RENAMED_DAY}
        )["assetCheckExecutions"]

    # Each day's result of the blocking rule: the failed day stays failed after the later run.
    assert day_statuses(checks["contract_transaction_id_unique"]) == {
        RANGE[0]: "SUCCEEDED",
        FAILED_DAY: "FAILED",
        RANGE[1]: "SUCCEEDED",
        LATER_DAY: "SUCCEEDED",
    }
    failed = unique[0]["evaluation"]
    assert unique[0]["partition"] == FAILED_DAY and failed["success"] is False
    assert failed["description"] == (
        "rule 'transaction_id_unique' (unique on column transaction_id) in partition "
        f"{FAILED_DAY}: 2 violating rows; the partition is not published"
    )

    # The descriptions name the column, the rule, its threshold and what the action does.
    assert checks["contract_amount_positive"]["description"].startswith(
        "amount_positive (range): amount >= 0.01. drop: violating rows go to quarantine"
    )
    assert (
        "fail: a violating partition is not published"
        in (checks["contract_transaction_id_unique"]["description"])
    )
    assert "warn: violating rows are published" in checks["contract_amount_small"]["description"]

    # The violation is a table with a schema, not only JSON.
    entries = {e["label"]: e for e in failed["metadataEntries"]}
    table = entries["violations"]["table"]
    assert [c["name"] for c in table["schema"]["columns"]][:5] == [
        "partition",
        "rule",
        "columns",
        "test",
        "violating_rows",
    ]
    [record] = [json.loads(r) for r in table["records"]]
    assert (record["partition"], record["violating_rows"], record["blocks_publish"]) == (
        FAILED_DAY,
        2,
        True,
    )

    # A few of the violating rows, as a table: the columns the rule reads, and their file.
    samples = entries["violation_samples"]["table"]
    assert [c["name"] for c in samples["schema"]["columns"]] == ["transaction_id", "_source_file"]
    sampled = [json.loads(r) for r in samples["records"]]
    assert [r["transaction_id"] for r in sampled] == [sampled[0]["transaction_id"]] * 2
    assert sampled[0]["_source_file"].endswith(f"cards-{FAILED_DAY}.json")

    # After the approval the registry's check reads passed, naming the approved version.
    [compatible] = schema_check
    assert day_statuses(compatible)[RENAMED_DAY] == "SUCCEEDED"
    assert "FAILED" not in day_statuses(compatible).values()
    latest = schema[0]["evaluation"]
    assert latest["success"] is True
    assert {e["label"]: e.get("text") for e in latest["metadataEntries"]}[
        "active_version"
    ] == breaking.version


def test_every_rule_of_the_projects_contracts_is_described_with_its_columns_and_action():
    from lake_assets.contracts.model import CONTRACTS_DIR, load_contracts
    from lake_assets.contracts.verdicts import ACTION_EFFECTS, describe_rule
    from lake_assets.settings import DEFAULT_PIPELINES_DIR

    for contract in load_contracts(CONTRACTS_DIR, pipelines_dir=DEFAULT_PIPELINES_DIR).values():
        for rule in contract.all_rules:
            text = describe_rule(rule, contract)
            assert text.startswith(f"{rule.name} ({rule.kind}): ")
            assert ACTION_EFFECTS[rule.action].policy in text
            assert all(column in text for column in rule.columns), text


def test_violation_samples_show_a_few_rows_per_partition_and_rule(spark):
    from lake_assets.contracts.model import Contract
    from lake_assets.contracts.rules import violation_samples

    contract = Contract.model_validate(
        {
            "dataset": "cards",
            "owner": "payments",
            "version": 1,
            "schema": [{"name": "amount", "type": "double"}, {"name": "channel", "type": "string"}],
            "rules": [
                {"name": "positive", "severity": "error", "range": {"column": "amount", "min": 0}},
                {"name": "online", "severity": "warn", "sql": {"expression": "channel = 'pos'"}},
            ],
        }
    )
    frame = spark.createDataFrame(
        [("d1", float(-n), "web", "f.json", ["positive", "online"]) for n in range(1, 8)]
        + [("d2", 1.0, "pos", "g.json", [])],
        "event_date string, amount double, channel string, _source_file string, v array<string>",
    )
    samples = violation_samples(frame, "v", contract, "event_date", per_rule=2)
    assert samples == {
        "d1": {
            "positive": [
                {"amount": "-1.0", "_source_file": "f.json"},
                {"amount": "-2.0", "_source_file": "f.json"},
            ],
            "online": [
                {"channel": "web", "_source_file": "f.json"},
                {"channel": "web", "_source_file": "f.json"},
            ],
        }
    }
