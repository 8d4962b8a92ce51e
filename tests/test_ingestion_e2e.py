"""The ingestion engine end to end through Dagster's `materialize`, on a temporary local lake."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from lake_harness import card, failure_message  # noqa: E402

from lake_assets.ingestion.asset_keys import curated_key_of, registry_key_of
from lake_assets.ingestion.schema_registry import approve
from lake_assets.tables.publish import expire_superseded
from resources.spark_runner import LocalSparkRunner, SparkRunner


def test_payloads_are_profiled_promoted_and_published(lake, spark):
    lake.deliver_cards("2026-03-02", range(0, 30))
    # One unreadable amount among forty does not change the field's type; the row is quarantined.
    lake.deliver_cards("2026-03-02", range(30, 70), name="with-a-bad-amount.json", bad_amounts={33})
    lake.deliver_cards("2026-03-03", range(70, 90))
    lake.deliver("card_transactions", "2026-03-03", "garbage.json", b"\x00\x01 not json at all")

    for day in ("2026-03-02", "2026-03-03"):
        assert lake.profile("card_transactions", day).success
    result = lake.promote("card_transactions", "2026-03-02", "2026-03-03")
    assert result.success, failure_message(result)

    published = {p.partition: p for p in lake.catalog.partitions("card_transactions")}
    assert published["2026-03-02"].row_count == 69
    assert published["2026-03-03"].row_count == 20
    rows = lake.rows(spark, "card_transactions")
    assert rows.count() == 89
    assert rows.filter("amount IS NULL OR transaction_date IS NULL").count() == 0
    assert dict(rows.dtypes)["amount"] == "double"
    # Nested objects arrive flattened: merchant.name becomes the column merchant__name.
    assert dict(rows.dtypes)["merchant__name"] == "string"
    assert {"_source_file", "_ingest_date", "event_date"} <= set(rows.columns)

    # Unreadable amounts are quarantined with their reason, not published as nulls.
    quarantined = spark.read.parquet(lake.storage.uri("quarantine/card_transactions/"))
    [bad] = quarantined.collect()
    assert bad["event_date"].isoformat() == "2026-03-02" and bad["amount"] is None
    assert bad["_reject_reasons"] == "amount: cannot read N/A as double"
    assert json.loads(bad["_raw_record"])["transaction_id"] == "TXN-00033"
    manifest = json.loads(
        lake.storage.get_bytes(published["2026-03-02"].location + "_manifest.json")
    )
    assert manifest["row_count"] + manifest["rows_quarantined"] == 70
    # A partition's manifest names its own raw files, not the whole range's.
    assert all("ingest_date=2026-03-02" in key for key in manifest["inputs"])
    assert len(manifest["inputs"]) == 2

    # The garbage payload is dead-lettered with its reason, and counted.
    dead = [r for r in lake.registry.raw_files("card_transactions") if r.status == "DEAD_LETTER"]
    assert len(dead) == 1 and "not valid JSON" in dead[0].reason
    letters = [
        i.key
        for i in lake.storage.list("dead-letter/source=card_transactions/ingest_date=2026-03-03/")
    ]
    assert len(letters) == 2 and any(k.endswith(".reason.json") for k in letters)
    # The registry's materialization of the day counts what profiling did with its files.
    profiled = lake.instance.fetch_materializations(registry_key_of("card_transactions"), 5)
    [march3_profile] = [
        r.asset_materialization.metadata
        for r in profiled.records
        if r.partition_key == "2026-03-03"
    ]
    assert {k: march3_profile[k].value for k in ("files_profiled", "files_dead_lettered")} == {
        "files_profiled": 1,
        "files_dead_lettered": 1,
    }
    assert march3_profile["rows_profiled"].value == 20
    # Profiling recorded the dead letter as an output of the raw payload it copied.
    from lake_assets.lineage.graph import trace

    # The range run traces each partition to its own raw files, not the whole range's.
    march3 = trace(lake.lineage.runs(), "card_transactions[2026-03-03]").leaves()
    assert march3 and all("ingest_date=2026-03-03" in key for key in march3)
    [letter] = [k for k in letters if not k.endswith(".reason.json")]
    assert dead[0].key in trace(lake.lineage.runs(), letter).leaves()  # run-level, as OpenLineage

    # Each partition of the range run carries its own figures, not the run's totals.
    records = lake.instance.fetch_materializations(curated_key_of("card_transactions"), 5).records
    metadata = {r.partition_key: r.asset_materialization.metadata for r in records}
    assert metadata["2026-03-02"]["rows_in"].value == 70
    assert metadata["2026-03-02"]["rows_published"].value == 69
    assert metadata["2026-03-02"]["rows_quarantined"].value == 1
    assert metadata["2026-03-03"]["rows_published"].value == 20


@pytest.mark.parametrize("renamed", [True, "keeps old key"], ids=["old key gone", "old key null"])
def test_a_rename_blocks_promotion_until_approved(lake, spark, renamed):
    """The seed's silent drift: `transaction_date` becomes `txn_date`, the old key gone or still
    sent as null (ADR-0130). Without the registry the curated table would carry nulls for every
    new record; here promotion refuses instead."""
    lake.deliver_cards("2026-03-02", range(0, 20))
    assert lake.profile("card_transactions", "2026-03-02").success
    assert lake.promote("card_transactions", "2026-03-02").success
    lake.deliver_cards("2026-03-03", range(20, 50), renamed=renamed)

    profiled = lake.profile("card_transactions", "2026-03-03")
    assert not profiled.success
    [check] = [
        e.event_specific_data
        for e in profiled.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    ]
    assert not check.passed and "transaction_date" in check.description
    alerts = [a for a in lake.notifier.alerts() if a.kind == "schema.breaking"]
    assert alerts and alerts[0].detail["rename_candidates"][0]["new"] == "txn_date"

    refused = lake.promote("card_transactions", "2026-03-03")
    assert not refused.success
    message = failure_message(refused)
    breaking = lake.registry.versions("card_transactions")[-1]
    assert (
        "card_transactions" in message
        and breaking.version in message
        and "transaction_date" in message
    )
    assert lake.catalog.current("card_transactions", "2026-03-03") is None

    for version in approve(
        lake.registry.versions("card_transactions"),
        breaking.version,
        datetime.now(UTC),
        renames={"txn_date": "transaction_date"},
    ):
        lake.registry.update_version(version)
    assert lake.promote("card_transactions", "2026-03-03").success
    day3 = lake.rows(spark, "card_transactions", ["2026-03-03"])
    assert day3.count() == 30
    assert day3.filter("transaction_date IS NULL").count() == 0


class FailingRunner(SparkRunner):
    """Writes like the real job, then dies before reporting: a crash mid-promotion."""

    def __init__(self, inner: SparkRunner):
        self.inner = inner

    def run(self, context, job, plan):
        self.inner.run(context, job, plan)
        raise RuntimeError("executor lost")


class MiscountingRunner(SparkRunner):
    def __init__(self, inner: SparkRunner):
        self.inner = inner

    def run(self, context, job, plan) -> dict:
        result = self.inner.run(context, job, plan)
        result["observed_published"] += 1
        return result


@pytest.mark.parametrize("runner", [FailingRunner, MiscountingRunner])
def test_a_failed_or_unreconciled_run_leaves_the_published_version_in_place(lake, spark, runner):
    lake.deliver_cards("2026-03-02", range(0, 10))
    lake.profile("card_transactions", "2026-03-02")
    assert lake.promote("card_transactions", "2026-03-02").success
    before = lake.catalog.current("card_transactions", "2026-03-02")

    lake.deliver_cards("2026-03-02", range(10, 25))
    lake.profile("card_transactions", "2026-03-02")
    lake.resources["spark_runner"] = runner(lake.resources["spark_runner"])
    result = lake.promote("card_transactions", "2026-03-02")
    assert not result.success
    if runner is MiscountingRunner:
        assert "audit failed" in failure_message(result)
    assert lake.catalog.current("card_transactions", "2026-03-02") == before
    assert lake.rows(spark, "card_transactions").count() == 10


class MeanwhileRunner(SparkRunner):
    """Runs the job after `meanwhile`: what another process does while a promotion runs."""

    def __init__(self, inner: SparkRunner, meanwhile):
        self.inner, self.meanwhile = inner, meanwhile

    def run(self, context, job, plan) -> dict:
        self.meanwhile()
        return self.inner.run(context, job, plan)


def test_a_version_deprecated_while_a_promotion_runs_stays_deprecated(lake, spark):
    """The run marks the versions it promoted on their current records, not on the ones it read
    before the job: a payload of a new shape profiled meanwhile deprecated the version."""
    lake.deliver_cards("2026-03-02", range(0, 10))
    lake.profile("card_transactions", "2026-03-02")
    [read] = lake.registry.versions("card_transactions")
    lake.resources["spark_runner"] = MeanwhileRunner(
        lake.resources["spark_runner"],
        lambda: lake.registry.update_version(replace(read, status="DEPRECATED")),
    )
    assert lake.promote("card_transactions", "2026-03-02").success
    [promoted] = lake.registry.versions("card_transactions")
    assert promoted.status == "DEPRECATED" and promoted.promoted_at is not None


def test_a_range_whose_day_another_run_published_meanwhile_publishes_the_rest_and_names_it(
    lake, spark
):
    """Range atomicity is per partition (ADR-0018): a promotion of two days whose second day
    another run published while its job ran publishes the first, refuses the second (its
    version moved) and names both in its failure; the other run's version stays, no row is
    doubled, and re-running the range publishes both."""
    mon, tue = "2026-03-02", "2026-03-03"
    for day, numbers in ((mon, range(0, 10)), (tue, range(10, 20))):
        lake.deliver_cards(day, numbers)
        lake.profile("card_transactions", day)
    inner = lake.resources["spark_runner"]

    def meanwhile():
        lake.resources["spark_runner"] = inner  # the other run's own runner
        assert lake.promote("card_transactions", tue).success

    lake.resources["spark_runner"] = MeanwhileRunner(inner, meanwhile)
    result = lake.promote("card_transactions", mon, tue)
    assert not result.success
    message = failure_message(result)
    assert f"published ['{mon}']; publishing {tue} failed" in message
    assert "Re-run the range" in message
    slow, fast = (lake.catalog.current("card_transactions", d) for d in (mon, tue))
    assert slow.run_id == result.run_id and fast.run_id != result.run_id
    assert f"card_transactions[{tue}] is at run {fast.run_id}" in message  # and why
    assert lake.rows(spark, "card_transactions").count() == 20
    assert lake.promote("card_transactions", mon, tue).success  # the range again
    again = [lake.catalog.current("card_transactions", d) for d in (mon, tue)]
    assert again[0].run_id == again[1].run_id not in (slow.run_id, fast.run_id)
    assert lake.rows(spark, "card_transactions").count() == 20


def test_a_rerun_without_a_set_aside_file_traces_to_the_files_it_read(lake, spark):
    """End to end (the unit tests use synthetic runs): a day promoted from two files, one of
    them then set aside and the day promoted again. Its trace leads to the one file it was
    rebuilt from, not to the superseded run's second file; as of the first run, to both."""
    from lake_assets.ingestion.raw_decisions import set_aside
    from lake_assets.lineage.graph import trace
    from lake_assets.lineage.model import partition_address

    day = "2026-03-02"
    lake.deliver_cards(day, range(0, 5), name="good.json")
    lake.deliver_cards(day, range(5, 8), name="wrong.json")
    lake.profile("card_transactions", day)
    first = lake.promote("card_transactions", day)
    assert first.success
    landed = [r.key for r in lake.registry.raw_files("card_transactions")]
    keys = {
        name: next(k for k in landed if k.endswith(name)) for name in ("good.json", "wrong.json")
    }
    set_aside(lake.registry, lake.notifier, "card_transactions", keys["wrong.json"], "wrong", "ops")
    second = lake.promote("card_transactions", day)
    assert second.success and lake.catalog.current("card_transactions", day).row_count == 5
    address = partition_address("card_transactions", day)
    now = trace(lake.lineage.runs(), address)
    assert now.leaves() == {keys["good.json"]}
    assert now.run_id == second.run_id and now.supersedes == first.run_id
    then = trace(lake.lineage.runs(), address, as_of_run=first.run_id)
    assert then.leaves() == {keys["good.json"], keys["wrong.json"]}


