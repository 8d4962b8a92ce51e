"""Partition-level contract verdicts, pure: volume, quality score, freshness, referential grace,
blocking.

The inputs are numbers and timestamps the orchestrator already has (published row counts,
publish times, violation counts from the promotion), so none of this needs Spark.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from lake_assets.contracts.model import (
    AllowedValues,
    Contract,
    NotNull,
    QualityScore,
    Range,
    ReferentialIntegrity,
    Regex,
    Rule,
    Sql,
    Unique,
    Volume,
)


def end_of_day(partition_date: date) -> datetime:
    """A daily partition's data is complete at the next midnight, UTC."""
    return datetime.combine(partition_date + timedelta(days=1), time(0), tzinfo=UTC)


# --- referential integrity -------------------------------------------------------------


def ri_phase(
    rule: Rule,
    partition_date: date,
    reference_published_at: datetime | None,
    now: datetime,
) -> Literal["grace", "enforced"]:
    """ "grace" while the referenced partition is unpublished and the grace window (end of the
    day plus grace_hours) is open: orphans are counted but do not fail. Otherwise "enforced"."""
    check = rule.check
    if not isinstance(check, ReferentialIntegrity):
        raise ValueError(f"rule {rule.name!r} is {rule.kind}, not referential_integrity")
    closes = end_of_day(partition_date) + timedelta(hours=check.grace_hours)
    return "grace" if reference_published_at is None and now < closes else "enforced"


# --- volume ----------------------------------------------------------------------------


@dataclass(frozen=True)
class VolumeVerdict:
    phase: Literal["observing", "enforcing"]
    passed: bool
    baseline: dict[str, float | int | None]
    detail: str


def _baseline(window: list[int]) -> dict[str, float | int | None]:
    if not window:
        return {"partitions": 0, "mean": None, "std": None}
    return {
        "partitions": len(window),
        "mean": statistics.fmean(window),
        "std": statistics.pstdev(window),
    }


def _judge(volume: Volume, today: int, mean: float, std: float) -> tuple[bool, str]:
    if volume.max_change_pct is not None:
        if mean == 0:
            change = 0.0 if today == 0 else math.inf
        else:
            change = (today - mean) / mean * 100
        passed = abs(change) <= volume.max_change_pct
        return (
            passed,
            f"{change:+.1f}% vs trailing mean {mean:.1f} (limit ±{volume.max_change_pct}%)",
        )
    # Counts carry at least counting noise (√mean), so a perfectly steady history does not
    # make a one-row change infinitely anomalous.
    scale = max(std, math.sqrt(mean))
    if scale == 0:
        zscore = 0.0 if today == mean else math.inf
    else:
        zscore = (today - mean) / scale
    passed = abs(zscore) <= volume.max_zscore
    return passed, (
        f"z={zscore:+.2f} vs trailing mean {mean:.1f}, scale {scale:.2f} "
        f"(limit ±{volume.max_zscore})"
    )


def volume_verdict(
    rule: Rule, history_counts: list[int], today: int, bootstrap_partitions: int
) -> VolumeVerdict:
    """Judge today's row count against the last `trailing_partitions` of `history_counts`
    (published partitions, oldest first). Until `bootstrap_partitions` exist the rule only
    observes: it passes, records the baseline, and says what it would have decided."""
    volume = rule.check
    if not isinstance(volume, Volume):
        raise ValueError(f"rule {rule.name!r} is {rule.kind}, not volume")
    window = history_counts[-volume.trailing_partitions :]
    baseline = _baseline(window)
    if len(history_counts) < max(bootstrap_partitions, 1):
        seen = f"observing {len(history_counts)}/{bootstrap_partitions} partitions"
        if not window:
            return VolumeVerdict("observing", True, baseline, f"{seen}; no baseline yet")
        would_pass, detail = _judge(volume, today, baseline["mean"], baseline["std"])
        verdict = "would pass" if would_pass else "would fail"
        return VolumeVerdict("observing", True, baseline, f"{seen}; {verdict}: {detail}")
    passed, detail = _judge(volume, today, baseline["mean"], baseline["std"])
    return VolumeVerdict("enforcing", passed, baseline, f"{today} rows, {detail}")


# --- quality score -----------------------------------------------------------------------


@dataclass(frozen=True)
class QualityVerdict:
    passed: bool
    score: float
    detail: str


def quality_verdict(rule: Rule, published: int, quarantined: int) -> QualityVerdict:
    """The share of the partition's rows that are published. A partition with no rows scores
    1: an empty day is the volume rule's to judge, not this one's."""
    quality = rule.check
    if not isinstance(quality, QualityScore):
        raise ValueError(f"rule {rule.name!r} is {rule.kind}, not quality_score")
    rows = published + quarantined
    score = published / rows if rows else 1.0
    passed = score >= quality.min_share
    return QualityVerdict(
        passed,
        score,
        f"score {score:.3f}: {published} of {rows} rows publishable, {quarantined} quarantined "
        f"(minimum {quality.min_share:g})",
    )


# --- freshness -------------------------------------------------------------------------


