"""Alerts through SNS and arrivals through SQS, against the moto server over HTTP: real topics,
queues, subscriptions and S3 bucket notifications."""

from __future__ import annotations

import json
import logging
import time

import boto3
import pytest
from http_receiver import http_receiver

from resources.aws.s3 import S3Storage
from resources.aws.sns import SNSNotifier
from resources.aws.sqs import SQSArrivalFeed
from resources.notifier import Alert

REGION = "eu-west-1"
BUCKET = "lake-arrivals"
RAW = "raw/source=payments/ingest_date=2026-03-02/"


@pytest.fixture
def clients(aws_endpoint):
    def client(service):
        return boto3.client(service, endpoint_url=aws_endpoint, region_name=REGION)

    return {name: client(name) for name in ("s3", "sqs", "sns")}


def _queue(sqs, name: str, **attributes: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    return url, arn["QueueArn"]


def _depth(sqs, url: str) -> int:
    """Messages on the queue, received or not."""
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return sum(int(attributes[name]) for name in names)


def _feed(aws_endpoint: str, url: str) -> SQSArrivalFeed:
    return SQSArrivalFeed(
        url, BUCKET, "lake", endpoint_url=aws_endpoint, region=REGION, wait_seconds=0
    )


def _notifying_bucket(clients, queue_arn: str) -> S3Storage:
    """The lake bucket, telling the queue about every object created in it."""
    clients["s3"].create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    clients["s3"].put_bucket_notification_configuration(
        Bucket=BUCKET,
        NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"]}]
        },
    )
    return S3Storage(BUCKET, "lake", endpoint_url=clients["s3"].meta.endpoint_url, region=REGION)


def _s3_event(key: str, etag: str) -> str:
    """An S3 event notification as S3 writes it: the key URL-encoded, the eTag unquoted."""
    record = {
        "eventSource": "aws:s3",
        "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": BUCKET}, "object": {"key": key, "size": 1, "eTag": etag}},
    }
    return json.dumps({"Records": [record]})


def test_sns_notifier_delivers_the_alert_to_a_subscribed_queue(aws_endpoint, clients):
    topic = clients["sns"].create_topic(Name="lake-alerts")["TopicArn"]
    url, arn = _queue(clients["sqs"], "lake-alerts-inbox")
    clients["sns"].subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    alert = Alert(
        kind="schema.breaking",
        subject="payments: field acct removed\nÜberweisung " + "x" * 200,
        detail={"source_id": "payments", "removed": ["acct"], "confidence": 0.25},
    )

    with http_receiver() as (endpoint, posted):
        # A web endpoint as AWS Chatbot's is (terraform/chat.tf; https there, http here).
        clients["sns"].subscribe(TopicArn=topic, Protocol="http", Endpoint=endpoint + "/chat")
        SNSNotifier(topic, endpoint_url=aws_endpoint, region=REGION).send(alert)

    [message] = clients["sqs"].receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    envelope = json.loads(message["Body"])
    assert envelope["Message"] == alert.to_json()
    assert Alert(**json.loads(envelope["Message"])) == alert
    assert len(envelope["Subject"]) == 100
    assert envelope["Subject"].startswith("payments: field acct removed ?berweisung xxx")
    assert envelope["MessageAttributes"]["kind"]["Value"] == "schema.breaking"
    # The chat channel gets Chatbot's custom notification, not the alert's JSON.
    [chat] = [json.loads(json.loads(p.body)["Message"]) for p in posted]
    assert (chat["version"], chat["source"]) == ("1.0", "custom")
    assert chat["content"]["title"].startswith("payments: field acct removed Überweisung xxx")
    assert chat["content"]["description"].splitlines() == [
        "*confidence*: 0.25",
        '*removed*: ["acct"]',
        "*source_id*: payments",
    ]
    assert chat["content"]["keywords"] == ["schema.breaking"]


