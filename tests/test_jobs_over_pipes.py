"""Compaction's rewrite, the spend_by_customer mart and `lake lateness` as registered Spark jobs:
planned by the orchestrator, run by whichever Spark runner the profile has, audited and
published by the orchestrator. The jobs themselves on PySpark 3.5 are cases of
test_spark_jobs.py; the mart and compaction assets on a remote runner (Pipes, on EMR
Serverless) are in test_emr_jobs.py; here the command and the mart's audit."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime

import yaml
from dagster import materialize
from lake_harness import card, failure_message

from lake_assets.cli.main import main
from lake_assets.ingestion.intake import land_payload
from lake_assets.ingestion.lateness import LatenessReport, lateness_plan
from lake_assets.marts.assets import KEYS_NOT_NULL, RECONCILED, build_spend_by_customer
from lake_assets.tables.reader import resolve_published
from partitions import daily_partitions
from resources.spark_runner import SparkRunner

CARDS = "card_transactions"


def land_cards(lake, day: str, numbers, event_day: str, landed: datetime, undated=()) -> None:
    """Cards of `event_day` landed at `landed` (a fixed instant: lateness is measured from it);
    those numbered in `undated` have no transaction date."""
    path = lake.root.parent / "incoming" / f"{day}-{numbers[0]}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    cards = [card(n, event_day) for n in numbers]
    for number, one in zip(numbers, cards, strict=True):
        if number in undated:
            one["transaction_date"] = None
    path.write_text("".join(json.dumps(one) + "\n" for one in cards))
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


def test_lake_lateness_prints_the_report_its_job_measures(lake, monkeypatch, capsys):
    late_cards(lake)
    plan = lateness_plan(resolve_published(lake.catalog, lake.storage, CARDS), "transaction_date")
    report = LatenessReport.from_result(CARDS, lake.spark_runner.run_standalone("lateness", plan))
    assert (report.rows, report.rows_by_days_late) == (11, {0: 6, 1: 2, 2: 3})

    monkeypatch.setenv("LAKE_ROOT", str(lake.root))
    monkeypatch.setenv("LAKE_CONTRACTS_DIR", str(lake.settings.contracts_dir))

    assert main(["lateness", CARDS]) == 0

    assert capsys.readouterr().out == (
        f"{CARDS}: 11 published records; lateness p50 21.8 h, p95 47.8 h, p99 47.8 h\n"
        "  records by days late: 0 d: 6, 1 d: 2, 2 d: 3\n"
        "  a lookback of 2 days would have caught 99% of them (configured: 3)\n"
    )


def test_lake_contract_try_finds_a_tightened_rule_before_a_promotion_enforces_it(
    lake, monkeypatch, capsys, tmp_path
):
    """Seed 000, project 4: a threshold set too tight stalls the pipeline. The published cards
    all hold 12.5: a minimum of 0.01 holds on every row, one of 20 would quarantine them all."""
    from test_spark_jobs import trial_contract

    late_cards(lake)
    monkeypatch.setenv("LAKE_ROOT", str(lake.root))
    monkeypatch.setenv("LAKE_CONTRACTS_DIR", str(lake.settings.contracts_dir))
    candidates = {}
    for name, minimum in (("kept", 0.01), ("tightened", 20.0)):
        path = tmp_path / f"{name}.yaml"
        path.write_text(
            yaml.safe_dump(trial_contract(minimum).model_dump(by_alias=True, mode="json"))
        )
        candidates[name] = path

    assert main(["contract", "try", CARDS, "--contract", str(candidates["kept"])]) == 0
    kept = capsys.readouterr().out
    assert "  amount_at_least (drop): holds on every published row" in kept
    # A warn rule reports what it finds; only blocking rules refuse the contract.
    assert "  customer_is_c00 (warn): 5 published rows break it: 2026-03-02 4, 2026-03-03 1" in kept
    assert "not tried (judged per day at promotion): steady_volume (volume)" in kept
    assert "  one_per_customer (warn): 4 published rows break it: 2026-03-02 4" in kept
    assert kept.rstrip().endswith("no blocking rule rejects a published row")

    assert main(["contract", "try", CARDS, "--contract", str(candidates["tightened"]),
                 "--days", "1", "--json"]) == 1  # fmt: skip
    tried = json.loads(capsys.readouterr().out)
    assert list(tried["partitions"]) == ["2026-03-03"]  # the newest published partition only
    assert tried["partitions"]["2026-03-03"]["violations"]["amount_at_least"] == 2
    assert tried["rejecting"] == ["amount_at_least"]
    assert main(["contract", "try", CARDS, "--contract", str(candidates["tightened"])]) == 1
    assert (
        capsys.readouterr()
        .out.rstrip()
        .endswith(
            "STRICTER than what the lake published under: amount_at_least: its rows would be "
            "quarantined. Start such a rule with action warn, or fix the data first."
        )
    )


def customers_of(lake, day: str, numbers) -> None:
    """The customers snapshot of `day`, published: C00<n> for each of `numbers` (the customer
    ids of `card`), odd ones retail, even ones premier."""
    header = "customer_id,segment,snapshot_date\n"
    segments = "".join(f"C00{n},{'retail' if n % 2 else 'premier'},{day}\n" for n in numbers)
    lake.deliver("customers", day, "c.csv", header + segments)
    assert lake.profile("customers", day).success
    assert lake.promote("customers", day).success


def mart_inputs(lake, day: str) -> None:
    """The mart's inputs for `day`, published: 9 cards of 7 customers in two segments."""
    lake.deliver_cards(day, range(0, 9))
    assert lake.profile(CARDS, day).success
    assert lake.promote(CARDS, day).success
    customers_of(lake, day, range(7))


