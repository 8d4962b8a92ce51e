"""Whether a column's values have moved away from what it was classified on: a new partition's
profile against the column's baseline profile, signal by signal, against the policy's declared
thresholds. What drifted, and by how much, is the reason to reclassify and the alert's text.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import asdict, dataclass

from lake_assets.classification.policy import DriftThresholds
from lake_assets.classification.signals import ColumnProfile


@dataclass(frozen=True)
class Drift:
    column: str
    signal: str  # "format.mykad", "embedded.mykad", "normalised_entropy", "cardinality_ratio"...
    baseline: float
    observed: float
    threshold: float

    @property
    def change(self) -> float:
        return round(self.observed - self.baseline, 4)

    def describe(self) -> str:
        return (
            f"{self.column}: {self.signal} {self.baseline:.4g} -> {self.observed:.4g} "
            f"(change {self.change:+.4g}, threshold {self.threshold:.4g})"
        )

    def to_json(self) -> dict:
        return asdict(self)


def detect_drift(
    baseline: ColumnProfile,
    current: ColumnProfile,
    thresholds: DriftThresholds,
    pii_types: Collection[str] = (),
) -> list[Drift]:
    """The signals of `current` that moved past their limit from `baseline`, largest change
    first. A share (a format's or an embedded format's, of the non-null values; the nulls', of
    the rows) moves only past the larger of its threshold and `standard_errors` standard errors
    of the difference between two samples of their sizes, so a day of thirty rows does not
    reclassify a column by chance; entropy and cardinality are compared only between samples of
    `min_values` non-null values or more. A format that appears or vanishes counts from a share
    of 0. A PII type of `pii_types` found in or inside the values where the baseline had none
    drifts whatever its share and however small the baseline: a few IC numbers pasted into
    notes are a few customers exposed (its limit reads 0)."""
    on_values, on_rows = (baseline.non_null, current.non_null), (baseline.rows, current.rows)
    shares: list[tuple[str, float, float, float, tuple[int, int]]] = [
        (f"format.{name}", *_shares(baseline.format_shares, current.format_shares, name),
         thresholds.format_share, on_values)
        for name in sorted(baseline.format_shares.keys() | current.format_shares.keys())
    ] + [
        (f"embedded.{name}", *_shares(baseline.embedded_shares, current.embedded_shares, name),
         thresholds.format_share, on_values)
        for name in sorted(baseline.embedded_shares.keys() | current.embedded_shares.keys())
    ] + [
        ("null_ratio", baseline.null_ratio, current.null_ratio, thresholds.null_ratio, on_rows),
    ]  # fmt: skip
    limits = [
        (signal, before, after, _limit(threshold, before, after, sizes, thresholds))
        for signal, before, after, threshold, sizes in shares
    ]
    if min(on_values) >= thresholds.min_values:
        limits += [
            ("normalised_entropy", baseline.normalised_entropy, current.normalised_entropy,
             thresholds.entropy),
            ("cardinality_ratio", baseline.cardinality_ratio, current.cardinality_ratio,
             thresholds.cardinality_ratio),
        ]  # fmt: skip
    appeared = {
        f"{where}.{name}"
        for where, before, now in (
            ("format", baseline.format_shares, current.format_shares),
            ("embedded", baseline.embedded_shares, current.embedded_shares),
        )
        for name in now.keys() - {n for n, share in before.items() if share}
        if name in pii_types and now[name]
    }
    drifts = [
        Drift(current.column, signal, before, after, 0.0 if signal in appeared else limit)
        for signal, before, after, limit in limits
        if abs(after - before) > limit or signal in appeared
    ]
    if baseline.arrow_type != current.arrow_type:  # a widened type changes what can be read
        drifts.append(Drift(current.column, f"arrow_type {baseline.arrow_type} -> "
                            f"{current.arrow_type}", 0.0, 1.0, 0.0))  # fmt: skip
    return sorted(drifts, key=lambda d: -abs(d.change))


def _limit(
    threshold: float, before: float, after: float, sizes: tuple[int, int], policy: DriftThresholds
) -> float:
    """The larger of `threshold` and the policy's standard errors of the difference between two
    shares measured on samples of `sizes` (pooled, as a two-proportion test pools them). A
    share of an empty sample says nothing: it never drifts (the null ratio does)."""
    n1, n2 = sizes
    if not (n1 and n2):
        return math.inf
    pooled = (before * n1 + after * n2) / (n1 + n2)
    noise = policy.standard_errors * math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    return max(threshold, round(noise, 4))


def _shares(before: dict[str, float], after: dict[str, float], name: str) -> tuple[float, float]:
    return before.get(name, 0.0), after.get(name, 0.0)