def test_feed_reports_raw_objects_from_bucket_notifications(aws_endpoint, clients):
    # Visibility 0: a message not deleted is visible again at once, as after a crashed tick.
    url, arn = _queue(clients["sqs"], "lake-arrivals", VisibilityTimeout="0")
    storage = _notifying_bucket(clients, arn)
    raw_keys = [RAW + "a b+c.json", "raw/source=cards/ingest_date=2026-03-02/cards.csv"]
    for key in raw_keys:
        storage.put_bytes(key, key.encode())
    storage.put_bytes("curated/payments_daily/run=1/event_date=2026-03-02/part-0.parquet", b"x")
    clients["s3"].put_object(Bucket=BUCKET, Key="elsewhere/raw/x.json", Body=b"not the lake")
    feed = _feed(aws_endpoint, url)

    arrivals, cursor = feed.poll("cursor-as-stored")

    assert cursor == "cursor-as-stored"
    assert sorted((a.key, a.etag) for a in arrivals) == sorted(
        (key, storage.head(key).etag) for key in raw_keys
    )
    assert all(a.receipt for a in arrivals)
    # The test event and the objects outside the raw zone are gone; the arrivals wait.
    assert _depth(clients["sqs"], url) == 2
    redelivered, _ = feed.poll(cursor)
    assert sorted(a.key for a in redelivered) == sorted(raw_keys)

    feed.acknowledge(redelivered)

    assert _depth(clients["sqs"], url) == 0
    assert feed.poll(cursor) == ([], cursor)


def test_a_message_delivered_twice_yields_two_arrivals(aws_endpoint, clients):
    url, _ = _queue(clients["sqs"], "lake-arrivals")
    body = _s3_event("lake/" + RAW + "a+b%C3%A9.json", "9e107d9d372bb6826bd81d3542a419d6")
    clients["sqs"].send_message(QueueUrl=url, MessageBody=body)
    clients["sqs"].send_message(QueueUrl=url, MessageBody=body)
    feed = _feed(aws_endpoint, url)

    arrivals, _ = feed.poll(None)

    assert [(a.key, a.etag) for a in arrivals] == [
        (RAW + "a bé.json", "9e107d9d372bb6826bd81d3542a419d6")
    ] * 2
    assert arrivals[0].receipt != arrivals[1].receipt
    feed.acknowledge(arrivals)
    assert _depth(clients["sqs"], url) == 0


def test_notifications_through_an_sns_topic_are_unwrapped(aws_endpoint, clients):
    topic = clients["sns"].create_topic(Name="lake-object-created")["TopicArn"]
    url, arn = _queue(clients["sqs"], "lake-arrivals")
    clients["sns"].subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    clients["s3"].create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    clients["s3"].put_bucket_notification_configuration(
        Bucket=BUCKET,
        NotificationConfiguration={
            "TopicConfigurations": [{"TopicArn": topic, "Events": ["s3:ObjectCreated:*"]}]
        },
    )
    storage = S3Storage(BUCKET, "lake", endpoint_url=aws_endpoint, region=REGION)
    info = storage.put_bytes(RAW + "a.json", b'{"amount": 1}')
    feed = _feed(aws_endpoint, url)

    arrivals, _ = feed.poll(None)

    assert [(a.key, a.etag) for a in arrivals] == [(info.key, info.etag)]
    feed.acknowledge(arrivals)
    assert _depth(clients["sqs"], url) == 0


def test_poll_stops_at_the_limit(aws_endpoint, clients):
    url, _ = _queue(clients["sqs"], "lake-arrivals")
    for n in range(5):
        clients["sqs"].send_message(
            QueueUrl=url, MessageBody=_s3_event(f"lake/{RAW}{n}.json", f"etag{n}")
        )
    feed = _feed(aws_endpoint, url)

    first, _ = feed.poll(None, limit=2)
    feed.acknowledge(first)
    rest, _ = feed.poll(None)

    assert len(first) == 2
    assert sorted(a.key for a in first + rest) == [f"{RAW}{n}.json" for n in range(5)]


