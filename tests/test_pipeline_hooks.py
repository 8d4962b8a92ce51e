"""A generated pipeline on the lake's engine (issue 15): a generated source runs its own Spark
job, whose hooks change real rows, records its code_version and tags its runs; a hook that breaks
its point's contract fails naming itself."""

from __future__ import annotations

import importlib.util
import json
import sys
from dataclasses import replace
from datetime import UTC, datetime

import pytest
import yaml
from dagster import build_schedule_context, build_sensor_context
from lake_harness import Lake, failure_message, sources_file
from pyspark.sql import functions as F

from lake_assets.definitions import build_definitions
from lake_assets.ingestion.asset_keys import curated_key_of, registry_key_of
from lake_assets.ingestion.curated_columns import LINEAGE_COLUMNS
from lake_assets.ingestion.event_dates import partition_rows
from lake_assets.ingestion.profiling import profile_file
from lake_assets.ingestion.promotion import promote
from lake_assets.ingestion.promotion_plan import PlannedInput, PromotionPlan
from lake_assets.pipelines.hooks import HookBroken, PipelineHooks, transformed_record
from lake_assets.pipelines.stamp import Generation
from lake_assets.runtime.jobs import job_function
from lake_hooks.examples import friday_for_weekends, key_value_lines, normalise_currency

DAY = "2026-03-02"
KEY = f"raw/source=cards/ingest_date={DAY}/a.json"
RECORDS = [
    {"transaction_id": "T1", "amount": "12.5", "currency": "MYR", "at": f"{DAY}T10:00:00Z"},
    {"transaction_id": "T2", "amount": "3", "currency": "USD", "at": f"{DAY}T11:00:00Z"},
]
COLUMNS = {"transaction_id": "string", "amount": "double", "currency": "string", "at": "timestamp"}
GENERATION = Generation(1, "5d41402abc4b2a76")
# What `lake generate` renders as lake_pipelines/<p>/job.py (templates/job.py.j2), headers aside.
JOB_MODULE = """
from lake_assets.ingestion.promotion import promotion_job
from lake_assets.pipelines.hooks import PipelineHooks
from lake_hooks.examples import (
    amount_in_cents,
    friday_for_weekends,
    key_value_lines,
    normalise_currency,
)

HOOKS = PipelineHooks({hooks})


def job(spark, plan: dict) -> dict:
    return promotion_job(spark, plan, hooks=HOOKS)
"""


def tiny_plan(tmp_path, payload: str | None = None, fmt: str = "json") -> PromotionPlan:
    path = tmp_path / KEY
    path.parent.mkdir(parents=True)
    path.write_text(payload or "".join(json.dumps(r) + "\n" for r in RECORDS))
    return PromotionPlan(
        dataset="cards",
        partitions=(DAY,),
        event_time_column="at",
        columns={**COLUMNS, **LINEAGE_COLUMNS},
        inputs=(
            PlannedInput(
                version="v1",
                format=fmt,
                uris=(str(path),),
                keys=(KEY,),
                column_map={c: c for c in COLUMNS},
                records={KEY: len(payload.splitlines()) if payload else len(RECORDS)},
            ),
        ),
        schema_version="v1",
    )


