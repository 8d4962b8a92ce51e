"""Tagging compliance of the bill (lake_assets/cost/tagging.py, tag_escalation.py): the checker
on hand-made CUR line items with exact costs and shares, the escalation replayed over simulated
days, the state on S3 with alerts through SNS, and the check in the graph."""

from __future__ import annotations

import argparse
import json
from datetime import date, timedelta

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dagster import AssetKey, Definitions, asset, materialize

from lake_assets.config import ConfigError
from lake_assets.cost.model import CUR_DATASET, to_nanos
from lake_assets.cost.tag_escalation import RESOLVED, escalate
from lake_assets.cost.tagging import (
    TAGS_TYPE,
    TaggingPolicy,
    TagProblem,
    check_tags,
    load_tagging_policy,
)
from lake_assets.cost.tagging_assets import TAGGING_CHECK, tagging_definitions
from lake_assets.cost.tagging_cli import add_tagging_command
from lake_assets.cost.tagging_service import (
    STATE_KEY,
    escalate_and_notify,
    lake_vocabulary,
    read_state,
)
from lake_assets.settings import load_settings
from lake_assets.tables.locations import published_month_location
from lake_assets.tables.publish import publish
from partitions import monthly_partitions
from resources.catalog import PublishedPartition, SQLiteCatalog
from resources.notifier import LocalNotifier
from resources.storage import LocalStorage

MONTH = "2026-11"
POLICY = TaggingPolicy(alert_after_days=3, incident_after_days=7)
APP = "arn:aws:emr-serverless:eu-west-1:000000000000:/applications/app1"
TABLE = "arn:aws:dynamodb:eu-west-1:000000000000:table/lake-events"
GOOD = {
    "user_team": "payments-data",
    "user_pipeline": "card_transactions",
    "user_environment": "prod",
}


@pytest.fixture(scope="module")
def known():
    return lake_vocabulary(load_settings(), POLICY)


def line(resource: str, cost: str, tags: dict | None, **more) -> dict:
    return {
        "line_item_line_item_type": "Usage",
        "line_item_product_code": "AmazonS3",
        "line_item_resource_id": resource,
        "line_item_usage_type": "TimedStorage-ByteHrs",
        "line_item_usage_start_date": f"{MONTH}-01T00:00:00",
        "line_item_unblended_cost": cost,
        "resource_tags": tags,
        **more,
    }


def test_the_lake_knows_its_teams_and_pipelines(known):
    assert {"payments-data", "data-platform", "treasury-data"} <= known["team"]
    assert {"card_transactions", "fx_rates", "platform"} <= known["pipeline"]
    assert known["environment"] == {"dev", "staging", "prod"}


