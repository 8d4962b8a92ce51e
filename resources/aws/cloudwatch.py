"""The platform's metrics as CloudWatch custom metrics (PlatformMetrics), which the alarms of
terraform/alarms.tf watch: one namespace, one dimension naming the lake, so two lakes in one
account alarm apart."""

from __future__ import annotations

from datetime import UTC, datetime

from resources.aws.clients import _client
from resources.metrics import PlatformMetrics

NAMESPACE = "Lakehouse"
LAKE_DIMENSION = "Lake"


class CloudWatchMetrics(PlatformMetrics):
    def __init__(self, lake: str, *, endpoint_url: str | None, region: str):
        self.lake = lake
        self._cloudwatch = _client("cloudwatch", endpoint_url, region)

    def count(self, name: str, value: int) -> None:
        self._cloudwatch.put_metric_data(
            Namespace=NAMESPACE,
            MetricData=[
                {
                    "MetricName": name,
                    "Dimensions": [{"Name": LAKE_DIMENSION, "Value": self.lake}],
                    "Timestamp": datetime.now(UTC),
                    "Value": value,
                    "Unit": "Count",
                }
            ],
        )