def generated_job(tmp_path, monkeypatch, pipeline: str, hooks: str):
    """A generated job module as `lake generate` renders it, importable for this test."""
    path = tmp_path / f"{pipeline}_job.py"
    path.write_text(JOB_MODULE.format(hooks=hooks))
    spec = importlib.util.spec_from_file_location(f"lake_pipelines.{pipeline}.job", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setitem(sys.modules, spec.name, module)
    return module


def test_the_example_hooks_are_plain_functions():
    assert normalise_currency({"currency": " rm", "base_currency": "eur ", "x": None}) == {
        "currency": "MYR",
        "base_currency": "EUR",
        "x": None,
    }
    with pytest.raises(
        HookBroken,
        match=r"record_transform hook test_pipeline_hooks:.*<lambda> must .*added \['y'\]",
    ):
        transformed_record(lambda r: {**r, "y": "1"}, {"x": "a"})
    with pytest.raises(HookBroken, match=r"must return text or None; not text: \['x'\]"):
        transformed_record(lambda r: {"x": 1}, {"x": "a"})
    # 2026-03-07 and -08 are a Saturday and a Sunday.
    assert [friday_for_weekends(f"2026-03-0{d}") for d in (5, 6, 7, 8, 9)] == [
        "2026-03-05",
        "2026-03-06",
        "2026-03-06",
        "2026-03-06",
        "2026-03-09",
    ]


def test_a_hook_that_breaks_its_contract_fails_naming_itself(spark, tmp_path):
    plan = tiny_plan(tmp_path)

    def adds_a_key(record):
        return {**record, "note": "x"}

    def adds_a_column(frame):
        return frame.withColumn("note", frame.currency)

    def drops_rows(frame):
        return frame.filter("transaction_id = 'T1'")

    with pytest.raises(Exception, match=r"record_transform hook .*adds_a_key must return the keys"):
        promote(spark, plan, str(tmp_path / "a"), PipelineHooks(record_transform=adds_a_key))
    with pytest.raises(
        HookBroken, match=r"frame_transform hook .*adds_a_column .*added \['note'\]"
    ):
        promote(spark, plan, str(tmp_path / "b"), PipelineHooks(frame_transform=adds_a_column))
    with pytest.raises(
        Exception, match=r"partitioner hook .*<lambda> returned 'friday' for 2026-03-02, not an"
    ):
        promote(spark, plan, str(tmp_path / "d"), PipelineHooks(partitioner=lambda d: "friday"))
    with pytest.raises(HookBroken, match=r"drops_rows changed the number of rows \(2 in, 1 out\)"):
        promote(spark, plan, str(tmp_path / "c"), PipelineHooks(frame_transform=drops_rows))

    def overwrites_reasons(frame):  # should add its reason after those already there
        return frame.withColumn("_reject_reasons", F.lit("checked by hand"))

    # A malformed line, whose reason the hook drops: the audit would think it published.
    bad = tiny_plan(tmp_path / "bad", json.dumps(RECORDS[0]) + "\nnot json\n")
    bad = replace(bad, inputs=(replace(bad.inputs[0], malformed={KEY: 1}),))
    with pytest.raises(
        HookBroken,
        match=r"overwrites_reasons changed the reasons of malformed records \(1 in, 0 out",
    ):
        hooks = PipelineHooks(frame_transform=overwrites_reasons)
        promote(spark, bad, str(tmp_path / "e"), hooks)


def test_a_reader_reads_a_custom_format_alike_in_the_profiler_and_in_spark(spark, tmp_path):
    payload = (
        f"transaction_id=T1;amount=12.5;currency=MYR;at={DAY}T10:00:00Z\n"
        "a line that is no record\n"
        f"transaction_id=T2;amount=3;currency=USD;at={DAY}T11:00:00Z\n"
    )
    plan = tiny_plan(tmp_path, payload, "custom")
    profile = profile_file(tmp_path / KEY, "custom", reader=key_value_lines)
    assert (profile.row_count, profile.malformed_rows) == (2, 1)
    assert {f.name: f.type for f in profile.fields}["amount"] == "double"

    result = promote(spark, plan, str(tmp_path / "out"), PipelineHooks(reader=key_value_lines))
    # The audit's figures: Spark read the records the profiler counted, the bad one quarantined.
    assert (result.rows_read, result.observed_published, result.observed_quarantined) == (3, 2, 1)


def test_a_generated_source_runs_its_pipeline_job_and_records_its_code_version(
    spark, tmp_path, monkeypatch
):
    # The pipelines' generated job modules, under the names `pipeline.<p>` resolves to.
    module = generated_job(
        tmp_path, monkeypatch, "card_transactions", "normalise_currency, amount_in_cents"
    )
    generated_job(tmp_path, monkeypatch, "extracts", "reader=key_value_lines")
    generated_job(tmp_path, monkeypatch, "ledger", "partitioner=friday_for_weekends")
    assert job_function("pipeline.card_transactions") is module.job
    with pytest.raises(Exception, match="source id"):
        job_function("pipeline.../x")

    # The project's sources, card_transactions as a generated one, partitioned by the day its
    # files land.
    # And a pipeline of a custom format, read by its reader hook; one whose partitioner puts a
    # weekend's events in the Friday before.
    declared = yaml.safe_load(sources_file(tmp_path / "sources.yaml").read_text())
    generation = {"template_version": 1, "spec_hash": GENERATION.spec_hash}
    declared["sources"]["card_transactions"] |= {
        "generation": generation,
        "partitioning": "ingest_date",
    }
    declared["sources"]["extracts"] = {
        "format": "custom",
        "event_time_field": "at",
        "generation": generation,
    }
    declared["sources"]["ledger"] = {
        "format": "json",
        "event_time_field": "at",
        "generation": generation,
    }
    (tmp_path / "sources.yaml").write_text(json.dumps(declared))
    lake = Lake(tmp_path / "lake", sources=tmp_path / "sources.yaml")
    card = {"customer_id": "C001", "amount": 12.499999, "currency": "rm"}
    lines = [
        {**card, "transaction_id": "TXN-00001", "transaction_date": "2026-03-01T10:00:00Z"},
        {**card, "transaction_id": "TXN-00002", "transaction_date": None},
    ]
    lake.deliver(
        "card_transactions", DAY, "cards.json", "".join(json.dumps(r) + "\n" for r in lines)
    )
    lake.deliver("extracts", DAY, "extract.txt", f"id=E1;at={DAY}T09:00:00Z\nno record\n")
    # Thursday to Sunday, delivered on the Sunday.
    sunday, friday = "2026-03-08", "2026-03-06"
    entries = [{"id": f"L{d}", "at": f"2026-03-0{d}T23:30:00+00:00"} for d in (5, 6, 7, 8)]
    lake.deliver("ledger", sunday, "ledger.json", "".join(json.dumps(e) + "\n" for e in entries))
    # The runs its sensor and schedule request are tagged with the pipeline and its spec.
    defs = build_definitions(lake.settings, lake.resources)
    sensed = defs.resolve_sensor_def("raw_arrivals")(build_sensor_context(resources=lake.resources))
    daily = defs.resolve_schedule_def("daily_card_transactions")(
        build_schedule_context(
            scheduled_execution_time=datetime(2026, 3, 3, 2, tzinfo=UTC), resources=lake.resources
        )
    )
    assert {r.tags["lake/source"]: r.tags["lake/pipeline"] for r in sensed.run_requests} == {
        "card_transactions": "card_transactions",
        "extracts": "extracts",
        "ledger": "ledger",
    }
    assert daily.tags["lake/pipeline"] == "card_transactions"
    for request in (*sensed.run_requests, daily):
        assert request.tags["lake/spec_hash"] == GENERATION.spec_hash
    # Its assets link to the spec they were generated from.
    curated = defs.resolve_assets_def(curated_key_of("card_transactions"))
    [link] = curated.metadata_by_key[curated.key]["dagster/code_references"].code_references
    assert link.file_path.endswith("pipelines/card_transactions.yaml")
    # Its promotion runs the job `pipeline.card_transactions`: only that job has the hooks.
    for source in ("card_transactions", "extracts"):
        for run in (lake.profile(source, DAY), lake.promote(source, DAY)):
            assert run.success, failure_message(run)
    # The extract: its one record published, the line that is none quarantined.
    assert [r.id for r in lake.rows(spark, "extracts", [DAY]).collect()] == ["E1"]
    # The ledger: profiling counted the weekend's rows in Friday's partition, so Friday's plan
    # takes the file and Spark put them there too: the audit agreed and the run succeeded.
    for run in (lake.profile("ledger", sunday), lake.promote("ledger", friday)):
        assert run.success, failure_message(run)
    [indexed] = lake.registry.raw_files("ledger")
    assert partition_rows(indexed, "at") == {"2026-03-05": 1, friday: 3}
    assert sorted(r.id for r in lake.rows(spark, "ledger", [friday]).collect()) == [
        "L6",
        "L7",
        "L8",
    ]

    for key in (registry_key_of("card_transactions"), curated_key_of("card_transactions")):
        event = lake.instance.get_latest_materialization_event(key)
        assert event.asset_materialization.tags["dagster/code_version"] == "t1-5d41402abc4b"
    rows = lake.rows(spark, "card_transactions", [DAY]).collect()
    # Both rows in the day their file landed, the one without an event time too; and each of
    # the pipeline's hooks changed them: "rm" -> MYR before casting, 12.499999 -> 12.5 after.
    assert sorted((r.transaction_id, r.currency, r.amount) for r in rows) == [
        ("TXN-00001", "MYR", 12.5),
        ("TXN-00002", "MYR", 12.5),
    ]
