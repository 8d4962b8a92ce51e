"""The registry's records: a schema version of a source and the diff that produced it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

Status = Literal["ACTIVE", "DEPRECATED", "BREAKING"]


@dataclass(frozen=True)
class RenameCandidate:
    old: str
    new: str
    confidence: float  # 0..1, from the two fields' value profiles and names
    evidence: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class FieldDiff:
    added: dict[str, str] = field(default_factory=dict)  # name -> type
    removed: dict[str, str] = field(default_factory=dict)
    widened: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (old, new)
    narrowed: dict[str, tuple[str, str]] = field(default_factory=dict)
    changed: dict[str, tuple[str, str]] = field(default_factory=dict)  # neither wider nor narrower
    renamed: tuple[RenameCandidate, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not (self.added or self.removed or self.widened or self.narrowed or self.changed)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> FieldDiff:
        return cls(
            added=dict(data.get("added", {})),
            removed=dict(data.get("removed", {})),
            widened={k: tuple(v) for k, v in data.get("widened", {}).items()},
            narrowed={k: tuple(v) for k, v in data.get("narrowed", {}).items()},
            changed={k: tuple(v) for k, v in data.get("changed", {}).items()},
            renamed=tuple(RenameCandidate(**c) for c in data.get("renamed", ())),
        )


@dataclass
class SchemaVersion:
    """One entry of the registry: PK source_id, SK `version#<timestamp>` (see ADR-0003)."""

    source_id: str
    version: str  # "version#2026-03-02T10:00:00.000001Z"; sorts in creation order
    fields: dict[str, str]  # field name -> field type, as observed in the payloads
    field_diff: FieldDiff
    status: Status
    compatibility: str
    created_at: str
    fingerprint: str  # hash of `fields`; payloads with the same shape share a version
    profiles: dict[str, dict] = field(default_factory=dict)  # field name -> FieldProfile dict
    violations: list[str] = field(default_factory=list)  # why the version is BREAKING
    approved_renames: dict[str, str] = field(default_factory=dict)  # field here -> canonical
    approved_removals: list[str] = field(default_factory=list)
    approved_at: str | None = None
    promoted_at: str | None = None
    # When the BREAKING alert went out: set after the send, so a send that failed is retried
    # by the next payload of this shape (at least once; ADR-0131).
    alerted_at: str | None = None

    @property
    def is_blocking(self) -> bool:
        """A BREAKING version stops promotion of the whole source until it is approved (then ACTIVE)."""
        return self.status == "BREAKING"

    def to_dict(self) -> dict:
        data = asdict(self)
        data["field_diff"] = self.field_diff.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict) -> SchemaVersion:
        data = dict(data)
        data["field_diff"] = FieldDiff.from_dict(data.get("field_diff") or {})
        return cls(**data)