def test_checker_lists_each_wrong_tag_with_its_cost_and_share(known):
    lines = [
        line(APP, "10.00", GOOD, line_item_product_code="ElasticMapReduce"),
        line("lake-bucket", "2.50", {k: v for k, v in GOOD.items() if k != "user_team"}),
        line(TABLE, "1.25", {**GOOD, "user_team": "paymnts-data"}),
        line(
            "glue-db",
            "0.75",
            {"user_Team": "payments-data", "user_pipeline": "platform", "user_environment": "prod"},
        ),
        line("primary", "0.50", {**GOOD, "user_environment": "  "}),
        line(
            "",
            "0.123456789",
            None,
            line_item_product_code="AWSDataTransfer",
            line_item_usage_type="EU-DataTransfer-Out-Bytes",
        ),
        line(
            "",
            "0.000000001",
            {},
            line_item_product_code="AWSDataTransfer",
            line_item_usage_type="EU-DataTransfer-Out-Bytes",
        ),
        # Tax carries no resource's tags: part of the bill, never listed.
        line("", "1.00", None, line_item_line_item_type="Tax", line_item_product_code="AmazonS3"),
    ]
    report = check_tags(MONTH, lines, POLICY, known)

    bill = to_nanos("16.12345679")
    assert report.bill_nanos == bill and report.line_items == 8
    by_resource = {u.resource: u for u in report.untagged}
    assert [u.resource for u in report.untagged] == [
        "lake-bucket",
        TABLE,
        "glue-db",
        "primary",
        "AWSDataTransfer/EU-DataTransfer-Out-Bytes",
    ]  # most costly first
    assert by_resource["lake-bucket"].problems == (TagProblem("team", "missing"),)
    assert by_resource[TABLE].problems == (
        TagProblem("team", "unknown value", "user_team", "paymnts-data"),
    )
    assert by_resource["glue-db"].problems == (TagProblem("team", "misspelt", "user_Team"),)
    assert by_resource["primary"].problems == (
        TagProblem("environment", "empty", "user_environment"),
    )
    no_id = by_resource["AWSDataTransfer/EU-DataTransfer-Out-Bytes"]
    assert (no_id.resource_id, no_id.line_items, no_id.cost_nanos) == ("", 2, 123_456_790)
    assert {p.tag for p in no_id.problems} == {"team", "pipeline", "environment"}

    untagged = (
        to_nanos("2.50") + to_nanos("1.25") + to_nanos("0.75") + to_nanos("0.50") + 123_456_790
    )
    assert report.untagged_nanos == untagged == 5_123_456_790
    assert report.share == untagged / bill
    assert by_resource["lake-bucket"].share == 2_500_000_000 / bill
    assert by_resource["glue-db"].to_dict()["cost_usd"] == "0.75"
    assert report.to_dict()["untagged_usd"] == "5.12"
    assert "5 resources untagged, $5.12 of $16.12" in report.summary()


def test_checker_reads_a_curated_table_with_a_map_of_tags_and_cost_nanos(known):
    tags = pa.map_(pa.string(), pa.string())
    table = pa.table(
        {
            "line_item_resource_id": [APP, APP, TABLE],
            "line_item_usage_type": ["vCPUHours"] * 3,
            "line_item_usage_start_date": [f"{MONTH}-01T00", f"{MONTH}-02T00", f"{MONTH}-01T00"],
            "resource_tags": pa.array(
                [list(GOOD.items())[1:], list(GOOD.items()), list(GOOD.items())], type=tags
            ),
            "cost_nanos": [7, 11, 13],
        }
    )
    report = check_tags(MONTH, table, POLICY, known)
    [untagged] = report.untagged
    # Its first hour had no team; its latest is tagged: listed for its cost, fixed since.
    assert (untagged.resource, untagged.cost_nanos, untagged.line_items) == (APP, 7, 1)
    assert untagged.current_problems == () and report.bill_nanos == 31
    assert report.seen == {APP, TABLE}
    # Tags read as a struct would be no tags, and everything untagged: refused.
    as_struct = table.set_column(3, "resource_tags", pa.array([{"user_team": "x"}] * 3))
    with pytest.raises(TypeError, match="resource_tags must be a map"):
        check_tags(MONTH, as_struct, POLICY, known)


def _untagged_until(day: date, fixed_on: date | None = None) -> list[dict]:
    """The month's lines of a bucket untagged from the 2nd (one line a day up to `day`),
    tagged from `fixed_on`."""
    lines, current = [], date(2026, 11, 2)
    while current <= day:
        tags = GOOD if fixed_on and current >= fixed_on else {"user_team": "payments-data"}
        lines.append(
            line(
                "lake-bucket",
                "1.00",
                tags,
                line_item_usage_start_date=f"{current.isoformat()}T00:00:00",
            )
        )
        current += timedelta(days=1)
    return lines


