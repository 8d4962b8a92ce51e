"""The platform's own metrics, which the alarms watch: CloudWatch in the aws profile
(resources/aws/cloudwatch.py), a log line and a JSON-lines file locally (as alerts are)."""

from __future__ import annotations

import json
import logging
from abc import ABC, abstractmethod
from datetime import UTC, datetime
from pathlib import Path

from resources.jsonl import append_line, read_lines

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
        at = datetime.now(UTC).isoformat()
        append_line(self.path, json.dumps({"name": name, "value": value, "at": at}))

    def counted(self) -> list[dict]:
        return read_lines(self.path)
