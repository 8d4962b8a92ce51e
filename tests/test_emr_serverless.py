"""Spark jobs on EMR Serverless end to end, on moto: the aws profile's runner submits through
PipesEMRServerlessClient, the fake EMR Serverless (tests/emr_fake.py) executes the entry point
with exactly the parameters it was sent, and context and messages go through S3 on moto."""

from __future__ import annotations

from dagster_pipes import decode_param
from lake_harness import failure_message
from pyspark.sql import functions as F

from lake_assets.cli.runs import step_failures
from resources.spark_runner import PIPES_PREFIX

DATA_COLUMNS = ["transaction_id", "customer_id", "amount", "merchant__name", "transaction_date"]
# Besides the data, where each row came from: the raw file's name as delivered (its key starts
# with the landing time, as does _ingested_at, which differ between the two lakes) and its days.
LINEAGE = ["delivered_as", "_ingest_date", "event_date"]


def pipes_params(run, name: str) -> dict:
    """A Pipes bootstrap parameter (DAGSTER_PIPES_CONTEXT / _MESSAGES) the job was sent."""
    return decode_param(run.driver_env[name])


def deliver_and_promote(lake) -> None:
    lake.deliver_cards("2026-03-02", range(0, 12))
    lake.deliver_cards("2026-03-03", range(12, 52), name="one-bad.json", bad_amounts={20})
    for day in ("2026-03-02", "2026-03-03"):
        profiled = lake.profile("card_transactions", day)
        assert profiled.success, failure_message(profiled)
    result = lake.promote("card_transactions", "2026-03-02", "2026-03-03")
    assert result.success, failure_message(result)


def test_promotion_on_emr_serverless_publishes_the_rows_it_publishes_locally(emr_lake, lake, spark):
    deliver_and_promote(emr_lake)
    deliver_and_promote(lake)

    [run] = emr_lake.emr.runs
    # The entry point writes to the S3 channel the runner reads (it used to fail here with
    # "DagsterPipesError: Invalid params for PipesDefaultMessageWriter").
    assert run.state == "SUCCESS", run.driver_log
    # The plan travelled in the context on S3, not inline in sparkSubmitParameters.
    parameters = run.request["jobDriver"]["sparkSubmit"]["sparkSubmitParameters"]
    assert "card_transactions" not in parameters
    context = pipes_params(run, "DAGSTER_PIPES_CONTEXT")
    messages = pipes_params(run, "DAGSTER_PIPES_MESSAGES")
    assert context["bucket"] == messages["bucket"] == "lake"
    assert context["key"].startswith(PIPES_PREFIX) and context["key"].endswith("/context.json")
    assert messages["key_prefix"].startswith(PIPES_PREFIX)
    # The job wrote its messages to S3 (the orchestrator read its result from there), and the
    # context was removed once the run was over.
    s3 = emr_lake.emr.s3
    chunks = s3.list_objects_v2(Bucket="lake", Prefix=messages["key_prefix"] + "/")["Contents"]
    assert any(
        '"result"' in s3.get_object(Bucket="lake", Key=c["Key"])["Body"].read().decode()
        for c in chunks
    )
    assert "Contents" not in s3.list_objects_v2(Bucket="lake", Prefix=context["key"])

    counts = {p.partition: p.row_count for p in emr_lake.catalog.partitions("card_transactions")}
    assert counts == {
        p.partition: p.row_count for p in lake.catalog.partitions("card_transactions")
    }
    assert counts == {"2026-03-02": 12, "2026-03-03": 39}

    def published(on) -> list:
        rows = on.rows(spark, "card_transactions").withColumn(
            "delivered_as", F.regexp_extract("_source_file", r"/[^/-]+-[^/-]+-([^/]+)$", 1)
        )
        rows = rows.select(*DATA_COLUMNS, *LINEAGE)
        return sorted(tuple(row) for row in rows.collect())

    on_emr = published(emr_lake)
    assert on_emr == published(lake)
    assert {row[5] for row in on_emr} == {"cards-2026-03-02-0.json", "one-bad.json"}


def test_a_failed_job_on_emr_serverless_fails_the_run_with_its_own_error(emr_lake):
    emr_lake.deliver_cards("2026-03-02", range(0, 5))
    assert emr_lake.profile("card_transactions", "2026-03-02").success
    # The raw object disappears behind the registry's back: Spark cannot read the plan's file.
    [landed] = emr_lake.storage.list("raw/source=card_transactions/")
    emr_lake.emr.s3.delete_object(Bucket="lake", Key=landed.key)

    result = emr_lake.promote("card_transactions", "2026-03-02")

    assert not result.success
    [run] = emr_lake.emr.runs
    assert run.state == "FAILED"
    [reason] = step_failures(result)
    # A generated source runs its pipeline's own job (issue 15).
    assert "Spark job pipeline.card_transactions failed on EMR Serverless application" in reason
    assert "AnalysisException: [PATH_NOT_FOUND] Path does not exist" in reason
    assert "plan.dataset=card_transactions" in reason and "plan.partitions=[2026-03-02]" in reason
    assert emr_lake.catalog.partitions("card_transactions") == []
