"""A JSON-lines file the local profile keeps what AWS would receive in: alerts, metrics."""

from __future__ import annotations

import json
from pathlib import Path


def append_line(path: Path, line: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        handle.write(line + "\n")


def read_lines(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]