def test_the_mart_is_not_published_when_its_job_miscounts_the_card_transactions(lake, spark):
    """The mart's audit: a job whose rows do not count the published card rows is refused and
    the version readers see stays. (The mart over a remote runner, Pipes on EMR Serverless,
    publishes what it publishes in-process: test_emr_jobs.py; compaction's asset there too.)"""
    day = "2026-03-02"
    mart_inputs(lake, day)
    mart = build_spend_by_customer(daily_partitions())
    keys = ("settings", "storage", "catalog", "lineage", "spark_runner")
    built = materialize([mart], partition_key=day, resources={k: lake.resources[k] for k in keys})
    assert built.success, failure_message(built)
    current = lake.catalog.current("spend_by_customer", day)
    assert current.row_count == 7

    class Miscounting(SparkRunner):
        def run(self, context, job, plan):
            written = lake.spark_runner.run(context, job, plan)
            return {**written, "transactions": written["transactions"] - 1}

    resources = {**{k: lake.resources[k] for k in keys}, "spark_runner": Miscounting()}
    refused = materialize([mart], partition_key=day, resources=resources, raise_on_error=False)
    assert not refused.success
    assert "counted 8 card transactions" in failure_message(refused)
    assert lake.catalog.current("spend_by_customer", day) == current

    # A card without its customer (this lake has no contract to quarantine it) holds the day too.
    orphan = {**card(50, day), "customer_id": None}
    lake.deliver(CARDS, day, "orphan.json", json.dumps(orphan) + "\n")
    assert lake.profile(CARDS, day).success and lake.promote(CARDS, day).success
    keyed = {k: lake.resources[k] for k in keys}
    held = materialize([mart], partition_key=day, resources=keyed, raise_on_error=False)
    assert not held.success
    assert "1 rows without a customer_id" in failure_message(held)
    checks = {e.check_name: e for e in held.get_asset_check_evaluations()}
    assert checks[KEYS_NOT_NULL].passed is False and checks[RECONCILED].passed is True
    assert checks[KEYS_NOT_NULL].metadata["null_rows"].value == 1
    assert lake.catalog.current("spend_by_customer", day) == current


def test_job_modules_import_neither_dagster_nor_the_stores():
    """A job runs where no orchestrator is (EMR Serverless): its module imports pyspark, the
    stdlib and Dagster-free lake_assets modules only."""
    code = (
        "import importlib, sys\n"
        "from lake_assets.runtime.jobs import JOBS\n"
        "for target in JOBS.values(): importlib.import_module(target.split(':')[0])\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'dagster', 'resources'}))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert loaded.stdout.strip() == "[]"