def test_escalation_over_days_notifies_each_level_once_and_resolves_once(tmp_path, known):
    storage, notifier = LocalStorage(tmp_path / "lake"), LocalNotifier(tmp_path / "alerts.jsonl")
    first, fixed = date(2026, 11, 2), date(2026, 11, 12)
    sent_by_day = {}
    for offset in range(13):
        today = first + timedelta(days=offset)
        report = check_tags(MONTH, _untagged_until(today, fixed), POLICY, known)
        before = len(notifier.alerts())
        escalate_and_notify(report, POLICY, storage, notifier, today)
        sent_by_day[offset] = [a.kind for a in notifier.alerts()[before:]]

    assert sent_by_day == {
        0: ["cost.untagged.warning"],
        1: [],
        2: [],
        3: ["cost.untagged.alert"],
        4: [],
        5: [],
        6: [],
        7: ["cost.untagged.incident"],
        8: [],
        9: [],
        10: ["cost.untagged.resolved"],
        11: [],
        12: [],
    }
    warning, alert, incident, resolved = notifier.alerts()
    assert warning.detail["listed"][0]["problems"] == ["environment missing", "pipeline missing"]
    assert alert.detail["listed"][0]["days"] == 3 and incident.detail["listed"][0]["days"] == 7
    assert incident.detail["cost_nanos"] == to_nanos("8.00")  # its untagged lines to the 9th
    assert resolved.detail["listed"][0]["reason"] == "tagged"
    assert "2026-11: 1 resource(s) untagged for 7+ days, $8.00" in incident.subject
    assert read_state(storage)["resources"] == {}


def test_a_team_tag_with_a_stray_space_is_an_unknown_value_as_allocation_reads_it(known):
    """Allocation matches a tag's team exactly: "payments-data " is no team, its cost
    unallocated. The check stripped it and called it compliant, so the money went into the
    black hole with no warning (the seed's failure mode)."""
    report = check_tags(
        MONTH, [line(TABLE, "10.00", {**GOOD, "user_team": "payments-data "})], POLICY, known
    )
    [untagged] = report.untagged
    assert untagged.problems == (
        TagProblem("team", "unknown value", "user_team", "payments-data "),
    )


def test_a_resources_line_without_a_start_date_is_checked_not_a_crash(known):
    undated = line(TABLE, "1.00", GOOD, line_item_usage_start_date=None)
    report = check_tags(MONTH, [undated, line(TABLE, "2.00", {})], POLICY, known)
    assert [u.resource for u in report.untagged] == [TABLE]


def test_checks_days_apart_send_every_stage_they_passed(known):
    """Checked on day 0 and day 8 (the schedule paused): the alert stage was skipped, and its
    audience never told."""
    report = check_tags(MONTH, [line("lake-bucket", "1.00", {})], POLICY, known)
    first = escalate({}, report, date(2026, 11, 2), POLICY)
    later = escalate(first.state, report, date(2026, 11, 10), POLICY)
    assert [n.level for n in (*first.notices, *later.notices)] == ["warning", "alert", "incident"]


def test_an_older_month_escalates_nothing_and_a_gone_resource_resolves_after_a_month(known):
    december = check_tags("2026-12", [line("lake-bucket", "1", {})], POLICY, known)
    state = escalate({}, december, date(2026, 12, 2), POLICY).state
    restated = check_tags(MONTH, [line("other", "1", {})], POLICY, known)
    assert escalate(state, restated, date(2026, 12, 3), POLICY).notices == ()

    # Not billed in January's first days: maybe not yet. Not billed in January nor February: gone.
    january = check_tags("2027-01", [line("other", "1", GOOD)], POLICY, known)
    assert escalate(state, january, date(2027, 1, 2), POLICY).notices == ()
    february = check_tags("2027-02", [line("other", "1", GOOD)], POLICY, known)
    [notice] = escalate(state, february, date(2027, 2, 1), POLICY).notices
    assert (notice.level, notice.reason) == (RESOLVED, "not billed since 2026-12")


