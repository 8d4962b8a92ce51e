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
