"""The access audit trail on DynamoDB (AccessAuditTrail)."""

from __future__ import annotations

import json

from lake_assets.access.audit import AuditEntry
from lake_assets.instants import format_instant
from resources.access_audit import AccessAuditTrail, AuditConflict, _ordered
from resources.aws.clients import DynamoTable, _attribute


class DynamoAccessAuditTrail(DynamoTable, AccessAuditTrail):
    """One item per decision, keyed by its decision id (random, so writes spread over the
    table's partitions), with the entry's main fields as native attributes for the console and
    the whole entry as the JSON string `body`. An append is a put that fails if the id exists;
    reads scan, filtered on `at` (the trail is written on every decision and read by audits)."""

    KEYS = ("decision_id",)
    _ATTRIBUTES = ("at", "subject", "dataset", "outcome", "decided_by", "input_hash")

    def append(self, entry: AuditEntry) -> None:
        item = {
            "decision_id": {"S": entry.decision_id},
            "body": {"S": json.dumps(entry.to_json(), sort_keys=True)},
        }
        for name in self._ATTRIBUTES:
            item[name] = _attribute(getattr(entry, name))
        try:
            self._dynamo.put_item(
                TableName=self.table,
                Item=item,
                ConditionExpression="attribute_not_exists(decision_id)",
            )
        except self._dynamo.exceptions.ConditionalCheckFailedException:
            raise AuditConflict(
                f"decision {entry.decision_id} is in the audit trail already"
            ) from None

    def entries(self, since: str | None = None) -> list[AuditEntry]:
        after = (
            {
                "FilterExpression": "#at >= :since",
                "ExpressionAttributeNames": {"#at": "at"},
                "ExpressionAttributeValues": {":since": {"S": format_instant(since)}},
            }
            if since
            else {}
        )
        pages = self._dynamo.get_paginator("scan").paginate(
            TableName=self.table, ConsistentRead=True, **after
        )
        return _ordered(
            [
                AuditEntry.from_json(json.loads(item["body"]["S"]))
                for page in pages
                for item in page["Items"]
            ]
        )
