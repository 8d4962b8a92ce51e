"""Every registered Spark job besides promotion on EMR Serverless end to end, on moto: one tiny
lake (a day of customers and cards, promoted on EMR), then the history apply, `lake scd as-of`,
the mart, `lake lateness` and compaction each run once through the fake EMR Serverless
(tests/emr_fake.py) and give what the same lake gives locally. This is also where the mart and
compaction assets are shown to publish the same on a remote runner (Pipes) as in-process."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from dagster import materialize
from lake_harness import failure_message
from test_history_e2e import snapshot
from test_jobs_over_pipes import land_cards

from lake_assets.compaction.assets import build_compaction_asset
from lake_assets.compaction.policy import CompactionPolicy, Selection
from lake_assets.history.apply import current_history, history_as_of
from lake_assets.history.assets import history_key_of
from lake_assets.ingestion.lateness import LatenessReport, lateness_plan
from lake_assets.marts.assets import SPEND_BY_CUSTOMER
from lake_assets.tables.reader import published_files, resolve_published

CARDS = "card_transactions"
DAY = "2025-01-02"  # long out of the lookback window: compaction seals and rewrites it
# Where and when each file landed differs between the two lakes (the raw key holds the landing
# time and a random id); the rows themselves must not.
LANDING = ("_ingested_at", "_source_file")
SEGMENTS = {"C000": "retail", "C001": "premier", "C002": "sme"}


def build(lake) -> None:
    """A day of customers and of cards in two files (a small-file partition), landed at fixed
    instants (lateness is measured from them), profiled and promoted."""
    lake.deliver("customers", DAY, "customers.csv", snapshot(DAY, SEGMENTS))
    land_cards(lake, DAY, range(0, 5), DAY, datetime(2025, 1, 2, 23, tzinfo=UTC))
    land_cards(lake, DAY, range(5, 9), DAY, datetime(2025, 1, 4, 6, tzinfo=UTC))
    for source in ("customers", CARDS):
        profiled = lake.profile(source, DAY)
        assert profiled.success, failure_message(profiled)
        promoted = lake.promote(source, DAY)
        assert promoted.success, failure_message(promoted)


def everything(lake, spark) -> dict:
    """Each job run once on `lake`, and what it produced."""
    out = {}
    build(lake)
    out["cards"] = sorted(tuple(r) for r in lake.rows(spark, CARDS).drop(*LANDING).collect())

    applied = lake.materialize([history_key_of("customers")], DAY)
    assert applied.success, failure_message(applied)
    storage = lake.local_copy() if hasattr(lake, "local_copy") else lake.storage
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
    result = lake.spark_runner.run_standalone(
        "lateness", lateness_plan(resolved, "transaction_date")
    )
    out["lateness"] = LatenessReport.from_result(CARDS, result).describe(3)

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
    out["compacted"] = sorted(tuple(r) for r in lake.rows(spark, CARDS).drop(*LANDING).collect())
    return out


def test_every_job_runs_on_emr_serverless_as_it_runs_locally(emr_lake, lake, spark):
    on_emr = everything(emr_lake, spark)
    local = everything(lake, spark)

    runs = [(r.request.get("name"), r.state) for r in emr_lake.emr.runs]
    print(runs)
    assert all(r.state == "SUCCESS" for r in emr_lake.emr.runs), [
        r.driver_log for r in emr_lake.emr.runs if r.state != "SUCCESS"
    ]

    assert on_emr == local
    assert len(on_emr["cards"]) == 9
    assert on_emr["history"] and on_emr["as_of"] == sorted(SEGMENTS.items())
    assert len(on_emr["mart"]) == 7 and sum(r[2] for r in on_emr["mart"]) == 9
    assert on_emr["mart_version"] == (7, 1)
    assert on_emr["files"] == (2, 1)
    assert on_emr["compacted"] == on_emr["cards"]
    print(on_emr["lateness"])
