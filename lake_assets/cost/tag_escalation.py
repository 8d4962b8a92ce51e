"""Escalation of untagged resources over time: a warning when a resource is first seen untagged,
an alert after `alert_after_days`, an incident after `incident_after_days`, each notified once,
and one "resolved" notice when it is tagged (or no longer billed). Pure: the state the last
check left (one JSON-able mapping), the month's report and the day in; the new state and the
notices out. tagging_service.py keeps the state in the lake and sends the alerts.

The state follows the latest month checked: a check of an older month (a restated month's
backfill) reports but escalates nothing, so replaying history never re-opens what was fixed.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from lake_assets.cost.model import cents
from lake_assets.cost.tagging import TaggingPolicy, TaggingReport, Untagged
from resources.notifier import Alert

LEVELS = ("warning", "alert", "incident")  # in the order they escalate
RESOLVED = "resolved"
ALERT_KIND = "cost.untagged.{level}"
# How many resources an alert lists (most costly first); the count and the cost cover them all.
LISTED = 50


def alert_kind(level: str) -> str:
    return ALERT_KIND.format(level=level)


@dataclass(frozen=True)
class Notice:
    """One resource reaching a level (or resolved) at this check."""

    level: str  # one of LEVELS, or RESOLVED
    resource: str
    first_seen: str  # the day it was first seen untagged
    days: int  # untagged for, at this check
    cost_nanos: int  # its untagged cost in the month checked (at its last sighting if resolved)
    problems: tuple[str, ...]
    reason: str = ""  # why resolved


@dataclass(frozen=True)
class Escalation:
    state: dict[str, Any]
    notices: tuple[Notice, ...]
    escalated: bool  # False: an older month than the state follows, nothing changed


def level_after(days: int, policy: TaggingPolicy) -> str:
    if days >= policy.incident_after_days:
        return "incident"
    return "alert" if days >= policy.alert_after_days else "warning"


def _rank(level: str) -> int:
    return LEVELS.index(level) if level in LEVELS else -1


def escalate(
    state: dict[str, Any], report: TaggingReport, today: date, policy: TaggingPolicy
) -> Escalation:
    """The state after the check of `report.month` on `today`, and what to notify."""
    if report.month < state.get("month", ""):
        return Escalation(state, (), escalated=False)
    resources: dict[str, dict] = dict(state.get("resources", {}))
    notices: list[Notice] = []
    still_open = {u.resource: u for u in report.untagged if u.current_problems}
    for key, untagged in still_open.items():
        entry = resources.get(key) or {"first_seen": today.isoformat(), "level": ""}
        days = (today - date.fromisoformat(entry["first_seen"])).days
        level = level_after(days, policy)
        if _rank(level) > _rank(entry["level"]):
            # Every stage passed since the last check, in order: checks days apart (a paused
            # schedule, a month checked late) still tell the alert stage's audience.
            for passed in LEVELS[_rank(entry["level"]) + 1 : _rank(level) + 1]:
                notices.append(_notice(passed, untagged, entry["first_seen"], days))
        else:
            level = entry["level"]
        resources[key] = {
            "first_seen": entry["first_seen"],
            "level": level,
            "last_seen_month": report.month,
            "cost_nanos": untagged.cost_nanos,
            "problems": [problem.describe() for problem in untagged.current_problems],
        }
    for key, entry in sorted(resources.items()):
        if key in still_open:
            continue
        if key in report.seen:
            reason = "tagged"
        elif entry["last_seen_month"] < _previous_month(report.month):
            # Absent from a whole month: gone. Absent from the start of this month only proves
            # nothing (a month's bill grows over the month).
            reason = f"not billed since {entry['last_seen_month']}"
        else:
            continue
        del resources[key]
        days = (today - date.fromisoformat(entry["first_seen"])).days
        notices.append(
            Notice(
                RESOLVED,
                key,
                entry["first_seen"],
                days,
                entry["cost_nanos"],
                tuple(entry["problems"]),
                reason,
            )
        )
    new_state = {"month": report.month, "checked_on": today.isoformat(), "resources": resources}
    return Escalation(new_state, tuple(notices), escalated=True)


def _notice(level: str, untagged: Untagged, first_seen: str, days: int) -> Notice:
    problems = tuple(problem.describe() for problem in untagged.current_problems)
    return Notice(level, untagged.resource, first_seen, days, untagged.cost_nanos, problems)


def _previous_month(month: str) -> str:
    year, number = int(month[:4]), int(month[5:7])
    return f"{year - 1}-12" if number == 1 else f"{year}-{number - 1:02d}"


def alerts(escalation: Escalation, report: TaggingReport, policy: TaggingPolicy) -> list[Alert]:
    """One alert per level reached at this check (not one per resource: a first check of a
    month with a thousand untagged resources sends one warning, not a thousand)."""
    by_level: dict[str, list[Notice]] = defaultdict(list)
    for notice in escalation.notices:
        by_level[notice.level].append(notice)
    sent = []
    for level in (*LEVELS, RESOLVED):
        notices = sorted(by_level.get(level, []), key=lambda n: (-n.cost_nanos, n.resource))
        if not notices:
            continue
        cost = sum(notice.cost_nanos for notice in notices)
        share = cost / report.bill_nanos if report.bill_nanos > 0 else 0.0
        sent.append(
            Alert(
                kind=alert_kind(level),
                subject=_subject(level, len(notices), cost, share, report.month, policy),
                detail={
                    "month": report.month,
                    "level": level,
                    "resources": len(notices),
                    "cost_nanos": cost,
                    "cost_usd": str(cents(cost)),
                    "share": share,
                    "listed": [
                        {**asdict(notice), "cost_usd": str(cents(notice.cost_nanos))}
                        for notice in notices[:LISTED]
                    ],
                },
            )
        )
    return sent


def _subject(
    level: str, count: int, cost: int, share: float, month: str, policy: TaggingPolicy
) -> str:
    what = {
        "warning": "newly untagged",
        "alert": f"untagged for {policy.alert_after_days}+ days",
        "incident": f"untagged for {policy.incident_after_days}+ days",
    }
    if level == RESOLVED:
        return f"{month}: {count} untagged resource(s) resolved"
    return (
        f"{month}: {count} resource(s) {what[level]}, ${cents(cost)} "
        f"({share:.2%} of the bill) unattributable"
    )
