"""Cost SLI: the share of days on which a dataset's cost stays within its trend.

From the cost ledger (dataset cost_ledger, one partition per billing month, read through the
catalog by cost/report.read_ledger): every row names its dataset and, for an hourly pool, the
hour ("YYYY-MM-DDTHH"); a month's pool (storage, idle capacity) has no hour and is spread
evenly over the month's days, so a monthly charge never looks like a one-day spike. The
`cost/attributed_usd` observations on each asset are monthly sums of the same rows: too coarse
for a daily judgment.

Each day with ledger rows is one event (weight 1) at the start of the day. Its trend is the
median of the TRAILING_DAYS days before it that have rows; the day is bad when its cost
exceeds `slo.threshold` times the trend (a growth ratio, e.g. 1.5: half as much again). The
median ignores a past one-day spike, so one incident does not mask the next; a lasting step
up burns budget until it becomes the trend (about a week), which is what a budget for cost
growth should do: alert on growth, not punish a new level forever. A day with fewer than
MIN_HISTORY days behind it has no trend and is not judged. Integers throughout (nano-dollars).
"""

from __future__ import annotations

import calendar
import statistics
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING

from lake_assets.cost.model import NANOS_PER_USD
from lake_assets.slo.model import Events, Slo
from lake_assets.slo.slices import Judged, count_judged

if TYPE_CHECKING:
    from lake_assets.slo.records import LakeRecords

TRAILING_DAYS = 14
MIN_HISTORY = 7
DEFAULT_GROWTH = 1.5  # when the SLO names no threshold


def daily_nanos(rows: Iterable[Mapping], dataset: str) -> dict[date, int]:
    """The dataset's cost per day from ledger rows: hourly pools on their day, a month's pool
    split evenly over its days (the remainder on the first days, so the sum is exact)."""
    days: dict[date, int] = {}
    for row in rows:
        if row["dataset"] != dataset:
            continue
        if row["hour"]:
            day = date.fromisoformat(row["hour"][:10])
            days[day] = days.get(day, 0) + row["cost_nanos"]
            continue
        year, month = map(int, row["month"].split("-"))
        count = calendar.monthrange(year, month)[1]
        share, left = divmod(row["cost_nanos"], count)
        for n in range(count):
            day = date(year, month, n + 1)
            days[day] = days.get(day, 0) + share + (1 if n < left else 0)
    return days


def cost_judged(dataset: str, days: Mapping[date, int], growth: float) -> list[Judged]:
    """One event per day with a trend: bad when the day's cost exceeds `growth` x the trend."""
    judged = []
    ordered = sorted(days)
    for i, day in enumerate(ordered):
        history = [days[d] for d in ordered[max(0, i - TRAILING_DAYS) : i]]
        if len(history) < MIN_HISTORY:
            continue
        trend = statistics.median(history)
        good = days[day] <= growth * trend
        reason = ""
        if not good:
            ratio = f"{days[day] / trend:.1f}x" if trend else "above"
            reason = (
                f"${days[day] / NANOS_PER_USD:.2f}, {ratio} the trailing median "
                f"${trend / NANOS_PER_USD:.2f} (allowed {growth}x)"
            )
        at = datetime.combine(day, time(), UTC)
        judged.append(Judged(at, good, f"{dataset}/{day}", reason=reason))
    return judged


def months(start: datetime, end: datetime) -> list[str]:
    """The billing months ("YYYY-MM") from the trend's first day before `start` to `end`."""
    first = (start - timedelta(days=TRAILING_DAYS)).date().replace(day=1)
    found = []
    while first < end.date() or first == end.date().replace(day=1):
        found.append(f"{first:%Y-%m}")
        first = (first + timedelta(days=32)).replace(day=1)
    return found


def cost_of(slo: Slo, dataset: str, records: LakeRecords, start: datetime, end: datetime) -> Events:
    rows = [row for month in months(start, end) for row in records.ledger(month)]
    growth = slo.threshold if slo.threshold is not None else DEFAULT_GROWTH
    judged = cost_judged(dataset, daily_nanos(rows, dataset), growth)
    return count_judged(start, end, slo.cadence, judged)