@dataclass(frozen=True)
class FreshnessVerdict:
    status: Literal["on_time", "pending", "late", "overdue", "fresh", "stale"]
    passed: bool
    due: datetime | None
    detail: str


def partition_deadline(partition_date: date, deadline_hours: float) -> datetime:
    """Partition D is due by the end of day D (UTC) plus `deadline_hours`."""
    return end_of_day(partition_date) + timedelta(hours=deadline_hours)


def deadline_verdict(
    partition_date: date,
    published_at: datetime | None,
    now: datetime,
    deadline_hours: float,
) -> FreshnessVerdict:
    """on_time / late once published; pending before the deadline, overdue after it."""
    due = partition_deadline(partition_date, deadline_hours)
    if published_at is not None:
        if published_at <= due:
            return FreshnessVerdict("on_time", True, due, f"published {published_at:%F %T}Z")
        hours = (published_at - due) / timedelta(hours=1)
        return FreshnessVerdict("late", False, due, f"published {hours:.1f} h after the deadline")
    if now <= due:
        return FreshnessVerdict("pending", True, due, f"due by {due:%F %T}Z")
    hours = (now - due) / timedelta(hours=1)
    return FreshnessVerdict("overdue", False, due, f"not published, {hours:.1f} h past deadline")


def staleness_verdict(
    last_published_at: datetime | None, now: datetime, max_staleness_hours: float
) -> FreshnessVerdict:
    """Whether the newest publish of the dataset is recent enough."""
    if last_published_at is None:
        return FreshnessVerdict("stale", False, None, "never published")
    due = last_published_at + timedelta(hours=max_staleness_hours)
    age = (now - last_published_at) / timedelta(hours=1)
    status = "fresh" if now <= due else "stale"
    return FreshnessVerdict(status, status == "fresh", due, f"last published {age:.1f} h ago")


# --- blocking --------------------------------------------------------------------------


def blocking_rules(
    contract: Contract, counts: Mapping[str, int], in_grace: Iterable[str] = ()
) -> list[str]:
    """The fail-action rules a partition violated (counts from `violation_counts`), minus
    referential rules in grace: a non-empty answer blocks the partition's publish."""
    waived = set(in_grace)
    return [
        r.name
        for r in contract.all_rules
        if r.action == "fail" and counts.get(r.name, 0) > 0 and r.name not in waived
    ]


# --- what a rule and its verdict say (check descriptions in the webserver) ------------------


# What each action does to a partition that violates the rule.
@dataclass(frozen=True)
class ActionEffect:
    """What a rule's action does, said two ways: as the rule's policy (a check's description)
    and as what happened to a partition it found violations in (a rule's message)."""

    policy: str
    outcome: str


ACTION_EFFECTS = {
    "fail": ActionEffect(
        "fail: a violating partition is not published and nothing downstream of it runs",
        "the partition is not published",
    ),
    "drop": ActionEffect(
        "drop: violating rows go to quarantine with the rule's name, the rest is published",
        "rows quarantined, the rest published",
    ),
    "warn": ActionEffect(
        "warn: violating rows are published and reported here", "published, reported"
    ),
}


def rule_test(rule: Rule) -> str:
    """The rule's column and threshold, as a reader of the check needs them."""
    check = rule.check
    if isinstance(check, NotNull):
        return f"{check.column} is not null"
    if isinstance(check, Range):
        bounds = [
            f"{check.column} >= {check.min:g}" if check.min is not None else "",
            f"{check.column} <= {check.max:g}" if check.max is not None else "",
        ]
        return " and ".join(b for b in bounds if b)
    if isinstance(check, Regex):
        return f"{check.column} matches {check.pattern}"
    if isinstance(check, AllowedValues):
        return f"{check.column} in {', '.join(str(v) for v in check.values)}"
    if isinstance(check, Unique):
        return f"{', '.join(check.columns)} unique within the partition"
    if isinstance(check, Sql):
        return check.expression
    if isinstance(check, Volume):
        limit = (
            f"within ±{check.max_change_pct:g}% of"
            if check.max_change_pct is not None
            else f"within z ±{check.max_zscore:g} of"
        )
        return f"row count {limit} the trailing {check.trailing_partitions} partitions' mean"
    if isinstance(check, QualityScore):
        return f"at least {check.min_share:g} of the partition's rows published, not quarantined"
    references = check.references
    return f"{check.column} exists in {references.dataset}.{references.column} of the same day" + (
        f" (grace {check.grace_hours:g} h after the day ends)" if check.grace_hours else ""
    )


def describe_rule(rule: Rule, contract: Contract) -> str:
    """One sentence per check: the rule, its column and threshold, what its action does."""
    phase = (
        f" Observes only for the first {contract.bootstrap_partitions} partitions."
        if rule.kind == "volume"
        else ""
    )
    return (
        f"{rule.name} ({rule.kind}): {rule_test(rule)}. {ACTION_EFFECTS[rule.action].policy}. "
        f"Severity {rule.severity}, contract {contract.dataset} v{contract.version}.{phase}"
    )
