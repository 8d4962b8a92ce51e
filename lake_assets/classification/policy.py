"""The classification policy, from config/classification.yaml: each semantic type's
sensitivity, the confidence below which a column is flagged for review rather than labelled,
the sample size, and the drift thresholds that trigger reclassification. Every key is optional;
an error names the file, the key and the reason (lake_assets/config.py)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic.dataclasses import dataclass as declared

from lake_assets.classification.model import Sensitivity
from lake_assets.config import NO_UNKNOWN_KEYS, load_config
from lake_assets.settings import REPO_ROOT

DEFAULT_CLASSIFICATION_FILE = REPO_ROOT / "config" / "classification.yaml"


@declared(frozen=True, config=NO_UNKNOWN_KEYS)
class DriftThresholds:
    """Absolute changes of a column's profile, against its baseline, that count as drift, and
    what two samples must show beyond chance (drift.py)."""

    format_share: float = Field(0.01, strict=True, ge=0, le=1)
    entropy: float = Field(0.15, strict=True, ge=0, le=1)
    cardinality_ratio: float = Field(0.2, strict=True, ge=0, le=1)
    null_ratio: float = Field(0.2, strict=True, ge=0, le=1)
    # A share's change must also exceed this many standard errors of the difference between
    # two samples of their sizes: a small day's shares move by chance.
    standard_errors: float = Field(3.0, strict=True, ge=0)
    # Entropy and cardinality are compared only between samples of at least this many
    # non-null values each: below it they measure the sample's size more than the column.
    min_values: int = Field(100, strict=True, ge=1)


_SENSITIVITY: dict[str, Sensitivity] = {
    **dict.fromkeys(
        ("mykad", "email", "phone", "iban", "payment_card", "bank_account", "date_of_birth",
         "person_name", "address"),
        "pii",
    ),
    "amount": "confidential",
    **dict.fromkeys(
        ("free_text", "identifier", "timestamp", "date", "code", "number", "place"), "internal"
    ),
    "flag": "public",
}  # fmt: skip


@declared(frozen=True, config=NO_UNKNOWN_KEYS)
class ClassificationPolicy:
    """config/classification.yaml."""

    sensitivity: dict[str, Sensitivity] = Field(default_factory=lambda: dict(_SENSITIVITY))
    review_threshold: float = Field(0.6, strict=True, ge=0, le=1)
    sample_size: int = Field(10_000, strict=True, gt=0)
    embedded_pii_share: float = Field(0.005, strict=True, ge=0, le=1)
    drift: DriftThresholds = Field(default_factory=DriftThresholds)

    @field_validator("sensitivity", mode="before")
    @classmethod
    def _declared_types_over_the_defaults(cls, section: object) -> object:
        # The file names the types it decides; the others keep their default sensitivity.
        if section is None:  # every key commented out
            return dict(_SENSITIVITY)
        return {**_SENSITIVITY, **section} if isinstance(section, dict) else section

    @field_validator("drift", mode="before")
    @classmethod
    def _empty_section_is_the_defaults(cls, section: object) -> object:
        # A section whose every key is commented out reads as null in YAML.
        return {} if section is None else section

    def sensitivity_of(self, semantic_type: str) -> Sensitivity:
        """A type the policy does not list is internal: neither published nor masked."""
        return self.sensitivity.get(semantic_type, "internal")

    def is_pii(self, semantic_type: str) -> bool:
        return self.sensitivity_of(semantic_type) == "pii"

    @property
    def pii_types(self) -> frozenset[str]:
        return frozenset(t for t in self.sensitivity if self.is_pii(t))


def load_policy(path: Path | str = DEFAULT_CLASSIFICATION_FILE) -> ClassificationPolicy:
    """Parse and validate the classification policy file."""
    return load_config(path, ClassificationPolicy)