def test_many_resources_reaching_a_level_send_one_alert(tmp_path, known):
    storage, notifier = LocalStorage(tmp_path / "lake"), LocalNotifier(tmp_path / "alerts.jsonl")
    lines = [line(f"bucket-{n:03d}", "0.01", {}) for n in range(120)]
    escalate_and_notify(
        check_tags(MONTH, lines, POLICY, known), POLICY, storage, notifier, date(2026, 11, 2)
    )
    [alert] = notifier.alerts()
    assert alert.detail["resources"] == 120 and len(alert.detail["listed"]) == 50
    assert alert.detail["cost_usd"] == "1.20"


def test_the_policy_file_is_validated_naming_file_key_and_reason(tmp_path):
    assert load_tagging_policy().required_tags == ("team", "pipeline", "environment")
    path = tmp_path / "tagging.yaml"
    for text, key, reason in [
        ("alert_after_days: 5\nincident_after_days: 5\n", "incident_after_days", "more than"),
        ("required_tags: [team, Team]\n", "required_tags[1]", "must match"),
        ("required_tags: [team, team]\n", "required_tags", "twice"),
        ("alert_after_day: 3\n", "alert_after_day", "unknown key"),
        ("environments: []\n", "environments", "must not be empty"),
    ]:
        path.write_text(text)
        with pytest.raises(ConfigError) as raised:
            load_tagging_policy(path)
        error = raised.value
        assert (error.file, error.key) == (str(path), key) and reason in error.reason, error


def test_escalation_state_on_s3_and_alerts_through_sns(aws_endpoint, known):
    from resources.aws.s3 import S3Storage
    from resources.aws.sns import SNSNotifier

    client = lambda name: boto3.client(name, endpoint_url=aws_endpoint, region_name="eu-west-1")  # noqa: E731
    s3, sns, sqs = client("s3"), client("sns"), client("sqs")
    s3.create_bucket(Bucket="lake", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    topic = sns.create_topic(Name="lake-alerts")["TopicArn"]
    inbox = sqs.create_queue(QueueName="lake-alerts-inbox")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"]
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=arn["QueueArn"],
        Attributes={"RawMessageDelivery": "true"},
    )
    connection = {"endpoint_url": aws_endpoint, "region": "eu-west-1"}
    storage, notifier = S3Storage(bucket="lake", **connection), SNSNotifier(topic, **connection)

    for day in (2, 3, 5):  # first sight, nothing new, the alert
        today = date(2026, 11, day)
        report = check_tags(MONTH, _untagged_until(today), POLICY, known)
        escalate_and_notify(report, POLICY, storage, notifier, today)

    state = json.loads(s3.get_object(Bucket="lake", Key=STATE_KEY)["Body"].read())
    assert state["resources"]["lake-bucket"]["level"] == "alert"
    assert state["resources"]["lake-bucket"]["first_seen"] == "2026-11-02"
    messages = sqs.receive_message(QueueUrl=inbox, MaxNumberOfMessages=10)["Messages"]
    kinds = [json.loads(m["Body"])["kind"] for m in messages]
    assert sorted(kinds) == ["cost.untagged.alert", "cost.untagged.warning"]


