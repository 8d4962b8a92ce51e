"""Lineage runs on DynamoDB (LineageStore)."""

from __future__ import annotations

import hashlib
import json
import zlib

from lake_assets.lineage.graph import completed_with
from lake_assets.lineage.model import LineageRun
from resources.aws.clients import DynamoTable
from resources.lineage_store import LineageStore

# Tries of a merged write before giving up: each lost one means another writer just won.
MERGE_ATTEMPTS = 5


class DynamoLineageStore(DynamoTable, LineageStore):
    """Lineage records in one DynamoDB table. Items carry job, partition and times as native
    attributes for the console, and the whole record as JSON, zlib-compressed in the binary
    `body_z`. An item holds at most 400 KB: a year's backfill names some 3,000 raw and written
    keys twice (inputs, and per partition), 460 KB as text and a tenth of it compressed. Items
    written before hold the text in `body`, and are read as they are."""

    KEYS = ("run_id", "state")
    # The lineage server's circuit breaker is one item of the table, under a key no run has
    # (a run id is a Dagster run's UUID or a lake run id: never "#").
    BREAKER = {"run_id": {"S": "#breaker"}, "state": {"S": "#breaker"}}

    def put_run(self, run: LineageRun) -> LineageRun:
        if run.state != "COMPLETE":  # only a COMPLETE record is merged (completed_with)
            self._dynamo.put_item(TableName=self.table, Item=_item(run))
            return run
        # Merged with the record kept, then written on condition that it is still the one read
        # (its `rev`): a writer that lost the race reads again and merges with the winner's.
        key = {"run_id": {"S": run.run_id}, "state": {"S": run.state}}
        for _ in range(MERGE_ATTEMPTS):
            kept = self._dynamo.get_item(TableName=self.table, Key=key, ConsistentRead=True)
            stored = kept.get("Item")
            merged = completed_with(
                LineageRun.from_dict(json.loads(_body(stored))) if stored else None, run
            )
            if stored is None:
                condition = {"ConditionExpression": "attribute_not_exists(run_id)"}
            elif "rev" in stored:
                condition = {
                    "ConditionExpression": "rev = :rev",
                    "ExpressionAttributeValues": {":rev": stored["rev"]},
                }
            else:  # a record written before records had a rev
                condition = {"ConditionExpression": "attribute_not_exists(rev)"}
            try:
                self._dynamo.put_item(TableName=self.table, Item=_item(merged), **condition)
            except self._dynamo.exceptions.ConditionalCheckFailedException:
                continue
            return merged
        raise RuntimeError(
            f"lineage record {run.run_id} {run.state}: {MERGE_ATTEMPTS} writes in a row lost "
            "the race to another writer of it"
        )

    def runs(self) -> list[LineageRun]:
        pages = self._dynamo.get_paginator("scan").paginate(
            TableName=self.table, ProjectionExpression="run_id, body, body_z", ConsistentRead=True
        )
        found = [
            LineageRun.from_dict(json.loads(_body(item)))
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


def _body(item: dict) -> str:
    """A record's JSON, compressed (`body_z`) or as text (`body`, items written before)."""
    return zlib.decompress(item["body_z"]["B"]).decode() if "body_z" in item else item["body"]["S"]


def _item(run: LineageRun) -> dict:
    """The record's item: its keys, native attributes for the console, the compressed JSON and
    its `rev` (a hash of it, what a merged write is conditional on)."""
    body = json.dumps(run.to_dict())
    item = {
        "run_id": {"S": run.run_id},
        "state": {"S": run.state},
        "job": {"S": run.job},
        "started_at": {"S": run.started_at},
        "body_z": {"B": zlib.compress(body.encode())},
        "rev": {"S": hashlib.sha256(body.encode()).hexdigest()[:16]},
    }
    if run.partition:
        item["partition"] = {"S": run.partition}
    if run.ended_at:
        item["ended_at"] = {"S": run.ended_at}
    return item
