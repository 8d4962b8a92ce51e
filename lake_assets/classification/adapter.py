"""The classifier as the service uses it: one `Classifier` of plain functions over Arrow tables
and profile JSON (what the stores keep), built from the core (classifier.py, drift.py,
policy.py) or, in tests, from stand-ins."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pyarrow as pa

from lake_assets.classification.classifier import (
    CLASSIFIER_VERSION,
    classify_table,
    profile_table,
    sample_table,
)
from lake_assets.classification.drift import Drift, detect_drift
from lake_assets.classification.model import ColumnClassification
from lake_assets.classification.policy import ClassificationPolicy, load_policy
from lake_assets.classification.signals import ColumnProfile


@dataclass(frozen=True)
class Classifier:
    """The classifier's functions the service calls."""

    version: str
    sample: Callable[[pa.Table], pa.Table]
    profile: Callable[[pa.Table], dict[str, dict]]  # column -> baseline-able profile JSON
    drift: Callable[[dict, dict], Drift | None]  # baseline, now -> what moved past thresholds
    # dataset, sample, partition range, the columns to classify (the others are context), the
    # sample's profiles -> one classification per column asked for
    classify: Callable[
        [str, pa.Table, tuple[str, str], Sequence[str], dict[str, dict]],
        list[ColumnClassification],
    ]
    sensitivity_of: Callable[[str], str]  # semantic type -> sensitivity (KeyError: unknown)
    # baseline, now -> whether the column should be classified again on `now`, a larger sample
    # than a baseline too small to judge drift against (none: the stand-ins' samples never are)
    outgrows: Callable[[dict, dict], bool] = lambda baseline, now: False


def core_classifier(policy: ClassificationPolicy | None = None) -> Classifier:
    """The classifier of config/classification.yaml (or `policy`)."""
    policy = policy or load_policy()

    def drift(baseline: dict, now: dict):
        found = detect_drift(
            ColumnProfile.from_json(baseline),
            ColumnProfile.from_json(now),
            policy.drift,
            policy.pii_types,
        )
        return found[0] if found else None  # the largest change names the alert

    def outgrows(baseline: dict, now: dict) -> bool:
        # A first day of few values (or none) would otherwise be the column's baseline for
        # good: its entropy never compared, its shares judged with wide margins.
        before, after = ColumnProfile.from_json(baseline), ColumnProfile.from_json(now)
        return before.non_null < policy.drift.min_values and after.non_null > before.non_null

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
        outgrows=outgrows,
    )