def test_republishing_supersedes_and_retention_removes_the_old_version(lake, spark):
    lake.deliver_cards("2026-03-02", range(0, 10))
    lake.profile("card_transactions", "2026-03-02")
    lake.promote("card_transactions", "2026-03-02")
    first = lake.catalog.current("card_transactions", "2026-03-02")
    lake.deliver_cards("2026-03-02", range(10, 15))
    lake.profile("card_transactions", "2026-03-02")
    lake.promote("card_transactions", "2026-03-02")
    second = lake.catalog.current("card_transactions", "2026-03-02")

    assert second.run_id != first.run_id and second.row_count == 15
    assert lake.rows(spark, "card_transactions").count() == 15  # the reader sees one version
    assert list(lake.storage.list(first.location))  # kept during the retention period
    removed = expire_superseded(
        lake.catalog, lake.storage, 0, datetime.now(UTC) + timedelta(seconds=1)
    )
    assert removed == [first.location]
    assert not list(lake.storage.list(first.location))
    assert list(lake.storage.list(second.location))


def test_customers_csv_snapshots_are_promoted(lake, spark):
    header = "customer_id,full_name,risk_score,date_of_birth,snapshot_date\n"
    lake.deliver(
        "customers",
        "2026-03-02",
        "customers.csv",
        header
        + "".join(
            f"C{i:03d},Name {i},{i * 3},1980-01-0{i % 9 + 1},2026-03-02\n" for i in range(25)
        ),
    )
    assert lake.profile("customers", "2026-03-02").success
    assert lake.promote("customers", "2026-03-02").success
    rows = lake.rows(spark, "customers")
    assert rows.count() == 25
    types = dict(rows.dtypes)
    assert types["risk_score"] == "bigint" and types["date_of_birth"] == "date"