def test_unreadable_messages_are_left_for_the_dead_letter_queue(aws_endpoint, clients, caplog):
    sqs = clients["sqs"]
    dead_url, dead_arn = _queue(sqs, "lake-arrivals-dead")
    redrive = json.dumps({"deadLetterTargetArn": dead_arn, "maxReceiveCount": "1"})
    url, _ = _queue(sqs, "lake-arrivals", VisibilityTimeout="1", RedrivePolicy=redrive)
    unreadable = ["not json", json.dumps({"Records": "nope"}), json.dumps([1, 2])]
    for body in unreadable:
        sqs.send_message(QueueUrl=url, MessageBody=body)
    sqs.send_message(QueueUrl=url, MessageBody=_s3_event(f"lake/{RAW}ok.json", "etag"))
    feed = _feed(aws_endpoint, url)

    with caplog.at_level(logging.WARNING, logger="lakehouse.aws"):
        arrivals, _ = feed.poll(None)
    feed.acknowledge(arrivals)

    assert [a.key for a in arrivals] == [RAW + "ok.json"]
    assert _depth(sqs, url) == len(unreadable)
    assert sum("leaving unreadable message" in r.getMessage() for r in caplog.records) == 3

    time.sleep(1.1)  # their visibility timeout ends; the next receive exceeds maxReceiveCount
    assert feed.poll(None)[0] == []
    moved = sqs.receive_message(QueueUrl=dead_url, MaxNumberOfMessages=10)["Messages"]
    assert sorted(m["Body"] for m in moved) == sorted(unreadable)


def test_every_lake_client_retries_a_throttled_call_with_backoff(monkeypatch):
    """The clients every AWS store, feed and runner of the lake uses (resources.aws.clients)
    retry a 503 SlowDown, as S3 throttles a hot prefix, up to six attempts in all
    (AWS_MAX_ATTEMPTS unless set), then give up."""
    from http_receiver import answering

    from resources.aws.clients import _client
    from resources.spark_runner import EmrServerlessRunner

    answered = []

    def throttling(request) -> tuple[int, bytes]:
        answered.append(request.path)
        if len(answered) <= 2:
            return 503, b"<Error><Code>SlowDown</Code></Error>"
        return 200, b"payload"

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with answering(throttling) as url:
        s3 = _client("s3", url, "eu-west-1")
        assert s3.get_object(Bucket="lake", Key="k")["Body"].read() == b"payload"
        assert len(answered) == 3  # two throttled, then served
        # At most five retries: giving up is not waited for here (up to 31 s of backoff).
        assert s3.meta.config.retries == {"mode": "standard", "total_max_attempts": 6}
        # ... and so do the EMR Serverless runner's, which submit and watch the Spark jobs.
        storage = S3Storage(bucket="lake", endpoint_url=url, region="eu-west-1")
        role = "arn:aws:iam::123456789012:role/lake-job"
        runner = EmrServerlessRunner(storage, "00app", role, "eu-west-1", endpoint_url=url)
        assert [c.meta.config.retries for c in runner.clients()] == [s3.meta.config.retries] * 2


def test_a_lake_client_signs_as_the_process_is_now_and_each_thread_keeps_one_session(
    monkeypatch,
):
    """resources.aws.clients makes a boto3 session once per thread, not per client (ADR-0192):
    clients of one thread share it, another thread gets its own (a session is not thread-safe),
    and a client made after the process's AWS_ variables change signs with the new credentials,
    as does one made with an assumed role's."""
    import threading

    import boto3.session
    from http_receiver import answering

    from resources.aws import clients

    signed = []

    def signing_key(request) -> tuple[int, bytes]:
        # "AWS4-HMAC-SHA256 Credential=<key id>/<date>/<region>/s3/aws4_request, ..."
        signed.append(request.headers["Authorization"].split("Credential=")[1].split("/")[0])
        return 200, b"ok"

    made = []

    class CountedSession(boto3.session.Session):
        def __init__(self, *args, **kwargs):
            made.append(threading.get_ident())
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(boto3.session, "Session", CountedSession)
    monkeypatch.setattr(clients, "_per_thread", threading.local())
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "first")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")

    def read(**credentials) -> None:
        s3 = clients._client("s3", url, "eu-west-1", credentials or None)
        assert s3.get_object(Bucket="lake", Key="k")["Body"].read() == b"ok"

    with answering(signing_key) as url:
        read()
        read()
        assert len(made) == 1  # two clients, one session
        elsewhere = threading.Thread(target=read)
        elsewhere.start()
        elsewhere.join()
        assert len(made) == 2 and made[1] != made[0]
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "second")  # rotated, as a CI runner's are
        read()
        read(aws_access_key_id="role", aws_secret_access_key="s", aws_session_token="t")
    assert signed == ["first", "first", "first", "second", "role"]
    assert len(made) == 4
