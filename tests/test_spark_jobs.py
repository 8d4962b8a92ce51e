"""Every registered Spark job, through the Pipes subprocess runner, on PySpark 4.x (this
environment) and on PySpark 3.5 (EMR 7.x's Spark, the `.venv-spark35` that `make test` builds).

One table names, per job, how to make a tiny plan and what its result and rows must be; a job
registered in lake_assets/runtime/jobs.py without an entry here fails the suite.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace

import pytest
from dagster import MaterializeResult, asset, materialize

from lake_assets.contracts.model import load_contract
from lake_assets.ingestion.promotion_plan import plan_promotion
from lake_assets.runtime.jobs import JOBS
from lake_assets.settings import DEFAULT_CONTRACTS_DIR, REPO_ROOT
from resources.spark_runner import PipesSubprocessRunner

SPARK35_PYTHON = REPO_ROOT / ".venv-spark35" / "bin" / "python"
DAY = "2026-03-02"


@dataclass(frozen=True)
class JobCase:
    """How to run one job on tiny data: `plan(lake)` lays out its inputs in a temporary lake and
    returns the job's plan; `check(result, plan, lake, spark)` asserts the result and the rows
    the job wrote."""

    plan: Callable
    check: Callable


# --- promote: casts, quarantine, contract rules, the audit's read-back ------------------------


def _card(number: int, **fields) -> dict:
    return {
        "transaction_id": f"TXN-{number:05d}",
        "customer_id": f"C{number:05d}",
        "amount": 12.5,
        "currency": "MYR",
        "merchant": {"name": "Grab", "country": "MY"},
        "transaction_date": f"{DAY}T{number % 24:02d}:15:00Z",
        **fields,
    }


def _promotion_plan(lake) -> dict:
    cards = [_card(n) for n in range(30)]
    cards[3]["amount"] = "N/A"  # does not read as a double: quarantined with its reason
    cards[4]["transaction_date"] = "not a time"  # no event time: quarantined on its ingest date
    cards[5]["amount"] = -5.0  # violates a drop rule of the contract: quarantined
    cards[6]["transaction_id"] = cards[7]["transaction_id"]  # violates a uniqueness rule
    lake.deliver(
        "card_transactions", DAY, "cards.json", "".join(json.dumps(c) + "\n" for c in cards)
    )
    assert lake.profile("card_transactions", DAY).success
    source = lake.settings.source("card_transactions")
    plan = plan_promotion(
        "card_transactions",
        source.event_time_field,
        source.format,
        [DAY],
        lake.registry.versions("card_transactions"),
        lake.registry.raw_files("card_transactions"),
        lake.storage.uri,
    )
    contract = load_contract(DEFAULT_CONTRACTS_DIR / "card_transactions.yaml")
    plan = replace(plan, contract=contract.model_dump(by_alias=True, mode="json"))
    return {"plan": plan.to_dict(), "output_uri": lake.storage.uri("runs/promote/")}


def _check_promotion(result: dict, plan: dict, lake, spark) -> None:
    partition = result["partitions"][DAY]
    assert result["rows_read"] == 30
    assert (partition["rows_published"], partition["rows_quarantined"]) == (27, 3)
    assert (result["observed_published"], result["observed_quarantined"]) == (27, 3)
    assert result["written_schema"]["amount"] == "double"
    assert result["written_schema"]["transaction_date"] == "timestamp"
    assert result["violations"][DAY] == {
        "customer_exists": 30,  # the plan names no customers snapshot
        "amount_positive": 1,
        "schema.not_null.amount": 1,
        "schema.not_null.transaction_date": 1,
        "transaction_id_unique": 2,
    }
    assert set(result["lateness_hours"]) == {"p50", "p95", "p99"}
    written = spark.read.parquet(plan["output_uri"])
    quarantined = written.where("_zone = 'quarantined'").orderBy("transaction_id").collect()
    assert [(r["transaction_id"], r["_reject_reasons"]) for r in quarantined] == [
        (
            "TXN-00003",
            "amount: cannot read N/A as double; violates contract rules: schema.not_null.amount",
        ),
        (
            "TXN-00004",
            "transaction_date: cannot read not a time as timestamp; missing or unreadable event "
            "time transaction_date; violates contract rules: schema.not_null.transaction_date",
        ),
        ("TXN-00005", "violates contract rules: amount_positive"),
    ]
    assert json.loads(quarantined[0]["_raw_record"])["amount"] == "N/A"
    published = written.where("_zone = 'published'")
    assert published.count() == 27
    assert published.where("amount IS NULL OR transaction_date IS NULL").count() == 0
    assert {f.name for f in published.schema.fields} >= {"event_date", "_ingested_at"}


JOB_CASES: dict[str, JobCase] = {
    "promote": JobCase(_promotion_plan, _check_promotion),
}


# --- the runner under each interpreter --------------------------------------------------------


def test_every_registered_job_has_a_case():
    missing = sorted(set(JOBS) - set(JOB_CASES))
    assert not missing, f"add a JobCase to JOB_CASES for the registered Spark jobs {missing}"


@pytest.fixture(scope="session")
def spark35_python() -> str:
    """The PySpark 3.5 interpreter. Missing, it skips the tests on a developer's machine (with
    the command that builds it) and fails them in CI, where `make test` must have built it."""
    if not SPARK35_PYTHON.exists():
        reason = f"{SPARK35_PYTHON} is missing: run `make .venv-spark35/.installed`"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    version = subprocess.run(
        [SPARK35_PYTHON, "-c", "import pyspark; print(pyspark.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert version.startswith("3.5."), f"{SPARK35_PYTHON} has pyspark {version}, not 3.5"
    return str(SPARK35_PYTHON)


@pytest.fixture(params=["pyspark 4", "pyspark 3.5"])
def python(request) -> str:
    if request.param == "pyspark 3.5":
        return request.getfixturevalue("spark35_python")
    return sys.executable


def _run_through_pipes(runner: PipesSubprocessRunner, job: str, plan: dict) -> dict:
    """Runs `job` from an asset, the way the orchestrator's assets call their runner."""
    results = {}

    @asset
    def spark_job(context) -> MaterializeResult:
        results[job] = runner.run(context, job, plan)
        return MaterializeResult()

    assert materialize([spark_job]).success
    return results[job]


@pytest.mark.parametrize("job", sorted(JOB_CASES))
def test_job_runs_through_pipes(job, python, lake, spark):
    case = JOB_CASES[job]
    plan = case.plan(lake)
    # The job code of this checkout, whichever environment runs it (the 3.5 one has no copy).
    runner = PipesSubprocessRunner(env={"PYTHONPATH": str(REPO_ROOT)}, python=python)
    case.check(_run_through_pipes(runner, job, plan), plan, lake, spark)
