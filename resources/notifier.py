"""Alerts through one notifier: SNS in the aws profile, a log line and a JSON-lines file locally."""

from __future__ import annotations

import json
import logging
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from resources.jsonl import append_line, read_lines

log = logging.getLogger("lakehouse.alerts")


@dataclass(frozen=True)
class Alert:
    kind: str  # e.g. "schema.breaking", "payload.dead_lettered"
    subject: str
    detail: dict = field(default_factory=dict)
    raised_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, default=str)


# AWS Chatbot's custom notification schema, which it posts to a Slack (or Teams) channel: a
# title, a markdown description and keywords. The limits are Chatbot's.
_CHAT_TITLE, _CHAT_DESCRIPTION = 250, 8000


def chat_notification(alert: Alert) -> dict:
    """The alert as a chat channel shows it (terraform/chat.tf subscribes AWS Chatbot to the
    alert topic): the subject as the title, each detail a line, the kind a keyword."""
    lines = [f"*{name}*: {_plain(value)}" for name, value in sorted(alert.detail.items())]
    return {
        "version": "1.0",
        "source": "custom",
        "content": {
            "textType": "client-markdown",
            "title": " ".join(alert.subject.split())[:_CHAT_TITLE],
            "description": ("\n".join(lines) or alert.kind)[:_CHAT_DESCRIPTION],
            "keywords": [alert.kind],
        },
        "metadata": {
            "eventType": alert.kind,
            "summary": alert.subject[:100],
            "additionalContext": {"raised_at": alert.raised_at},
        },
    }


def email_text(alert: Alert) -> str:
    """The alert as an email subscriber reads it."""
    details = "".join(f"{name}: {_plain(value)}\n" for name, value in sorted(alert.detail.items()))
    return f"{alert.subject}\n\nkind: {alert.kind}\nraised at: {alert.raised_at}\n{details}"


def _plain(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


class Notifier(ABC):
    @abstractmethod
    def send(self, alert: Alert) -> None: ...


class LocalNotifier(Notifier):
    def __init__(self, path: Path | str):
        self.path = Path(path)

    def send(self, alert: Alert) -> None:
        log.warning("ALERT %s: %s", alert.kind, alert.subject)
        append_line(self.path, alert.to_json())

    def alerts(self) -> list[Alert]:
        return [Alert(**fields) for fields in read_lines(self.path)]
