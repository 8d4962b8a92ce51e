"""Alerts through one notifier: SNS in the aws profile, a log line and a JSON-lines file locally."""

from __future__ import annotations

import json
import logging
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

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
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as handle:
            handle.write(alert.to_json() + "\n")

    def alerts(self) -> list[Alert]:
        if not self.path.exists():
            return []
        return [Alert(**json.loads(line)) for line in self.path.read_text().splitlines()]
