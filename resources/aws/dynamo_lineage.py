"""Lineage runs on DynamoDB (LineageStore)."""

from __future__ import annotations

import json

from lake_assets.lineage.model import LineageRun
from resources.aws.clients import DynamoTable
from resources.lineage_store import LineageStore


class DynamoLineageStore(DynamoTable, LineageStore):
    """Lineage records in one DynamoDB table. Items carry job, partition and times as native
    attributes for the console, and the whole record as the JSON string `body`. An item holds
    at most 400 KB, some thousands of keys: enough for a partition's files and raw inputs."""

    KEYS = ("run_id", "state")

    def put_run(self, run: LineageRun) -> None:
        item = {
            "run_id": {"S": run.run_id},
            "state": {"S": run.state},
            "job": {"S": run.job},
            "started_at": {"S": run.started_at},
            "body": {"S": json.dumps(run.to_dict())},
        }
        if run.partition:
            item["partition"] = {"S": run.partition}
        if run.ended_at:
            item["ended_at"] = {"S": run.ended_at}
        self._dynamo.put_item(TableName=self.table, Item=item)

    def runs(self) -> list[LineageRun]:
        pages = self._dynamo.get_paginator("scan").paginate(
            TableName=self.table, ProjectionExpression="body", ConsistentRead=True
        )
        found = [
            LineageRun.from_dict(json.loads(item["body"]["S"]))
            for page in pages
            for item in page["Items"]
        ]
        return sorted(found, key=lambda run: (run.run_id, run.state))
