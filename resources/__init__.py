"""The resources of each profile, chosen by one setting (LAKE_PROFILE), so the same asset code
runs on a laptop and on AWS. The `lake` command line uses the same mapping."""

from __future__ import annotations

from typing import Any

from lake_assets.settings import Settings
from resources.arrivals import ListingArrivalFeed
from resources.catalog import SQLiteCatalog
from resources.classification_store import SQLiteClassificationStore
from resources.compaction_history import SQLiteCompactionHistory
from resources.event_store import SQLiteEventStore
from resources.lineage_store import SQLiteLineageStore
from resources.notifier import LocalNotifier
from resources.registry_store import SQLiteRegistryStore
from resources.spark_runner import EmrServerlessRunner, LocalSparkRunner
from resources.storage import LocalStorage

LOCAL_SPARK_CONFIG = {
    "spark.master": "local[*]",
    "spark.app.name": "lakehouse",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.shuffle.partitions": "4",
    "spark.ui.showConsoleProgress": "false",
    "spark.log.level": "ERROR",
    "spark.driver.memory": "4g",
}


def build_resources(settings: Settings) -> dict[str, Any]:
    """Resource key -> backend for the configured profile."""
    if settings.profile == "aws":
        return _aws_resources(settings)
    state = settings.state_dir
    storage = LocalStorage(settings.lake_root)
    return {
        "settings": settings,
        "storage": storage,
        "registry": SQLiteRegistryStore(state / "registry.db"),
        "catalog": SQLiteCatalog(state / "catalog.db"),
        "classification": SQLiteClassificationStore(state / "classification.db"),
        "notifier": LocalNotifier(state / "alerts.jsonl"),
        "events": SQLiteEventStore(state / "events.db"),
        "lineage": SQLiteLineageStore(state / "lineage.db"),
        "compaction_history": SQLiteCompactionHistory(state / "compaction.db"),
        "arrivals": ListingArrivalFeed(storage),
        "spark_runner": LocalSparkRunner(LOCAL_SPARK_CONFIG, state / "logs" / "spark.log"),
    }


def _aws_resources(settings: Settings) -> dict[str, Any]:
    from resources.aws.dynamo_compaction import DynamoCompactionHistory
    from resources.aws.dynamo_events import DynamoEventStore
    from resources.aws.dynamo_lineage import DynamoLineageStore
    from resources.aws.dynamo_registry import DynamoRegistryStore
    from resources.aws.glue import GlueCatalog
    from resources.aws.glue_classification import GlueClassificationStore
    from resources.aws.s3 import S3Storage
    from resources.aws.sns import SNSNotifier
    from resources.aws.sqs import SQSArrivalFeed

    aws = settings.aws
    connection = {"endpoint_url": aws.endpoint_url, "region": aws.region}
    storage = S3Storage(bucket=aws.bucket, **connection)
    catalog = GlueCatalog(database=aws.glue_database, bucket=aws.bucket, **connection)
    if not (aws.alert_topic_arn and aws.emr_application_id and aws.emr_execution_role_arn):
        raise ValueError(
            "the aws profile needs LAKE_ALERT_TOPIC_ARN, LAKE_EMR_APPLICATION_ID and "
            "LAKE_EMR_EXECUTION_ROLE_ARN (see terraform outputs: `terraform output lake_env`)"
        )
    return {
        "settings": settings,
        "storage": storage,
        "registry": DynamoRegistryStore(
            versions_table=aws.registry_table, files_table=aws.file_index_table, **connection
        ),
        "catalog": catalog,
        "classification": GlueClassificationStore(
            catalog, state_table=aws.file_index_table, **connection
        ),
        "notifier": SNSNotifier(topic_arn=aws.alert_topic_arn, **connection),
        "lineage": DynamoLineageStore(table=aws.lineage_table, **connection),
        "compaction_history": DynamoCompactionHistory(
            table=aws.compaction_history_table, **connection
        ),
        "events": DynamoEventStore(
            events_table=aws.events_table, state_table=aws.event_state_table, **connection
        ),
        "arrivals": (
            SQSArrivalFeed(queue_url=aws.arrivals_queue_url, bucket=aws.bucket, **connection)
            if aws.arrivals_queue_url
            else ListingArrivalFeed(storage)
        ),
        "spark_runner": EmrServerlessRunner(
            storage,
            application_id=aws.emr_application_id,
            execution_role_arn=aws.emr_execution_role_arn,
            poll_seconds=aws.emr_poll_seconds,
            **connection,
        ),
    }
