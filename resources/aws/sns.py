"""Alerts as SNS messages (Notifier)."""

from __future__ import annotations

from resources.aws.clients import _client
from resources.notifier import Alert, Notifier


def _sns_subject(alert: Alert) -> str:
    """SNS accepts at most 100 ASCII characters without line breaks as a subject."""
    text = " ".join(alert.subject.split()).encode("ascii", "replace").decode("ascii")
    return text[:100].strip() or alert.kind[:100]


class SNSNotifier(Notifier):
    def __init__(self, topic_arn: str, *, endpoint_url: str | None, region: str):
        self.topic_arn = topic_arn
        self._sns = _client("sns", endpoint_url, region)

    def send(self, alert: Alert) -> None:
        self._sns.publish(
            TopicArn=self.topic_arn,
            Subject=_sns_subject(alert),
            Message=alert.to_json(),
            MessageAttributes={"kind": {"DataType": "String", "StringValue": alert.kind}},
        )
