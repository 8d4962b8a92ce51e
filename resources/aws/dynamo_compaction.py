"""The compaction history and its lease on DynamoDB (CompactionHistory)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from lake_assets.compaction.model import CompactionRecord
from resources.aws.clients import DynamoTable, _attribute
from resources.compaction_history import CompactionBusy, CompactionHistory, LeaseLost, _ordered


class DynamoCompactionHistory(DynamoTable, CompactionHistory):
    """Records and leases in one DynamoDB table. Items carry the record's main fields as
    native attributes for the console, and the whole record as the JSON string `body`."""

    KEYS = ("dataset", "entry")
    LEASE = "lease"
    _ATTRIBUTES = ("run_id", "partition", "outcome", "files_before", "files_after")

    def __init__(
        self,
        table: str,
        *,
        endpoint_url: str | None,
        region: str,
        # Longer than any one partition's rewrite: a run renews it before each (CompactionPass).
        lease_seconds: int = 6 * 3600,
    ):
        super().__init__(table, endpoint_url=endpoint_url, region=region)
        self.lease_seconds = lease_seconds

    def record(self, record: CompactionRecord) -> None:
        item = {
            "dataset": {"S": record.dataset},
            "entry": {"S": f"{record.started_at}#{record.partition}#{record.run_id}"},
            "body": {"S": json.dumps(record.to_dict())},
        }
        for name in self._ATTRIBUTES:
            item[name] = _attribute(getattr(record, name))
        self._dynamo.put_item(TableName=self.table, Item=item)

    def records(self, dataset: str | None = None) -> list[CompactionRecord]:
        # One dataset is one partition key: a query; every dataset: a scan.
        names, values = {"#entry": "entry"}, {":lease": {"S": self.LEASE}}
        keyed = {}
        if dataset is not None:
            names["#dataset"], values[":dataset"] = "dataset", {"S": dataset}
            keyed = {"KeyConditionExpression": "#dataset = :dataset"}
        pages = self._dynamo.get_paginator("query" if keyed else "scan").paginate(
            TableName=self.table,
            FilterExpression="#entry <> :lease",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ProjectionExpression="body",
            ConsistentRead=True,
            **keyed,
        )
        return _ordered(
            [
                CompactionRecord.from_dict(json.loads(item["body"]["S"]))
                for page in pages
                for item in page["Items"]
            ]
        )

    @contextmanager
    def lease(self, dataset: str, run_id: str) -> Iterator[None]:
        key, now = self._lease_key(dataset), datetime.now(UTC)
        try:
            self._write_lease(
                key,
                run_id,
                now,
                "attribute_not_exists(dataset) OR expires_at < :now",
                {":now": {"S": now.isoformat()}},
            )
        except self._dynamo.exceptions.ConditionalCheckFailedException:
            raise CompactionBusy(
                f"{dataset}: another compaction holds the lease ({self._holder(key)})"
            ) from None
        try:
            yield
        finally:
            try:
                self._dynamo.delete_item(
                    TableName=self.table,
                    Key=key,
                    ConditionExpression="run_id = :me",
                    ExpressionAttributeValues={":me": {"S": run_id}},
                )
            except self._dynamo.exceptions.ConditionalCheckFailedException:
                pass  # it lapsed and another run took it over: that lease is not ours to end

    def renew(self, dataset: str, run_id: str) -> None:
        # A put of the whole item under the holder's condition: the lease item is only its
        # holder and expiry, and PutItem is the call that took the lease (no other grant).
        key = self._lease_key(dataset)
        try:
            self._write_lease(
                key, run_id, datetime.now(UTC), "run_id = :me", {":me": {"S": run_id}}
            )
        except self._dynamo.exceptions.ConditionalCheckFailedException:
            raise LeaseLost(
                f"{dataset}: run {run_id} no longer holds the compaction lease, it lapsed "
                f"({self._holder(key)})"
            ) from None

    def _lease_key(self, dataset: str) -> dict:
        return {"dataset": {"S": dataset}, "entry": {"S": self.LEASE}}

    def _write_lease(
        self, key: dict, run_id: str, now: datetime, condition: str, values: dict
    ) -> None:
        """The lease for `run_id` until a full term after `now`, if `condition` holds."""
        self._dynamo.put_item(
            TableName=self.table,
            Item={
                **key,
                "run_id": {"S": run_id},
                "expires_at": {"S": (now + timedelta(seconds=self.lease_seconds)).isoformat()},
            },
            ConditionExpression=condition,
            ExpressionAttributeValues=values,
        )

    def _holder(self, key: dict) -> str:
        item = self._dynamo.get_item(TableName=self.table, Key=key, ConsistentRead=True)
        if "Item" not in item:
            return "no run holds it now"
        return f"run {item['Item']['run_id']['S']} until {item['Item']['expires_at']['S']}"
