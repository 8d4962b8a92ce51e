"""The SLIs of issue 17: each family's arithmetic on small synthetic records (slices, severity
weights, bad events, the upstream blamed), then once against the real stores of a tiny lake
(a Dagster instance with real runs and check evaluations, SQLite catalog, event, registry,
lineage and classification stores)."""

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from lake_assets.classification.model import ColumnClassification
from lake_assets.contracts.model import Contract
from lake_assets.slo.model import BadEvent
from lake_assets.slo.sli_catalog import completeness_judged
from lake_assets.slo.sli_cost import cost_judged, daily_nanos
from lake_assets.slo.sli_freshness import Payload, freshness_events, latency_judged
from lake_assets.slo.sli_pipeline import (
    DownstreamWait,
    RunOutcome,
    parse_inputs,
    pipeline_latency_judged,
    success_judged,
)
from lake_assets.slo.sli_quality import CheckOutcome, quality_judged, reference_blamed
from lake_assets.slo.slices import Judged, count_judged, late_upstream, summed
from resources.classification_store import ColumnRecord

HOUR, DAY = timedelta(hours=1), timedelta(days=1)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def contract(**extra) -> Contract:
    return Contract.model_validate(
        {
            "dataset": "cards",
            "owner": "team:cards",
            "version": 1,
            "schema": [
                {"name": "amount", "type": "double"},
                {"name": "merchant", "type": "string"},
            ],
            "rules": [
                {"name": "amount_positive", "severity": "error", "range": {"column": "amount", "min": 0}},
                {"name": "merchant_known", "severity": "error",
                 "referential_integrity": {"column": "merchant",
                                           "references": {"dataset": "merchants", "column": "id"}}},
            ],
            **extra,
        }
    )  # fmt: skip


# --- slices ----------------------------------------------------------------------------------


def test_judged_events_land_in_their_slice_and_outside_ones_are_dropped():
    start = at("2026-11-01T00:00")
    events = count_judged(
        start,
        start + 3 * HOUR,
        HOUR,
        [
            Judged(at("2026-11-01T00:10"), True, "a"),
            Judged(at("2026-11-01T00:50"), False, "b", weight=3, reason="late", upstream="u"),
            Judged(at("2026-11-01T02:59"), True, "c", weight=2),
            Judged(at("2026-11-01T03:00"), False, "after the window"),
        ],
    )
    assert events.good.tolist() == [1, 0, 2] and events.total.tolist() == [4, 0, 2]
    assert events.bad == (BadEvent(at("2026-11-01T00:50"), 3, "b", "late", "u"),)
    group = summed([events, events])
    assert group.total.tolist() == [8, 0, 4] and len(group.bad) == 2


def test_the_upstream_blamed_is_the_last_one_ready_after_the_deadline():
    due = at("2026-11-02T06:00")
    ready = {"fx": at("2026-11-02T05:00"), "merchants": at("2026-11-02T08:00")}
    assert late_upstream(due, ready) == "merchants"
    assert late_upstream(due, {**ready, "rates": None}) == "rates"  # never ready
    # Built at 07:00 without waiting for merchants: merchants did not hold it up.
    assert late_upstream(due, ready, built_at=at("2026-11-02T07:00")) is None
    assert late_upstream(due, {"fx": at("2026-11-02T05:59")}) is None


# --- freshness and latency -------------------------------------------------------------------


def test_freshness_slices_are_bad_while_the_newest_partition_is_overdue():
    start, end = at("2026-11-02T00:00"), at("2026-11-04T00:00")
    first = {"2026-11-01": at("2026-11-02T03:00"), "2026-11-02": at("2026-11-03T09:00")}
    upstream = {"merchants": {"2026-11-01": at("2026-11-01T23:00"),
                              "2026-11-02": at("2026-11-03T08:00")}}  # fmt: skip
    events = freshness_events(
        "cards", start, end, HOUR, first, sorted(first.values()), 6, None, upstream
    )
    # Judged from the first publish (03:00); 2026-11-02 was due 2026-11-03 06:00, came 09:00.
    assert int(events.total.sum()) == 45 and events.total[:3].tolist() == [0, 0, 0]
    assert np.flatnonzero(events.good < events.total).tolist() == [30, 31, 32]
    (bad,) = events.bad
    assert (bad.at, bad.weight, bad.what, bad.upstream) == (
        at("2026-11-03T06:00"), 3, "cards/2026-11-02", "merchants",
    )  # fmt: skip
    assert bad.reason.startswith("late: published 3.0 h after the deadline")


