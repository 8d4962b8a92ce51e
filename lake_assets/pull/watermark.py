"""Where a pulled source's pulls stopped, kept in the lake itself (`_state/pull/<source>/`)
through LakeStorage, so it works alike on the local folder and on S3, and travels with the lake
it describes.

- `state.json`: the watermark (the last landed row's position), the pull in flight, if any
  (the file it lands, its bytes' hash and the position it reaches), and the database's circuit
  breaker (lake_assets/circuit.py).
- `pending.jsonl`: the bytes of the pull in flight, staged before they are landed, so that a
  pull interrupted after staging can land exactly those bytes again (service.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from lake_assets.circuit import CLOSED, Circuit, circuit_document, circuit_of
from lake_assets.instants import format_instant, parse_instant
from lake_assets.pull.extract import Position
from lake_assets.tables.keys import check_source_id
from resources.storage import LakeStorage


@dataclass(frozen=True)
class PendingPull:
    """A pull whose file is staged and maybe landed, its watermark not yet advanced."""

    name: str  # the file name it lands under
    sha256: str
    rows: int
    ingest_date: str
    reaches: Position  # the watermark once it has landed


@dataclass(frozen=True)
class PullState:
    watermark: Position | None = None
    pending: PendingPull | None = None
    circuit: Circuit = CLOSED


def state_key(source_id: str) -> str:
    return f"_state/pull/{check_source_id(source_id)}/state.json"


def staged_key(source_id: str) -> str:
    return f"_state/pull/{check_source_id(source_id)}/pending.jsonl"


def read_state(storage: LakeStorage, source_id: str) -> PullState:
    """The source's pull state; a source never pulled starts with no watermark."""
    key = state_key(source_id)
    if not storage.exists(key):
        return PullState()
    document = json.loads(storage.get_bytes(key))
    pending, circuit = document.get("pending"), document.get("circuit")
    return PullState(
        watermark=_position(document.get("watermark")),
        pending=PendingPull(**{**pending, "reaches": _position(pending["reaches"])})
        if pending
        else None,
        circuit=circuit_of(circuit),
    )


def write_state(storage: LakeStorage, source_id: str, state: PullState) -> None:
    pending = state.pending
    document = {
        "watermark": _document(state.watermark),
        "pending": {**vars(pending), "reaches": _document(pending.reaches)} if pending else None,
        "circuit": circuit_document(state.circuit),
    }
    storage.put_bytes(state_key(source_id), (json.dumps(document, indent=2) + "\n").encode())


def _document(position: Position | None) -> dict | None:
    return None if position is None else {"at": format_instant(position.at), "key": position.key}


def _position(document: dict | None) -> Position | None:
    return None if document is None else Position(parse_instant(document["at"]), document["key"])
