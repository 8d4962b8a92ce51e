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
    # The lineage server's circuit breaker is one item of the table, under a key no run has
    # (a run id is a Dagster run's UUID or a lake run id: never "#").
    BREAKER = {"run_id": {"S": "#breaker"}, "state": {"S": "#breaker"}}

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
            TableName=self.table, ProjectionExpression="run_id, body", ConsistentRead=True
        )
        found = [
            LineageRun.from_dict(json.loads(item["body"]["S"]))
            for page in pages
            for item in page["Items"]
            if item["run_id"] != self.BREAKER["run_id"]
        ]
        return sorted(found, key=lambda run: (run.run_id, run.state))

    def breaker_state(self) -> dict | None:
        item = self._dynamo.get_item(TableName=self.table, Key=self.BREAKER, ConsistentRead=True)
        return json.loads(item["Item"]["body"]["S"]) if "Item" in item else None

    def put_breaker_state(self, state: dict) -> None:
        item = {**self.BREAKER, "body": {"S": json.dumps(state)}}
        self._dynamo.put_item(TableName=self.table, Item=item)
