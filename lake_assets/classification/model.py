"""What a column's classification is: ranked candidates with confidence and evidence, never a
bare label, and who decided.

Plain data shared by the classifier (signals, formats, fusion), the stores that write it back
to the catalog (SQLite locally, Glue column parameters on aws), the CLI and the Dagster wiring.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Literal

Sensitivity = Literal["pii", "confidential", "internal", "public"]
SENSITIVITIES: tuple[Sensitivity, ...] = ("pii", "confidential", "internal", "public")

# Who set the label: the classifier, or an operator whose decision automation never overwrites.
DecidedBy = Literal["classifier", "operator"]


@dataclass(frozen=True)
class Candidate:
    """One semantic type a column may hold, how sure we are, and the signals behind it."""

    semantic_type: str
    confidence: float  # in [0, 1]
    # Signal -> observed value, e.g. {"format.mykad": 0.97, "name": "ref_no", "dob_matches": 1.0}
    evidence: dict[str, float | str] = field(default_factory=dict)


@dataclass(frozen=True)
class ColumnClassification:
    dataset: str
    column: str
    candidates: tuple[Candidate, ...]  # best first
    # None when the best candidate is below the review threshold: flagged, not labelled.
    semantic_type: str | None
    sensitivity: Sensitivity | None
    confidence: float
    classifier_version: str
    partitions: tuple[str, str]  # first and last partition the sample was drawn from
    decided_by: DecidedBy = "classifier"
    reason: str | None = None  # an operator's reason, or why the column needs review
    # When values and name disagree ("values look like mykad (0.96); the name suggests phone").
    conflict: str | None = None

    @property
    def needs_review(self) -> bool:
        return self.semantic_type is None

    @property
    def evidence_digest(self) -> str:
        """A short fingerprint of the evidence: stores write only when it changes."""
        body = json.dumps([asdict(c) for c in self.candidates], sort_keys=True, default=str)
        return hashlib.sha256(body.encode()).hexdigest()[:16]

    def to_json(self) -> dict:
        return {**asdict(self), "partitions": list(self.partitions)}

    @classmethod
    def from_json(cls, body: dict) -> ColumnClassification:
        return cls(
            **{
                **body,
                "candidates": tuple(Candidate(**c) for c in body["candidates"]),
                "partitions": tuple(body["partitions"]),
            }
        )