def test_the_check_on_the_curated_cur_warns_with_the_untagged_cost(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LAKE_ROOT", str(tmp_path / "lake"))
    settings = load_settings()
    storage = LocalStorage(settings.lake_root)
    catalog = SQLiteCatalog(settings.state_dir / "catalog.db")
    notifier = LocalNotifier(settings.state_dir / "alerts.jsonl")

    @asset(key=AssetKey(["cost", "cur"]), partitions_def=monthly_partitions())
    def cur(context) -> None:
        """Stands in for the curated CUR: one published version of the month."""
        month, run_id = context.partition_key, context.run_id
        location = published_month_location(CUR_DATASET, run_id, month)
        path = tmp_path / "part-0.parquet"
        rows = [
            line(APP, "3", GOOD) | {"cost_nanos": to_nanos("3")},
            line("lake-bucket", "1", {}) | {"cost_nanos": to_nanos("1")},
        ]
        tags = pa.array([row.pop("resource_tags") for row in rows], TAGS_TYPE)
        pq.write_table(pa.Table.from_pylist(rows).append_column("resource_tags", tags), path)
        storage.put_file(location + "part-0.parquet", path)
        entry = PublishedPartition(
            CUR_DATASET, month, location, run_id, "2026-11-03T00:00:00", 2, "1"
        )
        publish(catalog, storage, entry, ["part-0.parquet"], expected_version="")

    defs = Definitions.merge(Definitions(assets=[cur]), tagging_definitions(settings))
    result = materialize(
        [cur, *defs.asset_checks],
        partition_key=MONTH,
        resources={"storage": storage, "catalog": catalog, "notifier": notifier},
    )
    [evaluation] = result.get_asset_check_evaluations()
    assert evaluation.check_name == TAGGING_CHECK and not evaluation.passed
    metadata = {key: value.value for key, value in evaluation.metadata.items()}
    assert metadata["untagged_nanos"] == to_nanos("1") and metadata["untagged_share"] == 0.25
    assert "`lake-bucket`: $1.00 (25.00%)" in metadata["top_resources"]
    assert [a.kind for a in notifier.alerts()] == ["cost.untagged.warning"]

    # `lake cost tags` reads the same month and shows where each resource stands.
    top = argparse.ArgumentParser()
    add_tagging_command(
        top.add_subparsers().add_parser("cost").add_subparsers(),
        lambda _: {"storage": storage, "catalog": catalog},
    )
    capsys.readouterr()
    args = top.parse_args(["cost", "tags", "--month", MONTH, "--json"])
    assert args.run(args, settings) == 0
    [listed] = json.loads(capsys.readouterr().out)["untagged"]
    assert (listed["resource"], listed["cost_usd"]) == ("lake-bucket", "1.00")
    assert listed["escalation"]["level"] == "warning"
    args = top.parse_args(["cost", "tags", "--month", MONTH])
    assert args.run(args, settings) == 1
    assert "$        1.00   25.00%  lake-bucket  [warning since " in capsys.readouterr().out


def test_a_source_that_names_no_owner_is_no_team_and_its_cost_is_unallocated():
    """SourceConfig.owner defaults to "unowned": that became a ledger team, a tag could name
    it, and the source's runs and storage were attributed to it, money no team owns."""
    from types import SimpleNamespace

    from lake_assets.cost.drivers import storage_rows
    from lake_assets.cost.ledger import known_teams
    from lake_assets.cost.model import UNALLOCATED
    from lake_assets.cost.policy import load_policy
    from lake_assets.cost.shares import UNOWNED_DATASET, allocate_pools
    from lake_assets.settings import REPO_ROOT, UNOWNED

    policy = load_policy(REPO_ROOT / "config" / "cost" / "allocation.yaml")
    settings = SimpleNamespace(
        platform_owner="team:data-platform", sources={"s": SimpleNamespace(owner=UNOWNED)}
    )
    assert UNOWNED not in known_teams(settings, policy)
    [driver] = storage_rows(MONTH, {"s": {"STANDARD": 100}}, lambda dataset: UNOWNED, "lake")
    assert driver.team == UNALLOCATED
    storage = next(i for i, m in enumerate(policy.methods) if m.id == "s3_storage_by_prefix")
    pool = {"method": storage, "pool_resource": "lake", "pool_hour": "", "measure": driver.measure}
    subpool = {**pool, "category": "s3_storage", "tag_team": "", "tag_pipeline": "",
               "tag_dataset": "", "nanos": 10**9, "lines": 1, "usage": None}  # fmt: skip
    weighing = {**pool, "d_measure": driver.measure, "units": 100, "team": driver.team,
                "pipeline": driver.pipeline, "dataset": driver.dataset}  # fmt: skip
    [row] = allocate_pools([subpool], [weighing], policy, ["data-platform"])
    assert (row["team"], row["reason"], row["dataset"]) == (UNALLOCATED, UNOWNED_DATASET, "s")
