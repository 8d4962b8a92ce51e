"""Data-ready events, waiting rules, dead letters and the outbox on DynamoDB (EventStore)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from datetime import datetime, timedelta

from lake_assets.events.model import DataReady
from resources.aws.clients import _client, ensure_table
from resources.event_store import DeadLetter, EventStore, Pending, _dead_letter, _stamp

# How long after its stamp an event may still land and be read: boto3's retries of a put, and
# writers' clocks behind the sensor's.
LATE_LANDING = timedelta(minutes=15)


def _seen_key(item: dict) -> str:
    # An event as stamped (a repaired one is stamped again, to be read again), in 64 bits:
    # enough to tell the events of one margin apart, and a quarter the size in the cursor
    # Dagster keeps with every tick.
    stamped = f"{item['idempotency_key']['S']}|{item['recorded_at']['S']}"
    return hashlib.sha256(stamped.encode()).hexdigest()[:16]


def _read_cursor(cursor: str | None) -> tuple[str | None, set[str]]:
    """(newest stamp read, keys handed over within the margin) of a cursor; a bare stamp is a
    cursor written before the margin was kept."""
    if cursor is None or not cursor.startswith("{"):
        return cursor, set()
    state = json.loads(cursor)
    return state["at"], set(state["seen"])


def _before(stamp: str | None, margin: timedelta) -> str:
    """The stamp `margin` before `stamp` ("" before every stamp when there is none)."""
    if stamp is None:
        return ""
    return _stamp(datetime.fromisoformat(stamp) - margin)


class DynamoEventStore(EventStore):
    """Two tables: events by idempotency key, and a state table (PK `pk`, SK `sk`) holding each
    partition's latest version (`latest#<dataset>`), pending rules, dead letters and the outbox.

    A writer stamps `recorded_at` before its put lands, and the put may land later (boto3
    retried it, or the writer's clock is behind the sensor's): a cursor at the newest stamp read
    would skip it for good. So the cursor also keeps the keys handed over within `LATE_LANDING`
    of its stamp, and each read goes back that far and leaves them out. An event landing later
    than that after its stamp is still missed (DynamoDB Streams would remove the bound).
    """

    def __init__(
        self, events_table: str, state_table: str, *, endpoint_url: str | None, region: str
    ):
        self.events_table, self.state_table = events_table, state_table
        self._dynamo = _client("dynamodb", endpoint_url, region)

    @classmethod
    def create_tables(
        cls, events_table: str, state_table: str, *, endpoint_url: str | None, region: str
    ) -> DynamoEventStore:
        """Create both tables (on-demand capacity) unless they exist, and wait until usable."""
        store = cls(events_table, state_table, endpoint_url=endpoint_url, region=region)
        ensure_table(store._dynamo, events_table, "idempotency_key")
        ensure_table(store._dynamo, state_table, "pk", "sk")
        return store

    def _put_if_absent(self, table: str, item: dict, key: str) -> bool:
        try:
            self._dynamo.put_item(
                TableName=table,
                Item=item,
                ConditionExpression="attribute_not_exists(#k)",
                ExpressionAttributeNames={"#k": key},
            )
        except self._dynamo.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def _state(self, pk: str, sk: str) -> str | None:
        item = self._dynamo.get_item(
            TableName=self.state_table,
            Key={"pk": {"S": pk}, "sk": {"S": sk}},
            ConsistentRead=True,
        ).get("Item")
        return item["body"]["S"] if item else None

    def _states(self, pk: str) -> list[str]:
        pages = self._dynamo.get_paginator("query").paginate(
            TableName=self.state_table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": pk}},
            ConsistentRead=True,
        )
        return [item["body"]["S"] for page in pages for item in page["Items"]]

    def _put_state(self, pk: str, sk: str, body: str, **condition) -> None:
        self._dynamo.put_item(
            TableName=self.state_table,
            Item={"pk": {"S": pk}, "sk": {"S": sk}, "body": {"S": body}},
            **condition,
        )

    def _insert(self, key: str, event: DataReady) -> bool:
        body = json.dumps(event.to_dict())
        item = {
            "idempotency_key": {"S": key},
            "recorded_at": {"S": _stamp()},
            "dataset": {"S": event.dataset},
            "partition": {"S": event.partition},
            "body": {"S": body},
        }
        new = self._put_if_absent(self.events_table, item, "idempotency_key")
        # The pointer is moved even when the key exists: a delivery that died between the two
        # writes left it behind, and only its redelivery (the same key, chained to the same
        # predecessor) can move it. It moves forward only, whatever the delivery order; a
        # redelivery moves it only if it is behind.
        try:
            self._dynamo.put_item(
                TableName=self.state_table,
                Item={
                    "pk": {"S": f"latest#{event.dataset}"},
                    "sk": {"S": event.partition},
                    "published_at": {"S": event.published_at},
                    "event_key": {"S": key},
                    "body": {"S": body},
                },
                ConditionExpression="attribute_not_exists(pk) OR published_at "
                + ("<= :at" if new else "< :at"),
                ExpressionAttributeValues={":at": {"S": event.published_at}},
            )
        except self._dynamo.exceptions.ConditionalCheckFailedException:
            return new  # an older version delivered late (or a redelivery): not the latest
        if not new:
            # Repaired: a tick may have read the event while the pointer was behind and
            # settled its rules on the old version. Stamped again, it is read again.
            self._dynamo.put_item(
                TableName=self.events_table, Item={**item, "recorded_at": {"S": _stamp()}}
            )
        return new

    def _latest_entry(self, dataset: str, partition: str) -> tuple[str, DataReady] | None:
        item = self._dynamo.get_item(
            TableName=self.state_table,
            Key={"pk": {"S": f"latest#{dataset}"}, "sk": {"S": partition}},
            ConsistentRead=True,
        ).get("Item")
        if item is None:
            return None
        # Pointers written before keys were chained carry no key: chain from the empty one.
        key = item.get("event_key", {}).get("S", "")
        return key, DataReady.from_dict(json.loads(item["body"]["S"]))

    def put_outbox(self, id: str, body: str) -> None:
        self._put_state("outbox", id, body)

    def outbox(self) -> list[tuple[str, str]]:
        pages = self._dynamo.get_paginator("query").paginate(
            TableName=self.state_table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": "outbox"}},
            ConsistentRead=True,
        )
        return [(i["sk"]["S"], i["body"]["S"]) for page in pages for i in page["Items"]]

    def delete_outbox(self, id: str) -> None:
        self._dynamo.delete_item(
            TableName=self.state_table, Key={"pk": {"S": "outbox"}, "sk": {"S": id}}
        )

    def events_since(self, cursor: str | None) -> tuple[list[DataReady], str | None]:
        newest, seen = _read_cursor(cursor)
        pages = self._dynamo.get_paginator("scan").paginate(
            TableName=self.events_table,
            FilterExpression="recorded_at > :c",
            ExpressionAttributeValues={":c": {"S": _before(newest, LATE_LANDING)}},
            ConsistentRead=True,
        )
        items = sorted(
            (item for page in pages for item in page["Items"]),
            key=lambda i: (i["recorded_at"]["S"], i["idempotency_key"]["S"]),
        )
        fresh = [i for i in items if _seen_key(i) not in seen]
        events = [DataReady.from_dict(json.loads(i["body"]["S"])) for i in fresh]
        if items:
            newest = max(newest or "", items[-1]["recorded_at"]["S"])
        margin = _before(newest, LATE_LANDING)
        kept = sorted(_seen_key(i) for i in items if i["recorded_at"]["S"] > margin)
        return events, json.dumps({"at": newest, "seen": kept}) if newest else None

    def touch(self, rule: str, partition: str, at: datetime) -> Pending:
        fresh = Pending(rule, partition, _stamp(at))
        item = {
            "pk": {"S": "pending"},
            "sk": {"S": f"{rule}#{partition}"},
            "body": {"S": json.dumps(asdict(fresh))},
        }
        if self._put_if_absent(self.state_table, item, "pk"):
            return fresh
        return Pending(**json.loads(self._state("pending", f"{rule}#{partition}") or "{}"))

    def pending(self) -> list[Pending]:
        found = [Pending(**json.loads(body)) for body in self._states("pending")]
        return sorted(found, key=lambda p: (p.rule, p.partition))

    def set_pending(self, pending: Pending) -> None:
        self._put_state(
            "pending", f"{pending.rule}#{pending.partition}", json.dumps(asdict(pending))
        )

    def clear_pending(self, rule: str, partition: str) -> None:
        self._dynamo.delete_item(
            TableName=self.state_table,
            Key={"pk": {"S": "pending"}, "sk": {"S": f"{rule}#{partition}"}},
        )

    def put_dead_letter(self, record: DeadLetter) -> bool:
        item = {
            "pk": {"S": "dead_letter"},
            "sk": {"S": record.id},
            "body": {"S": json.dumps(asdict(record))},
        }
        return self._put_if_absent(self.state_table, item, "pk")

    def _put_dead_letter_body(self, record: DeadLetter) -> None:
        self._put_state("dead_letter", record.id, json.dumps(asdict(record)))

    def dead_letters(self, include_resolved: bool = False) -> list[DeadLetter]:
        found = sorted(
            (_dead_letter(body) for body in self._states("dead_letter")),
            key=lambda d: (d.created_at, d.id),
        )
        return [d for d in found if include_resolved or d.resolved_at is None]

    def get_dead_letter(self, id: str) -> DeadLetter | None:
        body = self._state("dead_letter", id)
        return _dead_letter(body) if body else None
