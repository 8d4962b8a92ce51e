"""Every registered Spark job besides promotion on EMR Serverless end to end, on moto: one tiny
lake (a day of customers and cards, promoted on EMR), then the history apply, `lake scd as-of`,
the mart, `lake lateness`, `lake contract try`, the morning's `references_still_hold` check
(from a check's step), compaction and a gold table using `lake_token` each run once through
the fake EMR Serverless (tests/emr_fake.py) and give what the same lake gives locally. The
token's key comes from Secrets Manager on EMR (the secret terraform/secrets.tf declares, read
with the job's role) and from the environment locally. This is also where the mart and
compaction assets are shown to publish the same on a remote runner (Pipes) as in-process, where
every job's context and messages are shown to travel through S3, and where a job's answer too
large for a Pipes message comes back through the lake."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from aws_lake import REGION
from cur_inputs import MONTH, costs_in_nanos, tiny_cur, tiny_delivery, tiny_world
from dagster import AssetSpec, Definitions, materialize
from dagster_pipes import decode_param
from emr_fake import EmrLake
from lake_harness import failure_message
from pyspark.sql import functions as F
from test_history_e2e import snapshot
from test_jobs_over_pipes import land_cards
from test_spark_jobs import trial_contract

from lake_assets.access.tokens import KEY_ENV, SECRET_ENV, token
from lake_assets.compaction.assets import build_compaction_asset
from lake_assets.compaction.policy import CompactionPolicy, Selection
from lake_assets.contracts.trial import trial_plan
from lake_assets.cost.allocation import LEDGER_COLUMNS
from lake_assets.cost.cur_assets import CUR_ASSET
from lake_assets.cost.ledger_assets import LEDGER_ASSET
from lake_assets.cost.model import DRIVERS_DATASET
from lake_assets.cost.recording import Charge, recorded_runs
from lake_assets.cost.report import read_ledger
from lake_assets.gold.derived import derived_table
from lake_assets.gold.tables import GoldColumn, GoldTable
from lake_assets.history.apply import as_of_by_job, current_history, history_as_of
from lake_assets.history.assets import history_key_of
from lake_assets.ingestion.asset_keys import contract_key_of
from lake_assets.ingestion.lateness import LatenessReport, lateness_plan
from lake_assets.layers.gate import InputState
from lake_assets.layers.model import DerivedTable, LayerInput
from lake_assets.layers.references_watch import ALERT_KIND, references_watch
from lake_assets.layers.step import run_step
from lake_assets.lineage.emitter import recorder_for
from lake_assets.marts.assets import SPEND_BY_CUSTOMER
from lake_assets.tables.locations import (
    CUR_EXPORT_PREFIX,
    published_month_location,
    query_output_prefix,
)
from lake_assets.tables.publish import publish_table
from lake_assets.tables.reader import published_files, resolve_published
from resources.notifier import Alert
from resources.spark_runner import PIPES_PREFIX

CARDS = "card_transactions"
DAY = "2025-01-02"  # long out of the lookback window: compaction seals and rewrites it
# Where and when each file landed differs between the two lakes (the raw key holds the landing
# time and a random id); the rows themselves must not, nor the name each row's file was
# delivered as (the raw key ends with it).
LANDING = ("_ingested_at", "_source_file")
DELIVERED_AS = r"/[^/-]+-[^/-]+-([^/]+)$"
SEGMENTS = {"C000": "retail", "C001": "premier", "C002": "sme"}
# lake_token's key, and the secret that holds it on aws (terraform/secrets.tf, default prefix).
TOKEN_KEY, TOKEN_SECRET = "a key only the lake knows", "lakehouse/lake-token-key"


def build(lake) -> None:
    """A day of customers and of cards in two files (a small-file partition), landed at fixed
    instants (lateness is measured from them), and a card that cannot be read, profiled and
    promoted."""
    lake.deliver("customers", DAY, "customers.csv", snapshot(DAY, SEGMENTS))
    land_cards(lake, DAY, range(0, 5), DAY, datetime(2025, 1, 2, 23, tzinfo=UTC))
    # Card 9 has no transaction date (a null: no evidence against the field's type, so no schema
    # change): promotion moves it to the quarantine zone.
    land_cards(lake, DAY, range(5, 10), DAY, datetime(2025, 1, 4, 6, tzinfo=UTC), undated={9})
    for source in ("customers", CARDS):
        profiled = lake.profile(source, DAY)
        assert profiled.success, failure_message(profiled)
        promoted = lake.promote(source, DAY)
        assert promoted.success, failure_message(promoted)


def customer_tokens(folder) -> GoldTable:
    """A gold table that tokenises the customer id (the SQL in `folder`): not shipped."""
    (folder / "customer_tokens.sql").write_text(
        "SELECT customer_id, lake_token(customer_id) AS customer_token FROM customers"
    )
    columns = {"customer_id": GoldColumn("string"), "customer_token": GoldColumn("string")}
    customers = LayerInput("customers", ("curated", "customers"))
    return GoldTable("customer_tokens", (customers,), ("customer_id",), columns, "", None, folder)


def build_gold(lake, table: GoldTable) -> None:
    """`table` for DAY through the layers core, as its gold asset builds it."""
    derived = derived_table(table)
    states = [InputState(i.dataset, DAY, True) for i in derived.inputs]
    recorder = recorder_for(lake.lineage, lake.settings.state_dir, lake.storage.uri(""))
    outcome = run_step(derived, DAY, "gold-1", states, lake.catalog, lake.storage, recorder,
                       lake.spark_runner.bound(None))  # fmt: skip
    assert outcome.published, outcome


def published_cards(lake, spark) -> list[tuple]:
    """The published card rows with the name of the file each was delivered as."""
    rows = lake.rows(spark, CARDS)
    rows = rows.withColumn("delivered_as", F.regexp_extract("_source_file", DELIVERED_AS, 1))
    return sorted(tuple(r) for r in rows.drop(*LANDING).collect())


def everything(lake, spark, gold: GoldTable) -> dict:
    """Each job run once on `lake`, and what it produced."""
    out = {}
    build(lake)
    out["cards"] = published_cards(lake, spark)
    out["counts"] = {p.partition: p.row_count for p in lake.catalog.partitions(CARDS)}

    applied = lake.materialize([history_key_of("customers")], DAY)
    assert applied.success, failure_message(applied)
    # Read through a copy of the bucket: the lake's own storage would make calls the
    # recording would attribute to the code (tests/aws_calls.py).
    storage = lake.local_copy() if hasattr(lake, "local_copy") else lake.storage
    out["quarantined"] = sum(1 for i in storage.list("quarantine/") if i.key.endswith(".parquet"))
    history = current_history(spark, lake.catalog, storage, "customers")
    out["history"] = sorted(
        (r["customer_id"], r["segment"], str(r["valid_from"]), str(r["valid_to"]))
        for r in history.collect()
    )

    source = lake.settings.source("customers")
    found = history_as_of(
        lake.spark_runner.run_standalone,
        lake.catalog,
        lake.storage,
        source,
        DAY,
        "2999-01-01T00:00:00+00:00",
    )
    out["as_of"] = [(r["customer_id"], r["segment"]) for r in found]

    mart = lake.materialize([SPEND_BY_CUSTOMER], DAY)
    assert mart.success, failure_message(mart)
    out["mart"] = sorted(tuple(r) for r in lake.rows(spark, "spend_by_customer").collect())
    mart_version = lake.catalog.current("spend_by_customer", DAY)
    out["mart_version"] = (
        mart_version.row_count,
        len(published_files(lake.storage, mart_version)),
    )

    resolved = resolve_published(lake.catalog, lake.storage, CARDS)
    # As `lake lateness` runs it: charged to the cards (cli.runs.command_charge).
    charge = Charge(CARDS, lake.settings.sources[CARDS].asset_owner, lake.instance)
    result = lake.spark_runner.run_standalone(
        "lateness", lateness_plan(resolved, "transaction_date"), charge
    )
    out["lateness"] = LatenessReport.from_result(CARDS, result).describe(3)
    out["trial"] = lake.spark_runner.run_standalone(
        "contract_trial", trial_plan(resolved, trial_contract(20.0))
    )
    out["references"] = references_watched(lake)

    before = lake.catalog.current(CARDS, DAY)
    keys = ("settings", "storage", "catalog", "lineage", "compaction_history", "spark_runner")
    compacted = materialize(
        [
            build_compaction_asset(
                [lake.settings.source(CARDS)], CompactionPolicy(Selection(min_files=2))
            )
        ],
        resources={k: lake.resources[k] for k in keys},
    )
    assert compacted.success, failure_message(compacted)
    after = lake.catalog.current(CARDS, DAY)
    assert after.location != before.location and after.sealed_at is not None
    # The same partition, rewritten: its rows, columns and lineage are kept.
    assert replace(after, location="", run_id="", sealed_at=None) == replace(
        before, location="", run_id=""
    )
    out["files"] = (
        len(published_files(lake.storage, before)),
        len(published_files(lake.storage, after)),
    )
    out["compacted"] = published_cards(lake, spark)

    build_gold(lake, gold)
    tokens = lake.rows(spark, gold.dataset).select(*gold.columns)
    out["tokens"] = sorted(tuple(r) for r in tokens.collect())

    out["ledger"] = cost_ledger(lake)
    return out


def references_watched(lake) -> tuple:
    """The morning's `references_still_hold` (ADR-0171) of a sliced table with a referential
    rule, here the cards as if sliced (their customers against the customers snapshot), run as
    its job runs it: the trial is launched from the check's own step, over Pipes on EMR. Its
    evaluation and the alert it sent, and the Dagster job of each EMR job run it made (none
    locally)."""
    table = DerivedTable(CARDS, ("curated", CARDS), "none", (), {}, "", slices=lambda _: {},
                         contract=trial_contract(customers="fail"))  # fmt: skip
    keys = ("catalog", "storage", "spark_runner", "notifier")
    watch = Definitions.merge(
        references_watch([table]),
        Definitions(
            # The contract's asset the check is on, owned as the lake declares it (contracts/).
            assets=[AssetSpec(contract_key_of(CARDS), owners=[f"team:{owner_of_cards(lake)}"])],
            resources={k: lake.resources[k] for k in keys},
        ),
    )
    result = watch.resolve_job_def("references_watch").execute_in_process(instance=lake.instance)
    assert result.success
    [evaluation] = result.get_asset_check_evaluations()
    by_rule = evaluation.metadata["by_rule"].value
    # On aws the alert went to SNS, heard here on the queue subscribed to the topic (raw).
    sent = (
        [Alert(**m) for m in lake.alerts()] if isinstance(lake, EmrLake) else lake.notifier.alerts()
    )
    alerts = [a.subject for a in sent if a.kind == ALERT_KIND]
    return evaluation.passed, evaluation.severity.value, evaluation.description, by_rule, alerts


def owner_of_cards(lake) -> str:
    return lake.settings.sources[CARDS].owner


def cost_ledger(lake) -> list[tuple]:
    """A month of CUR exported into the lake and curated (the cost_cur job), then allocated
    (cost_allocate) against the drivers the month was generated with, published as they are:
    the drivers each lake records of its own runs differ (EMR bills what Spark measures
    locally). The ledger's rows (LEDGER_COLUMNS), each row's drivers as sorted pairs."""
    _, delivery = tiny_delivery("d-0001", files_at=lake.storage.uri(CUR_EXPORT_PREFIX))
    [manifest] = [key for key in delivery if key.endswith(".json")]
    for key, body in sorted(delivery.items(), key=lambda kv: kv[0] == manifest):
        lake.written_by_aws(CUR_EXPORT_PREFIX + key, body)  # the manifest last, as AWS does
    curated = lake.materialize([CUR_ASSET], MONTH)
    assert curated.success, failure_message(curated)
    drivers = tiny_world().drivers
    location = published_month_location(DRIVERS_DATASET, "given", MONTH)
    publish_table(lake.catalog, lake.storage, DRIVERS_DATASET, MONTH, location, drivers, "given")
    allocated = lake.materialize([LEDGER_ASSET], MONTH)
    assert allocated.success, failure_message(allocated)
    rows = read_ledger(lake.catalog, lake.storage, MONTH)
    return sorted(
        tuple(sorted(row[c].items()) if c == "drivers" else row[c] for c in LEDGER_COLUMNS)
        for row in rows
    )


def test_every_job_runs_on_emr_serverless_as_it_runs_locally(
    emr_lake, lake, spark, tmp_path, monkeypatch
):
    (tmp_path / "gold_sql").mkdir()
    gold = customer_tokens(tmp_path / "gold_sql")
    # On aws the plan names the secret and the job reads it; the key is in no environment.
    secrets = boto3.client(
        "secretsmanager", endpoint_url=emr_lake.emr.moto_endpoint, region_name=REGION
    )
    secrets.create_secret(Name=TOKEN_SECRET, SecretString=TOKEN_KEY)
    monkeypatch.setenv(SECRET_ENV, TOKEN_SECRET)
    monkeypatch.delenv(KEY_ENV, raising=False)
    on_emr = everything(emr_lake, spark, gold)
    monkeypatch.delenv(SECRET_ENV)
    monkeypatch.setenv(KEY_ENV, TOKEN_KEY)
    local = everything(lake, spark, gold)

    runs = [(r.request.get("name"), r.state) for r in emr_lake.emr.runs]
    print(runs)
    assert all(r.state == "SUCCESS" for r in emr_lake.emr.runs), [
        r.driver_log for r in emr_lake.emr.runs if r.state != "SUCCESS"
    ]

    assert on_emr == local
    assert len(on_emr["cards"]) == 9 and on_emr["counts"] == {DAY: 9}
    assert on_emr["quarantined"] == 1
    assert {r[-1] for r in on_emr["cards"]} == {f"{DAY}-0.json", f"{DAY}-5.json"}
    assert on_emr["history"] and on_emr["as_of"] == sorted(SEGMENTS.items())
    assert len(on_emr["mart"]) == 7 and sum(r[2] for r in on_emr["mart"]) == 9
    assert on_emr["mart_version"] == (7, 1)
    assert on_emr["files"] == (2, 1)
    assert on_emr["compacted"] == on_emr["cards"]
    assert on_emr["tokens"] == [(c, token(c, TOKEN_KEY.encode())) for c in sorted(SEGMENTS)]
    # The CUR month was curated and allocated by jobs on EMR; the ledger's rows add up to its
    # bill to the nano, shared among several teams.
    ran = {name.rsplit("-", 1)[0] for name, _ in runs}
    assert {"cost_cur", "cost_allocate"} <= ran, ran
    cost_nanos, team = list(LEDGER_COLUMNS).index("cost_nanos"), list(LEDGER_COLUMNS).index("team")
    assert sum(r[cost_nanos] for r in on_emr["ledger"]) == sum(costs_in_nanos(tiny_cur()))
    assert len({r[team] for r in on_emr["ledger"]}) > 3
    print(on_emr["lateness"])
    # Every published card breaks the tried minimum of 20 (contract_trial on EMR as locally).
    assert (
        sum(
            p["violations"].get("amount_at_least", 0)
            for p in on_emr["trial"]["partitions"].values()
        )
        == sum(p["rows"] for p in on_emr["trial"]["partitions"].values())
        > 0
    )
    # The customers snapshot holds C000..C002; the cards of C003..C006 are orphans.
    passed, severity, description, by_rule, alerts = on_emr["references"]
    assert (passed, severity) == (False, "WARN")
    assert description.startswith("customer_exists (fail) against customers 2025-01-02: 4 ")
    assert by_rule["customer_exists"]["orphan_keys"] == ["C003", "C004", "C005", "C006"]
    assert alerts == [f"4 published rows of {CARDS} name keys their references no longer hold"]
    # The trial ran on EMR, submitted from the watch's run (`lake contract try`'s run is on an
    # ephemeral instance of its own).
    trials = [r for r in emr_lake.emr.runs if r.request["tags"]["job"] == "contract_trial"]
    launched_by = [
        emr_lake.instance.get_run_by_id(r.request["tags"]["dagster_run_id"]) for r in trials
    ]
    assert [run.job_name for run in launched_by if run is not None] == ["references_watch"]
    # ... and is charged to the cards' owner, not the platform: tagged so, and recorded.
    watched = [t for t, run in zip(trials, launched_by, strict=True) if run is not None]
    assert {trial.request["tags"]["team"] for trial in watched} == {owner_of_cards(emr_lake)}
    drivers_billed_and_tagged(emr_lake)
    every_job_went_through_s3(emr_lake)
    # On this lake's fake EMR rather than a lake of its own: one more job, no second deploy.
    answer_too_large_for_a_pipes_message(emr_lake)


def drivers_billed_and_tagged(emr_lake) -> None:
    """Every job run carries the cost tags and its Dagster run and job, beside a generated
    pipeline's stamps; each run of an asset recorded its drivers as GetJobRun billed them (the
    fake answers billedResourceUtilization as EMR documents it), with Spark's own bytes."""
    application = emr_lake.settings.aws.emr_application_id
    for run in emr_lake.emr.runs:
        tags = run.request["tags"]
        assert tags["environment"] == "prod" and tags["team"] and tags["pipeline"], tags
        assert tags["job"] and tags["dagster_run_id"], tags
        if tags["job"].startswith("pipeline."):
            assert tags["lake_pipeline"] == tags["job"].removeprefix("pipeline."), tags
    recorded = list(recorded_runs(emr_lake.instance, datetime(2000, 1, 1, tzinfo=UTC),
                                  datetime.now(UTC)))  # fmt: skip
    runs = {run.id: run for run in emr_lake.emr.runs}
    assert {r.drivers.job for r in recorded} >= {"pipeline.customers", "spend_by_customer"}
    # A check's step records its runs too (the watch's trial, observed on the contract's asset).
    [trial] = [r.drivers for r in recorded if r.drivers.job == "contract_trial"]
    assert trial.datasets == (CARDS,)
    # So does a `lake` command's run, charged to the dataset it read and tagged with its team.
    [lateness] = [r.drivers for r in recorded if r.drivers.job == "lateness"]
    assert (lateness.datasets, lateness.team) == ((CARDS,), owner_of_cards(emr_lake))
    for record in recorded:
        d, run = record.drivers, runs[record.drivers.job_run_id]
        assert (d.origin, d.runner, d.application_id) == ("billed", "emr-serverless", application)
        assert d.vcpu_seconds == pytest.approx(run.billed["vCPUHour"] * 3600)
        assert d.memory_gb_seconds == pytest.approx(run.billed["memoryGBHour"] * 3600)
        assert d.wall_clock_seconds == run.seconds
        assert run.request["tags"]["dagster_run_id"] == d.dagster_run_id
        assert run.request["tags"]["team"] == d.team
    # Spark's bytes, over Pipes: the trial and the lateness only read.
    assert trial.bytes_read > 0 and trial.bytes_written == 0
    assert lateness.bytes_read > 0 and lateness.bytes_written == 0
    assert all(r.drivers.bytes_written > 0 for r in recorded if r.drivers not in (trial, lateness))


