"""The resources of each profile, chosen by one setting (LAKE_PROFILE), so the same asset code
runs on a laptop and on AWS. The `lake` command line uses the same mapping, with the Spark
runner built on first use (`command_resources`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from functools import partial
from typing import Any

from lake_assets.runtime.jobs import JOB_SESSION_CONF
from lake_assets.settings import Settings
from resources.access_audit import SQLiteAccessAuditTrail
from resources.arrivals import ListingArrivalFeed
from resources.catalog import SQLiteCatalog
from resources.classification_store import SQLiteClassificationStore
from resources.compaction_history import SQLiteCompactionHistory
from resources.event_store import SQLiteEventStore
from resources.lineage_store import SQLiteLineageStore
from resources.metrics import LocalMetrics
from resources.notifier import LocalNotifier
from resources.pipeline_stamps import NothingDeployed
from resources.registry_store import SQLiteRegistryStore
from resources.storage import LocalStorage

LOCAL_SPARK_CONFIG = {
    "spark.master": "local[*]",
    "spark.app.name": "lakehouse",
    **JOB_SESSION_CONF,
    "spark.sql.shuffle.partitions": "4",
    "spark.ui.showConsoleProgress": "false",
    "spark.log.level": "ERROR",
    "spark.driver.memory": "4g",
}


class _BuiltOnFirstUse(Mapping):
    """Resources of which some are built only when first asked for."""

    def __init__(self, built: dict[str, Any], later: dict[str, Callable[[], Any]]):
        self._built, self._later = built, later

    def __getitem__(self, key: str) -> Any:
        if key not in self._built and key in self._later:
            self._built[key] = self._later[key]()
        return self._built[key]

    def __iter__(self) -> Iterator[str]:
        return iter({**self._built, **self._later})

    def __len__(self) -> int:
        return len({**self._built, **self._later})


def command_resources(settings: Settings) -> Mapping[str, Any]:
    """Resource key -> backend for the configured profile, the Spark runner built when first
    used: it imports Dagster and PySpark (seconds), which a `lake` command reading only the
    stores never needs."""
    stores, runner = (_aws_resources if settings.profile == "aws" else _local_resources)(settings)
    return _BuiltOnFirstUse(stores, {"spark_runner": runner})


def build_resources(settings: Settings) -> dict[str, Any]:
    """Resource key -> backend for the configured profile."""
    return dict(command_resources(settings))


def _local_runner(log_file):
    from resources.spark_runner import LocalSparkRunner

    return LocalSparkRunner(LOCAL_SPARK_CONFIG, log_file)


def _emr_runner(storage, **kwargs):
    from resources.spark_runner import EmrServerlessRunner

    return EmrServerlessRunner(storage, **kwargs)


def _local_resources(settings: Settings) -> tuple[dict[str, Any], Callable[[], Any]]:
    state = settings.state_dir
    storage = LocalStorage(settings.lake_root)
    stores = {
        "settings": settings,
        "storage": storage,
        "registry": SQLiteRegistryStore(state / "registry.db"),
        "catalog": SQLiteCatalog(state / "catalog.db"),
        "classification": SQLiteClassificationStore(state / "classification.db"),
        "notifier": LocalNotifier(state / "alerts.jsonl"),
        "metrics": LocalMetrics(state / "metrics.jsonl"),
        "events": SQLiteEventStore(state / "events.db"),
        "lineage": SQLiteLineageStore(state / "lineage.db"),
        "compaction_history": SQLiteCompactionHistory(state / "compaction.db"),
        "access_audit": SQLiteAccessAuditTrail(state / "access_audit.db"),
        "arrivals": ListingArrivalFeed(storage),
        "pipeline_stamps": NothingDeployed(),
    }
    return stores, partial(_local_runner, state / "logs" / "spark.log")


def _aws_resources(settings: Settings) -> tuple[dict[str, Any], Callable[[], Any]]:
    from resources.aws.cloudwatch import CloudWatchMetrics
    from resources.aws.dynamo_access_audit import DynamoAccessAuditTrail
    from resources.aws.dynamo_compaction import DynamoCompactionHistory
    from resources.aws.dynamo_events import DynamoEventStore
    from resources.aws.dynamo_lineage import DynamoLineageStore
    from resources.aws.dynamo_registry import DynamoRegistryStore
    from resources.aws.glue import GlueCatalog
    from resources.aws.glue_classification import GlueClassificationStore
    from resources.aws.pipeline_stamps import DeployedPipelineStamps
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
    stores = {
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
        "metrics": CloudWatchMetrics(aws.bucket, **connection),
        "lineage": DynamoLineageStore(table=aws.lineage_table, **connection),
        "compaction_history": DynamoCompactionHistory(
            table=aws.compaction_history_table, **connection
        ),
        "access_audit": DynamoAccessAuditTrail(table=aws.access_audit_table, **connection),
        "events": DynamoEventStore(
            events_table=aws.events_table, state_table=aws.event_state_table, **connection
        ),
        "arrivals": (
            SQSArrivalFeed(queue_url=aws.arrivals_queue_url, bucket=aws.bucket, **connection)
            if aws.arrivals_queue_url
            else ListingArrivalFeed(storage)
        ),
        "pipeline_stamps": DeployedPipelineStamps(storage, catalog),
    }
    return stores, partial(
        _emr_runner,
        storage,
        application_id=aws.emr_application_id,
        execution_role_arn=aws.emr_execution_role_arn,
        poll_seconds=aws.emr_poll_seconds,
        environment=settings.environment,
        platform_owner=settings.platform_owner,
        **connection,
    )
