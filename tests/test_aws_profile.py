"""The aws profile wired as production wires it (resources.build_resources with
LAKE_PROFILE=aws), against a moto server over HTTP: landing in S3, S3 event notifications
through SQS into the arrival sensor, profiling into DynamoDB, alerts through SNS, publishing
through Glue. Spark itself cannot write to S3 here (no hadoop-aws jars), so the publish step
is fed a promotion result; the Spark job is covered by the local end-to-end tests."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import boto3
import pytest
from aws_lake import REGION, open_aws_lake
from dagster import DagsterInstance, build_sensor_context

from lake_assets.cli.runs import materialize_partitions
from lake_assets.ingestion.asset_keys import registry_key_of
from lake_assets.ingestion.intake import land_payload
from lake_assets.ingestion.promotion import PartitionResult, PromotionResult
from lake_assets.ingestion.promotion_plan import plan_promotion
from lake_assets.ingestion.publish import publish_partitions
from lake_assets.ingestion.sensors import build_arrival_sensor
from lake_assets.ingestion.sweep import MAX_SWEPT_DAYS, SWEEP_EVERY, swept_days, utc_now
from resources.aws.glue import GlueCatalog


@pytest.fixture
def aws_lake(aws_endpoint, tmp_path):
    return open_aws_lake(aws_endpoint, tmp_path)


def write(path, date_field="transaction_date", count=4):
    path.write_text(
        "".join(
            json.dumps(
                {"transaction_id": f"T{i}", "amount": 10.0 + i, date_field: "2026-03-02T08:00:00Z"}
            )
            + "\n"
            for i in range(count)
        )
    )
    return path


def test_s3_events_drive_profiling_into_dynamodb_and_alert_through_sns(aws_lake, tmp_path):
    settings, res, alerts = aws_lake
    source = settings.source("card_transactions")
    info = land_payload(res["storage"], source, write(tmp_path / "a.json"), "2026-03-02")
    assert res["storage"].uri(info.key).startswith("s3://lake/raw/source=card_transactions/")

    sensor = build_arrival_sensor(sorted(settings.sources), settings.partitions_start)
    resources = {k: res[k] for k in ("arrivals", "registry", "notifier", "storage")}
    tick = sensor(build_sensor_context(resources=resources))
    [request] = tick.run_requests
    assert request.partition_key == "2026-03-02"
    assert request.asset_selection == [registry_key_of("card_transactions")]
    # The queue messages were acknowledged: the next tick sees nothing.
    assert sensor(build_sensor_context(resources=resources)).run_requests == []

    instance = DagsterInstance.ephemeral()
    run = materialize_partitions(
        settings,
        [registry_key_of("card_transactions")],
        "2026-03-02",
        resources=res,
        instance=instance,
    )
    assert run.success
    [version] = res["registry"].versions("card_transactions")
    assert version.status == "ACTIVE" and set(version.fields) == {
        "transaction_id",
        "amount",
        "transaction_date",
    }
    item = boto3.client(
        "dynamodb", endpoint_url=settings.aws.endpoint_url, region_name=REGION
    ).get_item(
        TableName=settings.aws.registry_table,
        Key={"source_id": {"S": "card_transactions"}, "version": {"S": version.version}},
    )["Item"]
    assert item["status"] == {"S": "ACTIVE"} and "amount" in item["fields"]["M"]

    # The renamed field arrives: BREAKING in DynamoDB, alert on SNS, blocking check fails.
    land_payload(
        res["storage"], source, write(tmp_path / "b.json", date_field="txn_date"), "2026-03-03"
    )
    run = materialize_partitions(
        settings,
        [registry_key_of("card_transactions")],
        "2026-03-03",
        resources=res,
        instance=instance,
    )
    assert not run.success
    assert [v.status for v in res["registry"].versions("card_transactions")] == [
        "ACTIVE",
        "BREAKING",
    ]
    [alert] = alerts()
    assert alert["kind"] == "schema.breaking"
    assert alert["detail"]["rename_candidates"][0] == {
        "old": "transaction_date",
        "new": "txn_date",
        "confidence": pytest.approx(alert["detail"]["rename_candidates"][0]["confidence"]),
    }


def test_an_object_whose_notification_was_lost_is_found_by_the_hourly_sweep(
    aws_lake, tmp_path, monkeypatch
):
    """A purged queue stands for any lost notification (a wrong queue policy for a while,
    messages past retention): the object is profiled after the next sweep, and only once."""
    settings, res, _ = aws_lake
    source = settings.source("card_transactions")
    start = utc_now()
    today, yesterday = start.date(), start.date() - timedelta(days=1)
    lost = land_payload(res["storage"], source, write(tmp_path / "a.json"), yesterday.isoformat())
    sqs = boto3.client("sqs", endpoint_url=settings.aws.endpoint_url, region_name=REGION)
    sqs.purge_queue(QueueUrl=settings.aws.arrivals_queue_url)
    land_payload(res["storage"], source, write(tmp_path / "b.json"), today.isoformat())
    sensor = build_arrival_sensor(sorted(settings.sources), settings.partitions_start)
    resources = {k: res[k] for k in ("arrivals", "registry", "notifier", "storage")}
    clock = [start]
    monkeypatch.setattr("lake_assets.ingestion.sensors.utc_now", lambda: clock[0])
    instance = DagsterInstance.ephemeral()
    cursor = None

    def tick(after: timedelta) -> list:
        nonlocal cursor
        clock[0] = start + after
        result = sensor(build_sensor_context(cursor=cursor, resources=resources))
        cursor = result.cursor
        for request in result.run_requests:  # as the daemon would run them
            run = materialize_partitions(
                settings,
                request.asset_selection,
                request.partition_key,
                resources=res,
                instance=instance,
            )
            assert run.success
        return result.run_requests

    # The notified object at once; the sweep of this first tick leaves both objects alone
    # (younger than SETTLE: their notifications may still be on their way).
    [notified] = tick(timedelta(0))
    assert notified.partition_key == today.isoformat() and "lake/found_by" not in notified.tags
    assert res["registry"].get_raw_file("card_transactions", lost.key) is None
    assert tick(timedelta(minutes=30)) == []  # no sweep within the hour
    [found] = tick(SWEEP_EVERY + timedelta(minutes=1))
    assert found.partition_key == yesterday.isoformat()
    assert found.tags["lake/found_by"] == "sweep" and found.tags["lake/arrivals"] == "1"
    assert res["registry"].get_raw_file("card_transactions", lost.key).etag == lost.etag
    # Everything is profiled: the next sweep requests nothing.
    assert tick(2 * SWEEP_EVERY + timedelta(minutes=2)) == []


def test_after_days_without_a_sweep_it_lists_every_ingest_date_since_the_last_one(
    aws_lake, tmp_path, monkeypatch
):
    """The daemon was down six days and the queue's messages outlived it: the object landed five
    days ago is under an ingest date three days of sweeping would not list."""
    settings, res, _ = aws_lake
    source = settings.source("card_transactions")
    now = utc_now()
    sensor = build_arrival_sensor(sorted(settings.sources), settings.partitions_start)
    resources = {k: res[k] for k in ("arrivals", "registry", "notifier", "storage")}
    clock = [now - timedelta(days=6)]
    monkeypatch.setattr("lake_assets.ingestion.sensors.utc_now", lambda: clock[0])
    before = sensor(build_sensor_context(resources=resources))  # the last tick before the pause
    assert before.run_requests == []

    five_days_ago = (now - timedelta(days=5)).date().isoformat()
    lost = land_payload(res["storage"], source, write(tmp_path / "a.json"), five_days_ago)
    sqs = boto3.client("sqs", endpoint_url=settings.aws.endpoint_url, region_name=REGION)
    sqs.purge_queue(QueueUrl=settings.aws.arrivals_queue_url)

    clock[0] = now + SWEEP_EVERY
    [found] = sensor(build_sensor_context(cursor=before.cursor, resources=resources)).run_requests
    assert found.partition_key == five_days_ago and found.tags["lake/found_by"] == "sweep"
    assert found.tags["lake/arrivals"] == "1"
    run = materialize_partitions(
        settings,
        found.asset_selection,
        found.partition_key,
        resources=res,
        instance=DagsterInstance.ephemeral(),
    )
    assert run.success
    assert res["registry"].get_raw_file("card_transactions", lost.key).etag == lost.etag


def test_the_days_a_sweep_lists_reach_back_to_its_last_sweep_within_a_bound():
    today = date(2026, 3, 10)
    at = lambda day: datetime(2026, 3, day, 12, tzinfo=UTC)  # noqa: E731
    assert swept_days(today, None) == ([date(2026, 3, 10), date(2026, 3, 9), date(2026, 3, 8)], 0)
    assert swept_days(today, at(10))[0] == swept_days(today, None)[0]  # an hour ago
    days, left_out = swept_days(today, at(4))  # six days ago: from the day before it
    assert (days[-1], len(days), left_out) == (date(2026, 3, 3), 8, 0)
    days, left_out = swept_days(date(2026, 5, 10), at(1))  # 70 days: the bound, the rest named
    assert len(days) == MAX_SWEPT_DAYS and left_out == 72 - MAX_SWEPT_DAYS


def test_publish_switches_the_glue_partition_location(aws_lake, tmp_path):
    settings, res, _ = aws_lake
    source = settings.source("card_transactions")
    info = land_payload(res["storage"], source, write(tmp_path / "a.json"), "2026-03-02")
    from lake_assets.ingestion.intake import profile_objects

    profile_objects(res["storage"], res["registry"], res["notifier"], source, [info])
    plan = plan_promotion(
        "card_transactions",
        "transaction_date",
        "json",
        ["2026-03-02"],
        res["registry"].versions("card_transactions"),
        res["registry"].raw_files("card_transactions"),
        res["storage"].uri,
    )
    assert plan.inputs[0].uris == (f"s3://lake/{info.key}",)
    replaced = ""  # the version each publish expects to replace
    for run_id in ("run-one", "run-two"):
        result = PromotionResult(
            "card_transactions",
            rows_read=4,
            observed_published=4,
            observed_quarantined=0,
            partitions={"2026-03-02": PartitionResult("2026-03-02", 4, 0, ["part-0.parquet"])},
            written_schema={},
        )
        publish_partitions(
            res["catalog"], res["storage"], plan, result, run_id, {"2026-03-02": replaced}
        )
        replaced = run_id
    catalog: GlueCatalog = res["catalog"]
    current = catalog.current("card_transactions", "2026-03-02")
    assert current.run_id == "run-two" and current.row_count == 4
    glue = boto3.client("glue", endpoint_url=settings.aws.endpoint_url, region_name=REGION)
    partition = glue.get_partition(
        DatabaseName=settings.aws.glue_database,
        TableName="card_transactions",
        PartitionValues=["2026-03-02"],
    )["Partition"]
    assert (
        partition["StorageDescriptor"]["Location"]
        == "s3://lake/curated/card_transactions/run=run-two/_zone=published/event_date=2026-03-02/"
    )
    manifest = json.loads(res["storage"].get_bytes(current.location + "_manifest.json"))
    assert manifest["inputs"] == [info.key]


def test_compaction_the_mart_and_lateness_run_their_jobs_on_the_aws_profiles_runner(
    aws_lake, tmp_path, monkeypatch, capsys
):
    """None refuses under aws: each plans against Glue and S3, hands its job to the profile's
    EMR Serverless runner, and audits and publishes what the job reports. The runner is played
    here (it answers as the job would and writes the files it names); the jobs themselves run
    through Pipes in tests/test_jobs_over_pipes.py."""
    import argparse

    from dagster import materialize

    from lake_assets.compaction.assets import build_compaction_asset
    from lake_assets.compaction.policy import CompactionPolicy, Selection
    from lake_assets.ingestion.intake import profile_objects
    from lake_assets.ingestion.promotion_cli import cmd_lateness
    from lake_assets.marts.assets import build_spend_by_customer
    from partitions import daily_partitions
    from resources.aws.dynamo_compaction import DynamoCompactionHistory
    from resources.spark_runner import EmrServerlessRunner

    settings, res, _ = aws_lake
    storage, day = res["storage"], "2026-03-02"
    assert isinstance(res["spark_runner"], EmrServerlessRunner)
    connection = {"endpoint_url": settings.aws.endpoint_url, "region": REGION}
    DynamoCompactionHistory.create_table(settings.aws.compaction_history_table, **connection)
    source = settings.source("card_transactions")
    info = land_payload(storage, source, write(tmp_path / "a.json"), day)
    profile_objects(storage, res["registry"], res["notifier"], source, [info])
    plan = plan_promotion(
        "card_transactions",
        "transaction_date",
        "json",
        [day],
        res["registry"].versions("card_transactions"),
        res["registry"].raw_files("card_transactions"),
        storage.uri,
    )
    small = ["part-0.parquet", "part-1.parquet"]
    result = PromotionResult(
        "card_transactions", 4, 4, 0, {day: PartitionResult(day, 4, 0, small)}, {}
    )
    [promoted] = publish_partitions(res["catalog"], storage, plan, result, "run-one", {day: ""})
    for name in small:
        storage.put_bytes(promoted.location + name, b"PAR1")

    answers = {
        "compaction_rewrite": ({"files": {"part-00000.parquet": 4}}, "target_uri"),
        "spend_by_customer": (
            {
                "rows": 3,
                "files": ["part-00000.parquet"],
                "transactions": 4,
                "null_customer_ids": 0,
            },
            "output_uri",
        ),
        "lateness": (
            {
                "rows": 4,
                "hours": {"p50": 1.5, "p95": 2.0, "p99": 2.0},
                "rows_by_days_late": [[0, 4]],
            },
            None,
        ),
    }
    submitted = []

    charged = {}

    def played(runner, context, job, plan):
        submitted.append((type(runner), job, plan))
        charged[job] = {k: v for k, v in context.run.tags.items() if k.startswith("lake/charged")}
        answer, folder = answers[job]
        for name in answer["files"] if folder else ():
            storage.put_bytes(plan[folder].removeprefix("s3://lake/") + name, b"PAR1")
        return answer

    monkeypatch.setattr(EmrServerlessRunner, "run", played)
    keys = ("settings", "storage", "catalog", "lineage", "compaction_history", "spark_runner")
    compaction = build_compaction_asset([source], CompactionPolicy(Selection(min_files=2)))
    assert materialize([compaction], resources={k: res[k] for k in keys}).success
    compacted = res["catalog"].current("card_transactions", day)
    assert "/compaction=" in compacted.location and compacted.row_count == 4
    mart = build_spend_by_customer(daily_partitions())
    mart_keys = ("settings", "storage", "catalog", "lineage", "spark_runner")
    assert materialize([mart], partition_key=day, resources={k: res[k] for k in mart_keys}).success
    spend = res["catalog"].current("spend_by_customer", day)
    assert spend.row_count == 3
    manifest = json.loads(storage.get_bytes(spend.location + "_manifest.json"))
    assert manifest["files"] == ["part-00000.parquet"]
    assert cmd_lateness(argparse.Namespace(source="card_transactions"), settings) == 0
    assert "card_transactions: 4 published records; lateness p50 1.5 h" in capsys.readouterr().out
    # `lake lateness`'s run names what it is charged to, as the EMR job run's tags will.
    assert charged["lateness"] == {
        "lake/charged_dataset": "card_transactions",
        "lake/charged_owner": source.asset_owner,
    }

    assert [(kind, job) for kind, job, _ in submitted] == [
        (EmrServerlessRunner, "compaction_rewrite"),
        (EmrServerlessRunner, "spend_by_customer"),
        (EmrServerlessRunner, "lateness"),
    ]
    rewrite, spend_plan, lateness = (plan for _, _, plan in submitted)
    assert rewrite["source_uris"] == [f"s3://lake/{promoted.location}{n}" for n in small]
    assert rewrite["target_uri"] == f"s3://lake/{compacted.location}"
    [cards] = spend_plan["cards"]["groups"]
    assert cards["uris"] == [f"s3://lake/{compacted.location}part-00000.parquet"]
    assert spend_plan["customers"] is None
    assert spend_plan["output_uri"] == f"s3://lake/{spend.location}"
    assert lateness["resolved"]["groups"] == spend_plan["cards"]["groups"]