def pipes_params(run, name: str) -> dict:
    """A Pipes bootstrap parameter (DAGSTER_PIPES_CONTEXT / _MESSAGES) the job was sent."""
    return decode_param(run.driver_env[name])


def every_job_went_through_s3(emr_lake) -> None:
    """Each job's plan travelled in its Pipes context on S3, not inline in
    sparkSubmitParameters; it wrote its messages, its result among them, to the S3 channel the
    runner reads (the entry point once failed here with "DagsterPipesError: Invalid params for
    PipesDefaultMessageWriter"); its context was removed once the run was over."""
    s3 = emr_lake.emr.s3
    for run in emr_lake.emr.runs:
        parameters = run.request["jobDriver"]["sparkSubmit"]["sparkSubmitParameters"]
        assert not any(name in parameters for name in (CARDS, "customers", "spend_by_customer"))
        context = pipes_params(run, "DAGSTER_PIPES_CONTEXT")
        messages = pipes_params(run, "DAGSTER_PIPES_MESSAGES")
        assert context["bucket"] == messages["bucket"] == "lake"
        assert context["key"].startswith(PIPES_PREFIX) and context["key"].endswith("/context.json")
        assert messages["key_prefix"].startswith(PIPES_PREFIX)
        chunks = s3.list_objects_v2(Bucket="lake", Prefix=messages["key_prefix"] + "/")
        assert any(
            '"result"' in s3.get_object(Bucket="lake", Key=c["Key"])["Body"].read().decode()
            for c in chunks["Contents"]
        ), run.request["name"]
        assert "Contents" not in s3.list_objects_v2(Bucket="lake", Prefix=context["key"])


