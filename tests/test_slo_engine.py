"""The error-budget engine (lake_assets/slo/engine.py), pure: the burn-rate table of the SRE
Workbook and Sloth, burn rates and budgets on hand-computed cases, cadence slices and the
low-event guard, and the agreement of a single evaluation with the charts' series."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from lake_assets.slo import engine
from lake_assets.slo.model import FAST_BURN, FRESHNESS, SLOW_BURN, SUCCESS, BadEvent, Events, Slo

START = datetime(2026, 11, 1, tzinfo=UTC)
MINUTE, HOUR, DAY = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)


def slo(objective=0.999, cadence=MINUTE, min_events=10, window=30 * DAY, sli=FRESHNESS) -> Slo:
    return Slo("s", ("d",), sli, objective, window, "critical", cadence, min_events, "team:x")


def minutes(bad_tail: int = 0, length: int = 30 * 1440) -> Events:
    """30 days of one event a minute, the last `bad_tail` of them bad."""
    total = np.ones(length, dtype=np.int64)
    good = total.copy()
    if bad_tail:
        good[-bad_tail:] = 0
    return Events(START, MINUTE, good, total)


def test_the_burn_rate_table_for_30_and_28_days():
    table = {(c.name, c.kind, c.factor, c.long, c.short) for c in engine.burn_conditions(30 * DAY)}
    assert table == {
        ("14.4x_1h_5m", FAST_BURN, 14.4, HOUR, 5 * MINUTE),
        ("6x_6h_30m", FAST_BURN, 6.0, 6 * HOUR, 30 * MINUTE),
        ("3x_1d_2h", SLOW_BURN, 3.0, DAY, 2 * HOUR),
        ("1x_3d_6h", SLOW_BURN, 1.0, 3 * DAY, 6 * HOUR),
    }
    factors = [c.factor for c in engine.burn_conditions(28 * DAY)]
    assert factors == [13.44, 5.6, 2.8, 28 / 30]


def test_a_burn_rate_is_the_error_ratio_over_the_budget():
    # 3 bad minutes at the end: over 1 h the error ratio is 3/60; the budget 0.1%.
    state = engine.evaluate(slo(), minutes(bad_tail=3), START + 30 * DAY)
    assert state.burn_rates["1h"] == pytest.approx((3 / 60) / 0.001)
    assert state.burn_rates["5m"] == pytest.approx((3 / 5) / 0.001)
    assert state.burn_rates["3d"] == pytest.approx((3 / 4320) / 0.001)
    assert (state.good, state.total) == (43197, 43200)
    # 3 of the 43.2 bad minutes the window allows.
    assert state.budget_remaining == pytest.approx(1 - 3 / 43.2)
    assert state.status == FAST_BURN
    assert state.firing == ("14.4x_1h_5m", "6x_6h_30m")


def test_healthy_and_no_data():
    assert engine.evaluate(slo(), minutes(), START + 30 * DAY).status == "healthy"
    empty = Events(START, MINUTE, np.zeros(10, np.int64), np.zeros(10, np.int64))
    state = engine.evaluate(slo(), empty, START + 10 * MINUTE)
    assert (state.status, state.budget_remaining, state.firing) == ("no_data", 1.0, ())


def test_a_spent_budget_is_exhausted_whatever_burns():
    state = engine.evaluate(slo(), minutes(bad_tail=60), START + 30 * DAY)
    assert state.budget_remaining == pytest.approx(1 - 60 / 43.2)
    assert state.status == "exhausted"


def test_a_young_slo_spends_the_windows_budget_not_all_of_it_on_its_first_bad_day():
    # Two days of record, one bad minute: against the window's expected 43,200 events.
    young = minutes(bad_tail=1, length=2 * 1440)
    state = engine.evaluate(slo(), young, START + 2 * DAY)
    assert state.budget_remaining == pytest.approx(1 - 1 / 43.2)


def test_a_state_judged_for_the_whole_window_spends_the_budget_by_its_ratio_alone():
    """A completeness SLI judges the catalog once, at the evaluation: its ten columns land in
    the last slice. Read as a young SLO's first day, two bad columns at 99% spent a third of
    the budget ("fast_burn"); the state stands for the window, so it has spent it 20 times."""
    daily = slo(objective=0.99, cadence=DAY, min_events=1)
    total, good = np.zeros(30, np.int64), np.zeros(30, np.int64)
    total[-1], good[-1] = 10, 8
    young = engine.evaluate(daily, Events(START, DAY, good, total), START + 30 * DAY)
    assert young.budget_remaining == pytest.approx(1 - 2 / 3)
    whole = Events(START, DAY, good, total, record_from=START)
    state = engine.evaluate(daily, whole, START + 30 * DAY)
    assert state.budget_remaining == pytest.approx(1 - 20)
    assert state.status == "exhausted"
    assert engine.budget_series(daily, whole)[-1] == pytest.approx(state.budget_remaining)


def test_windows_are_widened_to_the_cadence_and_few_events_never_fire():
    daily = slo(objective=0.95, cadence=DAY, min_events=3, sli=SUCCESS)
    good = np.ones(30, dtype=np.int64)
    good[-1] = 0  # one failed run of a daily job, the last day
    events = Events(START, DAY, good, np.ones(30, dtype=np.int64))
    state = engine.evaluate(daily, events, START + 30 * DAY)
    # Every window is at least a day: the 5-minute one holds the failed day.
    assert state.burn_rates["5m"] == state.burn_rates["1d"] == pytest.approx(1 / 0.05)
    assert state.burn_rates["3d"] == pytest.approx((1 / 3) / 0.05)
    # The pages' long windows hold one event: guarded. The 3-day one holds three: it fires.
    assert state.firing == ("1x_3d_6h",)
    assert state.status == SLOW_BURN
    assert state.budget_remaining == pytest.approx(1 - 1 / 1.5)
    # With a larger guard nothing fires; the budget is spent all the same.
    guarded = engine.evaluate(
        slo(objective=0.95, cadence=DAY, min_events=4, sli=SUCCESS), events, START + 30 * DAY
    )
    assert (guarded.firing, guarded.status) == ((), "healthy")
    assert guarded.budget_remaining == state.budget_remaining


def test_one_evaluation_agrees_exactly_with_the_series_at_every_slice():
    rng = np.random.default_rng(7)
    total = rng.integers(0, 5, 3 * 1440).astype(np.int64)
    good = total - rng.binomial(total, 0.002).astype(np.int64)
    events = Events(START, MINUTE, good, total)
    series, budget = engine.burn_rate_series(slo(), events), engine.budget_series(slo(), events)
    for end in (100, 1440, 3 * 1440):
        state = engine.evaluate(slo(), events, START + end * MINUTE)
        assert {k: v[end - 1] for k, v in series.items()} == state.burn_rates
        assert budget[end - 1] == state.budget_remaining


def test_explain_lists_the_windows_bad_events_costliest_first():
    old = BadEvent(START, 9, "d/2026-11-01", "late")
    late = BadEvent(START + 40 * DAY, 5, "d/2026-12-10", "late", upstream="u")
    small = BadEvent(START + 41 * DAY, 1, "run 1", "run failure")
    events = Events(START, MINUTE, np.ones(1, np.int64), np.ones(1, np.int64), (old, late, small))
    assert engine.explain(slo(), events, START + 42 * DAY) == [late, small]


def test_a_budget_spent_exactly_is_exhausted_and_a_burn_at_exactly_the_factor_fires():
    """In binary floating point 1 - 0.99 is a hair over 0.01, so these came out a hair short of
    their lines (budget left 1e-15, healthy; a burn of 0.9999999999999992, not firing)."""
    # 30 bad of 3,000 daily events at 99%: the whole budget, spread too thinly to burn.
    daily = slo(objective=0.99, cadence=DAY, min_events=3, sli=SUCCESS)
    total = np.full(30, 100, dtype=np.int64)
    good = total.copy()
    good[:15] -= 2
    spent = engine.evaluate(daily, Events(START, DAY, good, total), START + 30 * DAY)
    assert spent.budget_remaining == pytest.approx(0.0, abs=1e-9)
    assert spent.status == "exhausted"
    # 5% of the last three days' minutes bad at 95%: 1x over 3 days and over 6 hours.
    total = np.ones(30 * 1440, dtype=np.int64)
    good = total.copy()
    good[np.arange(27 * 1440, 30 * 1440, 20)] = 0
    at_factor = engine.evaluate(
        slo(objective=0.95, min_events=3), Events(START, MINUTE, good, total), START + 30 * DAY
    )
    assert at_factor.burn_rates["3d"] == pytest.approx(1.0)
    assert at_factor.firing == ("1x_3d_6h",) and at_factor.status == SLOW_BURN
