"""Arrivals from the SQS queue of the bucket's S3 event notifications (ArrivalFeed)."""

from __future__ import annotations

import json
import logging
from urllib.parse import unquote_plus

from resources.arrivals import Arrival, ArrivalFeed
from resources.aws.clients import _client
from resources.aws.s3 import _key_prefix

log = logging.getLogger("lakehouse.aws")

# --- SQS ---------------------------------------------------------------------------------------

RAW_ZONE = "raw/"  # only objects landing here are arrivals


def _created_objects(body: str) -> list[tuple[str, str, str]]:
    """(bucket, key, etag) of each object-created record of an S3 event notification, directly
    or wrapped by SNS; [] for S3's test event. Raises ValueError (or KeyError, TypeError) for
    anything else."""
    message = json.loads(body)
    if isinstance(message, dict) and isinstance(message.get("Message"), str):
        message = json.loads(message["Message"])
    if not isinstance(message, dict):
        raise ValueError("not a JSON object")
    if message.get("Event") == "s3:TestEvent":
        return []
    records = message.get("Records")
    if not isinstance(records, list):
        raise ValueError("no Records list")
    return [
        (
            record["s3"]["bucket"]["name"],
            unquote_plus(record["s3"]["object"]["key"]),
            record["s3"]["object"]["eTag"].strip('"'),
        )
        for record in records
        if record["eventName"].startswith("ObjectCreated:")
    ]


class SQSArrivalFeed(ArrivalFeed):
    """Arrivals from the queue that receives the bucket's S3 event notifications.

    The queue is the cursor: `poll` passes the sensor's cursor through, and messages leave the
    queue only when `acknowledge` deletes them (or, for messages without arrivals, when `poll`
    reads them). A message not acknowledged within the queue's visibility timeout is delivered
    again, which the sensor's run keys make harmless. One S3 notification holds one record, so
    acknowledging an arrival deletes the message it came in.

    `bucket` and `prefix` say where the lake lives, as for S3Storage; events for objects
    elsewhere (another bucket, when `bucket` is given) are not arrivals. A notification can be
    lost (a wrong queue policy for a while, messages past the queue's retention, a purge), so
    the sensor sweeps behind it (`may_miss`).
    """

    may_miss = True

    def __init__(
        self,
        queue_url: str,
        bucket: str | None = None,
        prefix: str = "",
        *,
        endpoint_url: str | None,
        region: str,
        wait_seconds: int = 1,
    ):
        self.queue_url, self.bucket, self.prefix = queue_url, bucket, _key_prefix(prefix)
        self.wait_seconds = wait_seconds
        self._sqs = _client("sqs", endpoint_url, region)

    def poll(self, cursor: str | None, limit: int = 1000) -> tuple[list[Arrival], str | None]:
        arrivals: list[Arrival] = []
        seen: set[str] = set()
        while len(arrivals) < limit:
            response = self._sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(10, limit - len(arrivals)),
                WaitTimeSeconds=self.wait_seconds,
            )
            # Stop when nothing new comes back: with a short visibility timeout a message
            # left on the queue would otherwise be received again and again.
            messages = [m for m in response.get("Messages", []) if m["MessageId"] not in seen]
            if not messages:
                break
            without_arrivals = []
            for message in messages:
                seen.add(message["MessageId"])
                found = self._arrivals(message)
                if found is None:
                    continue
                if found:
                    arrivals.extend(found)
                else:
                    without_arrivals.append(message["ReceiptHandle"])
            self._delete(without_arrivals)
        return arrivals, cursor

    def _arrivals(self, message: dict) -> list[Arrival] | None:
        """The message's arrivals; None when it cannot be read, so it stays on the queue and
        its redrive policy moves it to the dead-letter queue for a person to look at."""
        try:
            created = _created_objects(message["Body"])
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            log.warning(
                "leaving unreadable message %s on %s for its dead-letter queue: %r; body: %.500s",
                message["MessageId"],
                self.queue_url,
                error,
                message["Body"],
            )
            return None
        return [
            Arrival(key=s3_key[len(self.prefix) :], etag=etag, receipt=message["ReceiptHandle"])
            for bucket, s3_key, etag in created
            if (self.bucket is None or bucket == self.bucket)
            and s3_key.startswith(self.prefix + RAW_ZONE)
        ]

    def acknowledge(self, arrivals: list[Arrival]) -> None:
        self._delete(list(dict.fromkeys(a.receipt for a in arrivals if a.receipt)))

    def _delete(self, receipts: list[str]) -> None:
        for start in range(0, len(receipts), 10):
            batch = receipts[start : start + 10]
            response = self._sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": r} for i, r in enumerate(batch)],
            )
            for failure in response.get("Failed", []):
                # The message comes back after its visibility timeout; a repeat is harmless.
                log.warning(
                    "could not delete message from %s: %s %s",
                    self.queue_url,
                    failure.get("Code"),
                    failure.get("Message"),
                )