def answer_too_large_for_a_pipes_message(emr_lake) -> None:
    """An as-of answer of several MiB over a wide history (one version per customer, written
    here with pyarrow: no apply needed): inline in the job's result it would be one Pipes
    message over the 4 MiB at which a message line was read cut. The job writes its rows to the
    plan's folder on S3, the Pipes result says where, the caller gets every row through the
    lake's storage, and the folder is gone once read."""
    storage, customers, wide = emr_lake.storage, 10_000, "x" * 400
    history = pa.table(
        {
            "customer_id": [f"C{n:06d}" for n in range(customers)],
            "segment": [f"{wide}{n}" for n in range(customers)],
            "valid_from": pa.array([date(2025, 1, 1)] * customers, pa.date32()),
            "valid_to": pa.nulls(customers, pa.date32()),
            "recorded_by": ["t1"] * customers,
            "superseded_by": pa.nulls(customers, pa.string()),
        }
    )
    written = pa.BufferOutputStream()
    pq.write_table(history, written)
    storage.put_bytes("curated/wide_history/v1/part-0.parquet", written.getvalue().to_pybytes())
    folder = query_output_prefix("wide_history", "big")
    plan = {
        "history": {
            "uris": [storage.uri("curated/wide_history/v1/part-0.parquet")],
            "instants": {"t1": "2025-01-01T00:00:00+00:00"},
        },
        "valid_at": DAY,
        "known_at": "2999-01-01T00:00:00+00:00",
        "keys": {},
        "order_by": ["customer_id"],
        "output_uri": storage.uri(folder),
    }
    results = []

    def run(job: str, plan: dict) -> dict:
        results.append(emr_lake.spark_runner.run_standalone(job, plan))
        return results[-1]

    rows = as_of_by_job(run, storage, plan)

    assert len(json.dumps(rows)) > 4 * 2**20  # what the Pipes message would have carried
    assert results == [{"rows": customers, "rows_at": plan["output_uri"]}]
    assert [r["customer_id"] for r in rows] == [f"C{n:06d}" for n in range(customers)]
    assert rows[-1] == {
        "customer_id": "C009999",
        "segment": f"{wide}9999",
        "valid_from": "2025-01-01",
        "valid_to": None,
        "recorded_at": "2025-01-01T00:00:00+00:00",
        "superseded_at": None,
    }
    assert list(storage.list(folder)) == []
