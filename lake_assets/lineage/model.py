"""The lineage record of one run: what it read, what it wrote, and which run it replaces.

Every key is a lake key (no bucket or lake root), so the records mean the same on every
profile. A published partition appears among the outputs twice over: as its address
`<dataset>[<partition>]`, which outlives any one run's folder, and as each of its files.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal, NotRequired, TypedDict

State = Literal["START", "COMPLETE", "FAIL", "ABORT"]
STATES: tuple[State, ...] = ("START", "COMPLETE", "FAIL", "ABORT")
Transformation = Literal["IDENTITY", "TRANSFORMATION", "AGGREGATION"]


class ColumnInput(TypedDict):
    """One input column of a derived column: `input` is "<dataset>.<column>"."""

    input: str
    transformation: Transformation
    masking: bool
    # The declared safe transformation applied to the input (lake_assets/access/safe.py), if any.
    safe: NotRequired[str]


def derived_from(
    *inputs: str, transformation: Transformation = "IDENTITY", masking: bool = False
) -> list[ColumnInput]:
    """A derived column's inputs ("<dataset>.<column>"), all transformed the same way."""
    return [{"input": i, "transformation": transformation, "masking": masking} for i in inputs]


def partition_address(dataset: str, partition: str) -> str:
    return f"{dataset}[{partition}]"


def partition_outputs(
    dataset: str, partition: str, location: str, files: list[str] | tuple[str, ...]
) -> tuple[str, ...]:
    """A published partition's outputs: its address, then its files' keys under `location`."""
    folder = location if location.endswith("/") else location + "/"
    return (partition_address(dataset, partition), *(folder + name for name in files))


@dataclass(frozen=True)
class LineageRun:
    run_id: str
    job: str  # e.g. "curated/card_transactions"
    partition: str | None
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    started_at: str  # ISO 8601 in UTC, so the strings sort in time order
    ended_at: str | None = None
    state: State = "START"
    code_version: str | None = None
    schema_version: str | None = None
    supersedes: str | None = None  # the run that produced these outputs before this one
    column_lineage: dict[str, list[ColumnInput]] = field(default_factory=dict)
    # Output address -> the inputs that partition was built from (a subset of `inputs`): a run
    # over a window of days builds each day from its own files, and a trace must say which.
    partition_inputs: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.state not in STATES:
            raise ValueError(f"state must be one of {STATES}, not {self.state!r}")
        # Lists from JSON or callers become tuples, so records compare equal after a round trip.
        object.__setattr__(self, "inputs", tuple(self.inputs))
        object.__setattr__(self, "outputs", tuple(self.outputs))
        object.__setattr__(
            self, "partition_inputs", {k: tuple(v) for k, v in self.partition_inputs.items()}
        )

    def finished(self, state: State, ended_at: str) -> LineageRun:
        """The same run in its terminal state."""
        return replace(self, state=state, ended_at=ended_at)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["inputs"], data["outputs"] = list(self.inputs), list(self.outputs)
        data["partition_inputs"] = {k: list(v) for k, v in self.partition_inputs.items()}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LineageRun:
        return cls(**data)
