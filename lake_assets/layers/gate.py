"""The gate between layers: may partition p of a derived table build from its inputs now?

Pure: each input partition's last attempt in, a verdict out. A derived partition never builds
from an input partition whose last attempt was blocked by its contract or failed, even if an
older version of it is still published: that version is what the failure left behind, not
what the source sent. Held, the derived partition keeps its previously published version,
readable as it was (nothing is written over it)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lake_assets.layers.model import DerivedTable


@dataclass(frozen=True)
class InputState:
    """The last attempt at one input partition, as the orchestrator recorded it."""

    dataset: str
    partition: str
    published: bool  # the catalog holds a version of it
    blocked_by: tuple[str, ...] = ()  # its last materialization named rules that held it back
    failed: bool = False  # its last attempt failed after its last materialization
    # Referential rules its last materialization published unchecked (the reference late): held
    # until the reference publishes the day and the partition is promoted again (ADR-0132).
    awaiting: tuple[str, ...] = ()

    @property
    def address(self) -> str:
        return f"{self.dataset}[{self.partition}]"


@dataclass(frozen=True)
class GateVerdict:
    held_by: tuple[str, ...] = ()  # why the partition may not build, one reason per input
    left_out: tuple[str, ...] = ()  # optional inputs without the partition (built without)

    @property
    def builds(self) -> bool:
        return not self.held_by


def gate(table: DerivedTable, partition: str, states: Sequence[InputState]) -> GateVerdict:
    """Held by any input partition (in its lookback window, or the base it builds on) that was
    blocked, failed or awaits its reference, and by a required input that has not published
    `partition` itself; an optional input that has not is left out."""
    by_address = {s.address: s for s in states}
    held, left_out = [], []
    for spec in table.inputs:
        for day in spec.partitions(partition):
            state = by_address.get(f"{spec.dataset}[{day}]")
            if state is None:
                continue
            if state.blocked_by:
                held.append(
                    f"{state.address} was held back by {', '.join(state.blocked_by)}; "
                    f"{table.dataset}[{partition}] keeps its published version"
                )
            elif state.failed:
                held.append(
                    f"{state.address}: its last run failed; {table.dataset}[{partition}] keeps "
                    "its published version until it is rebuilt"
                )
            elif state.awaiting:
                held.append(
                    f"{state.address} was published before {', '.join(state.awaiting)} could "
                    f"check it against its reference; {table.dataset}[{partition}] waits for "
                    "the check"
                )
        newest = spec.partitions(partition)[-1]  # `partition` itself, but for a base
        own = by_address.get(f"{spec.dataset}[{newest}]")
        if own is None or not own.published:
            if spec.required:
                held.append(f"{spec.dataset}[{newest}] is not published yet")
            else:
                left_out.append(spec.dataset)
    return GateVerdict(tuple(held), tuple(left_out))
