"""The alerting tiers, pure: against alert fatigue (seed 000_* project 12), a burn is told as
loudly as it matters and once.

- A fast burn opens an alert and notifies at once; a slow burn opens a digest entry, told in
  the weekly digest only; an exhausted budget opens an incident and notifies at once. A tier
  may mute the immediate notice (best effort pages nobody): its burns wait for the digest.
- Each opens once, when its condition starts, and stays open, silent, while the condition
  holds, however many evaluations see it; it closes once when the condition clears, with one
  "resolved" notice for what was notified.
- An opened item names its cause when the bad events of its window blame an upstream dataset
  (lineage: records.py sets BadEvent.upstream), the costliest such upstream.
- The digest goes out at the first evaluation of an ISO week, about the week before: each slow
  burn open during it, and the alerts and incidents of the week.

State in and out as one JSON-able mapping (service.py keeps it in the lake), so any process,
any evaluation, continues where the last one left off.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from lake_assets.slo.engine import burn_conditions
from lake_assets.slo.model import (
    EXHAUSTED,
    FAST_BURN,
    SLOW_BURN,
    Events,
    Incident,
    Slo,
    SloState,
)
from resources.notifier import Alert

# What notifies at once, by default for every tier (config/slo/tiers.yaml may mute per tier).
IMMEDIATE = frozenset({FAST_BURN, EXHAUSTED})
RESOLVED = "slo.resolved"
DIGEST = "slo.digest"
KEEP_CLOSED = timedelta(days=35)  # closed items kept for the dashboard and the digest


def alert_kind(kind: str) -> str:
    return f"slo.{kind}"


@dataclass(frozen=True)
class Advanced:
    state: dict
    alerts: tuple[Alert, ...]
    incidents: tuple[Incident, ...]  # open and recently closed, after this evaluation


SEVERITY = (SLOW_BURN, FAST_BURN, EXHAUSTED)  # least to most


def worst(slo: Slo, state: SloState) -> str | None:
    """The most severe kind whose condition holds in this state, if any."""
    kinds = {EXHAUSTED} if state.budget_remaining <= 0 else set()
    kind_of = {condition.name: condition.kind for condition in burn_conditions(slo.window)}
    kinds |= {kind_of[name] for name in state.firing}
    return max(kinds, key=SEVERITY.index) if kinds else None


def cause_of(events: Events | None, since: datetime) -> str | None:
    """The upstream dataset whose lateness burned most of the budget since `since`."""
    if events is None:
        return None
    blamed = Counter()
    for event in events.bad:
        if event.upstream and event.at >= since:
            blamed[event.upstream] += event.weight
    return min(blamed, key=lambda u: (-blamed[u], u)) if blamed else None


def _incident(slo_id: str, entry: Mapping) -> Incident:
    return Incident(
        slo_id=slo_id,
        kind=entry["kind"],
        opened_at=datetime.fromisoformat(entry["opened_at"]),
        closed_at=datetime.fromisoformat(entry["closed_at"]) if entry.get("closed_at") else None,
        cause=entry.get("cause"),
        detail=dict(entry.get("detail", {})),
    )


def incidents_of(state: Mapping) -> tuple[Incident, ...]:
    """Every item the state keeps: open ones, then the recently closed."""
    opened = [_incident(slo_id, entry) for slo_id, entry in sorted(state.get("open", {}).items())]
    closed = [_incident(entry["slo_id"], entry) for entry in state.get("closed", [])]
    return tuple(opened + closed)


def _subject(slo: Slo, kind: str, state: SloState, cause: str | None) -> str:
    what = {
        FAST_BURN: "burns its error budget fast",
        SLOW_BURN: "burns its error budget slowly",
        EXHAUSTED: "has spent its error budget",
    }[kind]
    because = f" (upstream {cause} is late)" if cause else ""
    return (
        f"SLO {slo.id} ({slo.tier}) {what}: {state.budget_remaining:.1%} of the budget left"
        f"{because}"
    )


def advance(
    state: Mapping,
    measured: Iterable[tuple[Slo, SloState, Events | None]],
    at: datetime,
    immediate: Mapping[str, frozenset[str]] | None = None,
) -> Advanced:
    """Open what started, close what cleared, notify what must be notified now; `immediate`
    maps a tier to the kinds it notifies at once (IMMEDIATE where a tier is not named).

    An SLO has at most one open item, of the worst kind that holds: a slow burn turning fast
    becomes an alert, a fast burn that spends the budget an incident (the lesser item closes
    without a notice); an item closes when nothing holds or it eases, with one "resolved"
    notice for a notified item that eases."""
    immediate = immediate or {}
    opened: dict[str, dict] = dict(state.get("open", {}))
    since = at - KEEP_CLOSED
    closed = [e for e in state.get("closed", []) if datetime.fromisoformat(e["closed_at"]) >= since]
    alerts: list[Alert] = []

    def close(slo_id: str, reason: str) -> dict:
        entry = opened.pop(slo_id)
        closed.append({**entry, "slo_id": slo_id, "closed_at": at.isoformat(), "reason": reason})
        return entry

    for slo, slo_state, events in measured:
        if slo_state.status == "no_data":
            continue  # nothing measured: nothing starts, nothing clears
        kind, current = worst(slo, slo_state), opened.get(slo.id)
        if current is not None and current["kind"] == kind:
            continue  # still open: silent
        if current is not None:
            # Cleared, or became another kind: a notified item that eased is resolved aloud.
            eased = kind is None or SEVERITY.index(kind) < SEVERITY.index(current["kind"])
            entry = close(slo.id, "cleared" if kind is None else f"became {kind}")
            if eased and entry["detail"].get("notified"):
                alerts.append(
                    Alert(RESOLVED, f"SLO {slo.id}: {entry['kind'].replace('_', ' ')} resolved",
                          {"slo": slo.id, "kind": entry["kind"], "opened_at": entry["opened_at"],
                           "now": kind or "healthy"})
                )  # fmt: skip
        if kind is None:
            continue
        loud = kind in immediate.get(slo.tier, IMMEDIATE)
        cause = cause_of(events, at - timedelta(days=3))
        detail = {
            "budget_remaining": round(slo_state.budget_remaining, 6),
            "burn_rates": {k: round(v, 4) for k, v in slo_state.burn_rates.items()},
            "firing": list(slo_state.firing),
            "tier": slo.tier,
            "notified": loud,
        }
        opened[slo.id] = {
            "kind": kind,
            "opened_at": at.isoformat(),
            "cause": cause,
            "detail": detail,
        }
        if loud:
            alerts.append(
                Alert(
                    alert_kind(kind),
                    _subject(slo, kind, slo_state, cause),
                    {"slo": slo.id, "datasets": list(slo.datasets), **detail, "cause": cause},
                )
            )
    new_state = {"open": opened, "closed": closed, "digest_week": state.get("digest_week")}
    digest = weekly_digest(new_state, at)
    if digest is not None:
        alerts.append(digest)
    new_state["digest_week"] = iso_week(at)
    return Advanced(new_state, tuple(alerts), incidents_of(new_state))


def iso_week(at: datetime) -> str:
    year, week, _ = at.isocalendar()
    return f"{year}-W{week:02d}"


def weekly_digest(state: Mapping, at: datetime) -> Alert | None:
    """The digest of the week before `at`'s, at the first evaluation of a new week (none at
    the very first evaluation: there is no week behind it)."""
    last = state.get("digest_week")
    if last is None or last == iso_week(at):
        return None
    week_start = at - timedelta(days=at.weekday() + 7)
    week_start = week_start.replace(hour=0, minute=0, second=0, microsecond=0)
    # The state is this evaluation's: what it opened belongs to the new week's digest, not to
    # the one it sends (each incident is in the digest of each week it was open in, once).
    week_end = week_start + timedelta(days=7)
    items = [
        i
        for i in incidents_of(state)
        if i.opened_at < week_end and (i.closed_at is None or i.closed_at >= week_start)
    ]
    slow = [i for i in items if i.kind == SLOW_BURN]
    loud = [i for i in items if i.kind != SLOW_BURN and i.opened_at >= week_start]
    lines = [
        f"{i.slo_id}: slow burn since {i.opened_at:%Y-%m-%d %H:%M}Z"
        + (f", closed {i.closed_at:%Y-%m-%d %H:%M}Z" if i.closed_at else ", still open")
        + (f", cause {i.cause}" if i.cause else "")
        for i in slow
    ]
    return Alert(
        DIGEST,
        f"SLO digest for {last}: {len(slow)} slow burn(s), {len(loud)} alert(s)/incident(s)",
        {
            "week": last,
            "slow_burns": lines,
            "alerts_and_incidents": [f"{i.kind} on {i.slo_id}" for i in loud],
        },
    )