def test_local_runner_uses_the_shared_session(lake, spark):
    runner = lake.resources["spark_runner"]
    assert isinstance(runner, LocalSparkRunner)
    assert runner.spark_session is spark


def test_rows_without_event_time_are_quarantined_on_their_ingest_date(lake, spark):
    records = [card(n, "2026-03-02") for n in range(5)]
    records[0]["transaction_date"] = None
    records[1]["transaction_date"] = "not a time"
    lake.deliver(
        "card_transactions",
        "2026-03-02",
        "cards.json",
        "".join(json.dumps(r) + "\n" for r in records),
    )
    lake.profile("card_transactions", "2026-03-02")
    assert lake.promote("card_transactions", "2026-03-02").success
    assert lake.catalog.current("card_transactions", "2026-03-02").row_count == 3
    reasons = [
        r["_reject_reasons"] for r in spark.read.parquet(lake.storage.uri("quarantine/")).collect()
    ]
    assert len(reasons) == 2 and all("event time transaction_date" in r for r in reasons)


def test_lineage_traces_a_published_partition_to_its_raw_files_after_a_rerun(lake, spark):
    from lake_assets.lineage.graph import impact, trace

    lake.deliver_cards("2026-03-02", range(0, 5))
    lake.profile("card_transactions", "2026-03-02")
    lake.promote("card_transactions", "2026-03-02")
    first = {r.key for r in lake.registry.raw_files("card_transactions")}
    first_run = lake.catalog.current("card_transactions", "2026-03-02").run_id
    lake.deliver_cards("2026-03-02", range(5, 8))
    lake.profile("card_transactions", "2026-03-02")
    lake.promote("card_transactions", "2026-03-02")
    every = {r.key for r in lake.registry.raw_files("card_transactions")}
    published = lake.catalog.current("card_transactions", "2026-03-02")

    runs = lake.lineage.runs()
    tree = trace(runs, "card_transactions[2026-03-02]")
    assert set(tree.leaves()) == every and tree.run_id == published.run_id
    assert tree.supersedes == first_run  # the rerun links to the run it replaced
    assert set(trace(runs, "card_transactions[2026-03-02]", as_of_run=first_run).leaves()) == first
    a_file = (
        published.location
        + json.loads(lake.storage.get_bytes(published.location + "_manifest.json"))["files"][0]
    )
    assert set(trace(runs, a_file).leaves()) == every
    [raw] = sorted(every - first)[:1]
    assert "card_transactions[2026-03-02]" in json.dumps(impact(runs, raw).__dict__, default=str)
