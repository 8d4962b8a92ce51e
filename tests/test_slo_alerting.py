"""The alerting tiers on replayed event streams (lake_assets/slo/alerting.py with the engine):
thirty days of history, then a scenario, evaluated as the schedule would (every simulated
minute, or every five), the state carried between evaluations through JSON as the service
keeps it in the lake."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np

from lake_assets.slo import alerting, engine
from lake_assets.slo.model import (
    EXHAUSTED,
    FAST_BURN,
    FRESHNESS,
    SLOW_BURN,
    SUCCESS,
    BadEvent,
    Events,
    Slo,
    SloState,
)

START = datetime(2026, 11, 1, tzinfo=UTC)  # a Sunday: the scenarios start on Tuesday 1 December
MINUTE, DAY = timedelta(minutes=1), timedelta(days=1)
HISTORY = 30 * 1440  # minutes of good history before each scenario
SCENARIO = START + HISTORY * MINUTE


def slo(tier="critical", objective=0.999, cadence=MINUTE, sli=FRESHNESS, min_events=10) -> Slo:
    return Slo("d.slo", ("d",), sli, objective, 30 * DAY, tier, cadence, min_events, "team:x")


def stream(scenario: list[tuple[int, int]], per_minute: int = 1, bad=()) -> Events:
    """History of `per_minute` good events a minute, then (minutes, bad per minute) pieces."""
    bad_counts = np.concatenate(
        [np.zeros(HISTORY, np.int64)] + [np.full(n, b, np.int64) for n, b in scenario]
    )
    total = np.full(len(bad_counts), per_minute, np.int64)
    return Events(START, MINUTE, total - bad_counts, total, tuple(bad))


def replay(the_slo, events, until: timedelta, every=MINUTE, immediate=None):
    """Evaluate from the scenario's start for `until`; (minute, alert) pairs and the state."""
    state, sent, at = {}, [], SCENARIO
    while at <= SCENARIO + until:
        measured = [(the_slo, engine.evaluate(the_slo, events, at), events)]
        advanced = alerting.advance(state, measured, at, immediate)
        state = json.loads(json.dumps(advanced.state))  # as the lake keeps it
        sent += [((at - SCENARIO) // MINUTE, alert) for alert in advanced.alerts]
        at += every
    return sent, state


def kinds(sent) -> list[str]:
    return [alert.kind for _, alert in sent]


def test_an_outage_alerts_within_five_minutes_and_becomes_an_incident_once_the_budget_is_spent():
    sent, state = replay(slo(), stream([(90, 1)]), timedelta(minutes=90))
    assert kinds(sent) == ["slo.fast_burn", "slo.exhausted"]
    (paged, _), (incident, _) = sent
    assert paged <= 5
    # 43.2 bad minutes is the whole budget of 99.9% over 30 days.
    assert incident == 44
    assert [i.kind for i in alerting.incidents_of(state) if i.open] == [EXHAUSTED]


def test_recovery_closes_the_item_once_with_one_resolved_notice():
    # Twenty minutes down, then fine for three days.
    sent, state = replay(
        slo(), stream([(20, 1), (3 * 1440, 0)]), timedelta(days=3), every=5 * MINUTE
    )
    assert kinds(sent) == ["slo.fast_burn", "slo.resolved"]
    assert alerting.incidents_of(state) and not any(i.open for i in alerting.incidents_of(state))
    # It eased from a page to the digest's slow burn, then cleared: both closed, once each.
    closed = [(i.kind, i.detail["notified"]) for i in alerting.incidents_of(state)]
    assert closed == [(FAST_BURN, True), (SLOW_BURN, False)]


def test_a_moderate_burn_alerts_once():
    # 1% of 100 events a minute for 12 hours: 10x, under 14.4x, over 6x.
    sent, state = replay(
        slo(), stream([(12 * 60, 1)], per_minute=100), timedelta(hours=12), every=5 * MINUTE
    )
    assert kinds(sent) == ["slo.fast_burn"]
    assert sent[0][1].detail["firing"] == ["6x_6h_30m"]  # paged by the 6-hour condition


def test_a_slow_burn_appears_only_in_the_weekly_digest():
    # 0.2% of 1,000 events a minute (2x) from Tuesday 1 December to Monday 7 December.
    minutes = 6 * 1440
    sent, _ = replay(
        slo(), stream([(minutes, 2)], per_minute=1000), timedelta(minutes=minutes),
        every=10 * MINUTE,
    )  # fmt: skip
    assert kinds(sent) == ["slo.digest"]
    at, digest = sent[0]
    assert SCENARIO + at * MINUTE == datetime(2026, 12, 7, tzinfo=UTC)  # the new ISO week
    assert digest.detail["week"] == "2026-W49"
    assert [line.split(":")[0] for line in digest.detail["slow_burns"]] == ["d.slo"]


def test_a_page_opened_at_a_new_weeks_first_evaluation_is_in_that_weeks_digest_only():
    """The digest is sent from the evaluation that opens the new week, after it has opened its
    own items: before, a burn that started then was told in the week before's digest too."""
    the_slo, state, digests = slo(), {}, {}
    evaluations = [
        (datetime(2026, 12, 6, 23, 55, tzinfo=UTC), "healthy", ()),  # Sunday, W49
        (datetime(2026, 12, 7, tzinfo=UTC), FAST_BURN, ("14.4x_1h_5m",)),  # Monday, W50
        (datetime(2026, 12, 7, 0, 30, tzinfo=UTC), "healthy", ()),
        (datetime(2026, 12, 14, tzinfo=UTC), "healthy", ()),  # Monday, W51
    ]
    for at, status, firing in evaluations:
        state_now = SloState(the_slo.id, at, 100, 100, 0.9, {}, firing, status)
        advanced = alerting.advance(state, [(the_slo, state_now, None)], at)
        state = json.loads(json.dumps(advanced.state))
        for alert in advanced.alerts:
            if alert.kind == alerting.DIGEST:
                digests[alert.detail["week"]] = alert.detail["alerts_and_incidents"]
    assert {week: len(items) for week, items in digests.items()} == {"2026-W49": 0, "2026-W50": 1}


def test_a_single_failure_of_a_daily_job_does_not_page():
    daily = slo(tier="standard", objective=0.95, cadence=DAY, sli=SUCCESS, min_events=3)
    good = np.ones(31, np.int64)
    good[-1] = 0
    events = Events(START, DAY, good, np.ones(31, np.int64))
    state, sent = {}, []
    for day in range(30, 34):
        at = START + day * DAY + timedelta(hours=1)
        advanced = alerting.advance(
            state, [(daily, engine.evaluate(daily, events, at), events)], at
        )
        state, sent = advanced.state, sent + list(advanced.alerts)
    assert [a.kind for a in sent if a.kind != "slo.digest"] == []
    # It burned budget, and the digest will say so.
    assert [i.kind for i in alerting.incidents_of(state)] == [SLOW_BURN]


def test_a_best_effort_tier_pages_nobody_even_when_its_budget_is_spent():
    sent, state = replay(
        slo(tier="best_effort", objective=0.95),
        stream([(3 * 1440, 1)]),
        timedelta(days=3),
        every=timedelta(hours=1),
        immediate={"best_effort": frozenset()},
    )
    assert kinds(sent) == []
    assert [i.kind for i in alerting.incidents_of(state) if i.open] == [EXHAUSTED]


def test_the_alert_names_the_late_upstream():
    blamed = [BadEvent(SCENARIO + n * MINUTE, 1, f"d/{n}", "late", upstream="u") for n in range(5)]
    sent, state = replay(slo(), stream([(5, 1)], bad=blamed), timedelta(minutes=5))
    assert kinds(sent) == ["slo.fast_burn"]
    alert = sent[0][1]
    assert alert.detail["cause"] == "u" and "upstream u is late" in alert.subject
    assert alerting.incidents_of(state)[0].cause == "u"
