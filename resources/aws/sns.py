"""Alerts as SNS messages (Notifier): one publish, each subscriber's protocol its own format
(SNS's MessageStructure "json"): queues and Lambda the alert's JSON, which the lake's consumers
parse; HTTPS endpoints (AWS Chatbot, into Slack) a chat notification; email readable text."""

from __future__ import annotations

import json

from resources.aws.clients import _client
from resources.notifier import Alert, Notifier, chat_notification, email_text


def _sns_subject(alert: Alert) -> str:
    """SNS accepts at most 100 ASCII characters without line breaks as a subject."""
    text = " ".join(alert.subject.split()).encode("ascii", "replace").decode("ascii")
    return text[:100].strip() or alert.kind[:100]


class SNSNotifier(Notifier):
    def __init__(self, topic_arn: str, *, endpoint_url: str | None, region: str):
        self.topic_arn = topic_arn
        self._sns = _client("sns", endpoint_url, region)

    def send(self, alert: Alert) -> None:
        chat = json.dumps(chat_notification(alert))
        self._sns.publish(
            TopicArn=self.topic_arn,
            Subject=_sns_subject(alert),
            Message=json.dumps(
                {
                    "default": alert.to_json(),
                    "https": chat,
                    "http": chat,
                    "email": email_text(alert),
                }
            ),
            MessageStructure="json",
            MessageAttributes={"kind": {"DataType": "String", "StringValue": alert.kind}},
        )