def test_an_overdue_partition_burns_until_the_next_deadline_and_a_day_slice_is_bad():
    first = {"2026-11-01": at("2026-11-02T03:00")}  # 2026-11-02 never published
    events = freshness_events(
        "cards", at("2026-11-02T00:00"), at("2026-11-05T00:00"), DAY, first, [], 6, None
    )
    # No publish instants given: judged from the end, so nothing counts; with them, it does.
    assert int(events.total.sum()) == 0
    events = freshness_events(
        "cards", at("2026-11-02T00:00"), at("2026-11-05T00:00"), DAY, first,
        [at("2026-11-02T03:00")], 6, None,
    )  # fmt: skip
    assert events.total.tolist() == [1, 1, 1] and events.good.tolist() == [1, 0, 0]
    assert [b.what for b in events.bad] == ["cards/2026-11-02", "cards/2026-11-03"]
    assert events.bad[0].reason.startswith("overdue")


def test_staleness_spans_run_from_a_publish_expiring_to_the_next_publish():
    publishes = [at("2026-11-01T00:00"), at("2026-11-02T12:00")]
    events = freshness_events(
        "cards", at("2026-11-01T00:00"), at("2026-11-03T00:00"), HOUR, {}, publishes, None, 24
    )
    assert np.flatnonzero(events.good < events.total).tolist() == list(range(24, 36))
    assert events.bad[0].reason.startswith("stale")


def test_latency_judges_a_payload_when_curated_or_when_its_threshold_passes():
    now, landed = at("2026-11-02T12:00"), at("2026-11-02T00:00")
    judged = latency_judged(
        [
            Payload("fast", landed, landed + 30 * timedelta(minutes=1)),
            Payload("slow", landed, landed + 3 * HOUR),
            Payload("lost", landed, None),
            Payload("young", now - 10 * timedelta(minutes=1), None),
        ],
        2 * HOUR,
        now,
    )
    assert [(j.what, j.good, j.at) for j in judged] == [
        ("fast", True, landed + 30 * timedelta(minutes=1)),
        ("slow", False, landed + 2 * HOUR),
        ("lost", False, landed + 2 * HOUR),
    ]
    assert "curated 180 min after" in judged[1].reason and "not curated" in judged[2].reason


# --- quality -----------------------------------------------------------------------------


def test_quality_weighs_each_check_by_severity_and_blames_a_late_reference():
    c = contract()
    t = at("2026-11-02T07:00")
    outcomes = [
        CheckOutcome(t, "contract_amount_positive", "2026-11-01", True, "ERROR", "r1"),
        CheckOutcome(t, "contract_merchant_known", "2026-11-01", False, "ERROR", "r1"),
        CheckOutcome(t, "contract_volume", "2026-11-01", False, "WARN", "r1"),
    ]
    published = {"merchants": {"2026-11-01": at("2026-11-02T09:00")}}  # after the check ran
    blamed = {o: u for o in outcomes if (u := reference_blamed(c, o, published))}
    events = count_judged(t, t + DAY, DAY, quality_judged("cards", outcomes, blamed))
    assert (events.good.tolist(), events.total.tolist()) == ([10], [21])
    assert [(b.weight, b.upstream) for b in events.bad] == [(10, "merchants"), (1, None)]
    assert events.bad[0].reason == "check contract_merchant_known failed (ERROR) in run r1"
    on_time = {"merchants": {"2026-11-01": at("2026-11-02T01:00")}}
    assert reference_blamed(c, outcomes[1], on_time) is None  # the data was wrong, not late


# --- pipeline success and latency --------------------------------------------------------------


def test_success_counts_finished_runs_and_names_a_missing_input():
    t = at("2026-11-02T07:00")
    judged = success_judged(
        [
            RunOutcome("ok", t, "SUCCESS"),
            RunOutcome("partial", t, "FAILURE", ("customers",)),
            RunOutcome("killed", t, "CANCELED"),
            RunOutcome("going", t, "STARTED"),
        ]
    )
    assert [(j.what, j.good, j.upstream) for j in judged] == [
        ("ok", True, None), ("partial", False, "customers"), ("killed", False, None),
    ]  # fmt: skip


