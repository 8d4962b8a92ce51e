"""The `aws` profile as production wires it (resources.build_resources with LAKE_PROFILE=aws),
on a moto server: shared by the aws-profile tests and the EMR Serverless end-to-end tests."""

from __future__ import annotations

import json
import os
from pathlib import Path

import boto3

from lake_assets.settings import load_settings
from resources import build_resources
from resources.aws.dynamo_access_audit import DynamoAccessAuditTrail
from resources.aws.dynamo_compaction import DynamoCompactionHistory
from resources.aws.dynamo_events import DynamoEventStore
from resources.aws.dynamo_lineage import DynamoLineageStore
from resources.aws.dynamo_registry import DynamoRegistryStore

REGION = "eu-west-1"


def open_aws_lake(
    aws_endpoint: str,
    tmp_path: Path,
    env: dict[str, str] | None = None,
    environ_out: dict[str, str] | None = None,
    region: str = REGION,
    bucket: str = "lake",
):
    """Settings, resources and an alert reader of a lake on the `aws` profile, against the
    moto server at `aws_endpoint`: bucket `lake` with S3 events on raw/ into an SQS queue, an
    SNS alert topic read through a queue, the DynamoDB tables and the Glue database. `env`
    adds to or overrides the profile's settings (e.g. the EMR application to submit to);
    `environ_out` receives the environment that opens this lake (for `lake` commands); `region`
    and `bucket` place it elsewhere (a disaster-recovery region's lake)."""
    client = lambda name: boto3.client(name, endpoint_url=aws_endpoint, region_name=region)  # noqa: E731
    s3, sqs, sns = client("s3"), client("sqs"), client("sns")
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
    queue_url = sqs.create_queue(QueueName="arrivals")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": queue_arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "raw/"}]}},
                }
            ]
        },
    )
    topic_arn = sns.create_topic(Name="schema-drift-alerts")["TopicArn"]
    alerts_url = sqs.create_queue(QueueName="alerts")["QueueUrl"]
    alerts_arn = sqs.get_queue_attributes(QueueUrl=alerts_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=alerts_arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    environ = {
        "LAKE_PROFILE": "aws",
        "LAKE_ROOT": str(tmp_path / "unused"),
        "AWS_DEFAULT_REGION": region,
        "LAKE_AWS_ENDPOINT_URL": aws_endpoint,
        "LAKE_S3_BUCKET": bucket,
        "LAKE_ALERT_TOPIC_ARN": topic_arn,
        "LAKE_ARRIVALS_QUEUE_URL": queue_url,
        "LAKE_EMR_APPLICATION_ID": "00fakeapp",
        "LAKE_EMR_EXECUTION_ROLE_ARN": "arn:aws:iam::123456789012:role/promotion",
        # the tests' calendar (conftest.py), as the local Lake harness has it
        "LAKE_PARTITIONS_START": os.environ["LAKE_PARTITIONS_START"],
        **(env or {}),
    }
    settings = load_settings(environ)
    if environ_out is not None:
        environ_out.update(environ)
    DynamoRegistryStore.create_tables(
        settings.aws.registry_table,
        settings.aws.file_index_table,
        endpoint_url=aws_endpoint,
        region=region,
    )
    connection = {"endpoint_url": aws_endpoint, "region": region}
    DynamoLineageStore.create_table(settings.aws.lineage_table, **connection)
    DynamoEventStore.create_tables(
        settings.aws.events_table, settings.aws.event_state_table, **connection
    )
    DynamoCompactionHistory.create_table(settings.aws.compaction_history_table, **connection)
    DynamoAccessAuditTrail.create_table(settings.aws.access_audit_table, **connection)
    resources = build_resources(settings)
    resources["catalog"].ensure_database()

    def alerts() -> list[dict]:
        messages = sqs.receive_message(QueueUrl=alerts_url, MaxNumberOfMessages=10).get(
            "Messages", []
        )
        return [json.loads(m["Body"]) for m in messages]

    return settings, resources, alerts
