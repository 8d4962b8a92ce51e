"""The platform's own metrics, which the alarms watch: CloudWatch in the aws profile
(resources/aws/cloudwatch.py), a log line and a JSON-lines file locally (as alerts are)."""

from __future__ import annotations

import json
import logging
from abc import ABC, abstractmethod
from datetime import UTC, datetime
from pathlib import Path

log = logging.getLogger("lakehouse.metrics")


class PlatformMetrics(ABC):
    @abstractmethod
    def count(self, name: str, value: int) -> None:
        """Add `value` occurrences of `name` now (a failed run, a failed tick, ...)."""


class LocalMetrics(PlatformMetrics):
    def __init__(self, path: Path | str):
        self.path = Path(path)

    def count(self, name: str, value: int) -> None:
        log.info("metric %s += %s", name, value)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        at = datetime.now(UTC).isoformat()
        with self.path.open("a") as handle:
            handle.write(json.dumps({"name": name, "value": value, "at": at}) + "\n")

    def counted(self) -> list[dict]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines()]