def test_pipeline_latency_blames_the_input_that_came_after_the_deadline():
    t0, threshold = at("2026-11-02T01:00"), HOUR
    waits = [
        DownstreamWait("prompt", t0, t0 + 10 * timedelta(minutes=1), {"cards": t0}),
        DownstreamWait("waited", t0, t0 + 5 * HOUR,
                       {"cards": t0, "customers[2026-11-01]": t0 + 4 * HOUR}),
        DownstreamWait("slow", t0, t0 + 2 * HOUR, {"cards": t0, "customers": t0}),
        DownstreamWait("rule[2026-11-02]", t0, None, {"cards": t0, "customers": None}),
        DownstreamWait("young", t0 + 9 * HOUR, None, {"cards": t0 + 9 * HOUR}),
    ]  # fmt: skip
    judged = pipeline_latency_judged(waits, threshold, t0 + 9 * HOUR + timedelta(minutes=5))
    assert [(j.what, j.good, j.at, j.upstream) for j in judged] == [
        ("prompt", True, t0 + 10 * timedelta(minutes=1), None),
        ("waited", False, t0 + HOUR, "customers"),
        ("slow", False, t0 + HOUR, None),
        ("rule[2026-11-02]", False, t0 + HOUR, "customers"),
    ]
    assert parse_inputs("cards@abc,crm[2026-10-31]@def", "2026-11-02") == [
        ("cards", "2026-11-02", "abc"), ("crm", "2026-10-31", "def"),
    ]  # fmt: skip


# --- cost --------------------------------------------------------------------------------


def test_cost_spreads_month_pools_exactly_and_flags_a_day_above_its_trend():
    rows = [
        {"dataset": "cards", "month": "2026-11", "hour": "", "cost_nanos": 30 * 7 + 3},
        {"dataset": "other", "month": "2026-11", "hour": "2026-11-01T05", "cost_nanos": 99},
        *[
            {"dataset": "cards", "month": "2026-11", "hour": f"2026-11-{d:02d}T10",
             "cost_nanos": 100 if d != 9 else 400}
            for d in range(1, 11)
        ],
    ]  # fmt: skip
    days = daily_nanos(rows, "cards")
    assert sum(days.values()) == 30 * 7 + 3 + 9 * 100 + 400
    assert days[date(2026, 11, 1)] == 108 and days[date(2026, 11, 30)] == 7
    judged = cost_judged("cards", {d: n for d, n in days.items() if d.day <= 10}, 1.5)
    # Days 8 to 10 have a week behind them; day 9 costs 4x its trailing median.
    assert [(j.what, j.good) for j in judged] == [
        ("cards/2026-11-08", True), ("cards/2026-11-09", False), ("cards/2026-11-10", True),
    ]  # fmt: skip
    assert "3.8x the trailing median" in judged[1].reason


# --- completeness ------------------------------------------------------------------------


def classification(column: str, confidence: float, semantic_type: str | None = "amount",
                   decided_by: str = "classifier") -> ColumnClassification:  # fmt: skip
    return ColumnClassification(
        "cards", column, (), semantic_type, "confidential", confidence, "v1",
        ("2026-11-01", "2026-11-01"), decided_by,
    )  # fmt: skip


def test_completeness_counts_owned_columns_classified_above_the_threshold():
    t = at("2026-11-02T00:00")
    records = {
        "amount": ColumnRecord("cards", "amount", classification("amount", 0.9)),
        "merchant": ColumnRecord("cards", "merchant", classification("merchant", 0.4)),
        "note": ColumnRecord("cards", "note", classification("note", 0.3, None)),
        "card": ColumnRecord("cards", "card", None, classification("card", 0.2, "payment_card",
                                                                      "operator")),
    }  # fmt: skip
    columns = ["amount", "merchant", "note", "card", "new_column"]
    judged = completeness_judged("cards", columns, records, "team:cards", 0.6, t)
    assert [(j.what, j.good, j.reason) for j in judged] == [
        ("cards.amount", True, ""),
        ("cards.merchant", False, "amount at 0.40, below 0.60"),
        ("cards.note", False, "needs review (0.30)"),
        ("cards.card", True, ""),
        ("cards.new_column", False, "not classified"),
    ]
    unowned = completeness_judged("cards", ["amount"], records, None, 0.6, t)
    assert unowned[0].reason == "the dataset has no declared owner"


# --- the real stores of a tiny lake ------------------------------------------------------------


@pytest.fixture
def tiny_lake(tmp_path):
    """Two runs of a partitioned asset whose blocking check fails on the second partition, a
    third run launched by the dependency sensor, and the stores of one SQLite lake."""
    ...
