"""The classification core (classifier.py, drift.py, policy.py) as the service uses it: one
`Classifier` of plain functions over Arrow tables and profile JSON (what the stores keep)."""

from __future__ import annotations

from lake_assets.classification.classifier import (
    CLASSIFIER_VERSION,
    classify_table,
    profile_table,
    sample_table,
)
from lake_assets.classification.drift import detect_drift
from lake_assets.classification.policy import ClassificationPolicy, load_policy
from lake_assets.classification.service import Classifier
from lake_assets.classification.signals import ColumnProfile


def core_classifier(policy: ClassificationPolicy | None = None) -> Classifier:
    """The classifier of config/classification.yaml (or `policy`)."""
    policy = policy or load_policy()

    def drift(baseline: dict, now: dict):
        found = detect_drift(
            ColumnProfile.from_json(baseline), ColumnProfile.from_json(now), policy.drift
        )
        return found[0] if found else None  # the largest change names the alert

    def classify(dataset, sample, partitions, columns, profiles):
        known = {name: ColumnProfile.from_json(body) for name, body in profiles.items()}
        return classify_table(dataset, sample, partitions, policy, known, columns)

    def sensitivity_of(semantic_type: str) -> str:
        # An operator's type must be one the policy declares: a typo is refused, not `internal`.
        if semantic_type not in policy.sensitivity:
            known = ", ".join(sorted(policy.sensitivity))
            raise KeyError(f"unknown semantic type {semantic_type!r}; known: {known}")
        return policy.sensitivity_of(semantic_type)

    return Classifier(
        version=CLASSIFIER_VERSION,
        sample=lambda table: sample_table(table, policy),
        profile=lambda sample: {n: p.to_json() for n, p in profile_table(sample).items()},
        drift=drift,
        classify=classify,
        sensitivity_of=sensitivity_of,
    )
