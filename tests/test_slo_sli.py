"""The SLIs of issue 17: each family's arithmetic on small synthetic records (slices, severity
weights, bad events, the upstream blamed), then once against the real stores of a tiny lake
(a Dagster instance with real runs and check evaluations, SQLite catalog, event, registry,
lineage and classification stores)."""

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import numpy as np
import pytest

from lake_assets.classification.model import ColumnClassification
from lake_assets.contracts.model import Contract
from lake_assets.events.model import DataReady
from lake_assets.slo import engine
from lake_assets.slo.model import BadEvent, Slo
from lake_assets.slo.sli_catalog import completeness_judged, completeness_of
from lake_assets.slo.sli_cost import cost_judged, daily_nanos, months
from lake_assets.slo.sli_freshness import Payload, freshness_events, latency_judged
from lake_assets.slo.sli_pipeline import (
    DownstreamWait,
    RunOutcome,
    _run_wait,
    parse_inputs,
    pipeline_latency_judged,
    pipeline_latency_of,
    recovery_judged,
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
    assert group.record_from is None
    # A group of states judged for the whole window keeps the start of record they declare.
    whole = replace(events, record_from=events.start)
    assert summed([whole, whole]).record_from == events.start


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
    never = freshness_events("cards", publishes[0], publishes[1], HOUR, {}, [], None, 24)
    assert int(never.total.sum()) == 0  # a dataset never published is no data yet


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


def test_recovery_judges_each_failure_episode_by_the_time_to_the_next_good_run():
    """Seed 003's mean time to recovery < 30 minutes, as an SLI: one event per episode."""
    t, minute = at("2026-11-02T07:00"), timedelta(minutes=1)
    runs = [
        RunOutcome("ok", t, "SUCCESS"),  # no episode open: nothing to judge
        RunOutcome("fail-1", t + 10 * minute, "FAILURE"),
        RunOutcome("fail-2", t + 20 * minute, "CANCELED"),  # the same episode
        RunOutcome("fixed", t + 35 * minute, "SUCCESS"),  # 25 min after the first failure
        RunOutcome("fail-3", t + 60 * minute, "FAILURE"),
        RunOutcome("going", t + 70 * minute, "STARTED"),  # not judged
        RunOutcome("slow-fix", t + 105 * minute, "SUCCESS"),  # 45 min
        RunOutcome("fail-4", t + 120 * minute, "FAILURE"),  # still open
    ]
    judged = recovery_judged(runs, 30 * minute, now=t + 149 * minute)
    assert [(j.what, j.good, j.at, j.reason) for j in judged] == [
        ("fail-1", True, t + 35 * minute, ""),
        ("fail-3", False, t + 105 * minute, "recovered after 45 min (run slow-fix)"),
    ]
    overdue = recovery_judged(runs, 30 * minute, now=t + 150 * minute)[-1]
    assert (overdue.what, overdue.good, overdue.at) == ("fail-4", False, t + 150 * minute)
    assert overdue.reason == "not recovered within 30 min"


def test_a_run_waits_from_the_publish_of_what_it_reads_new_not_from_older_inputs():
    """The sensor's first run of a day waits from its own inputs' first publish (not from the
    earlier day its lookback reads); its re-run for a republished input waits from that
    republish, not from the other input's publish days before (which judged it days late)."""
    day = "2026-11-02"

    def ready(dataset, partition, digest, published):
        return DataReady(dataset, partition, "1", 10, "r", digest, published.isoformat())

    records = SimpleNamespace(data_ready={
        ("customers", day): [ready("customers", day, "cust01", at("2026-11-03T01:00"))],
        ("customers", "2026-11-01"): [ready("customers", "2026-11-01", "old001",
                                            at("2026-11-02T01:00"))],
        ("cards", day): [ready("cards", day, "cards1", at("2026-11-03T02:00")),
                         ready("cards", day, "cards2", at("2026-11-05T02:00"))],
    })  # fmt: skip

    def run(run_id, started, inputs):
        tags = {"dagster/partition": day, "lake/inputs": inputs}
        return SimpleNamespace(
            dagster_run=SimpleNamespace(run_id=run_id, tags=tags), start_time=started.timestamp()
        )

    lookback = "customers[2026-11-01]@old001"
    read_before = set()
    [first] = _run_wait(
        records, run("first", at("2026-11-03T02:05"), f"cards@cards1,customers@cust01,{lookback}"),
        read_before,
    )  # fmt: skip
    [rerun], [retry] = (
        _run_wait(records, run(name, started, f"cards@cards2,customers@cust01,{lookback}"),
                  read_before)
        for name, started in (("rerun", at("2026-11-05T02:02")), ("retry", at("2026-11-05T03:00")))
    )  # fmt: skip
    assert first.waiting_since == at("2026-11-03T01:00")  # customers, the day's first input
    assert rerun.waiting_since == at("2026-11-05T02:00")  # the republished cards
    assert retry.waiting_since == at("2026-11-03T01:00")  # nothing new: the day's first input
    judged = pipeline_latency_judged([first, rerun], HOUR * 6, at("2026-11-06T00:00"))
    assert [(j.what, j.good) for j in judged] == [("first", True), ("rerun", True)]


def test_a_re_run_weeks_later_waits_from_the_republish_though_its_first_run_is_out_of_range():
    """The SLO reads the runs of its window (and a day before); a partition's earlier runs are
    read too, so a re-run for a republished input does not count its other inputs as new."""
    day = "2026-10-01"

    def ready(dataset, digest, published):
        return DataReady(dataset, day, "1", 10, "r", digest, f"{published}:00+00:00")

    records = SimpleNamespace(data_ready={
        ("customers", day): [ready("customers", "cust01", "2026-10-02T01:00")],
        ("cards", day): [ready("cards", "cards1", "2026-10-02T02:00"),
                         ready("cards", "cards2", "2026-11-20T02:00")],
    })  # fmt: skip

    def run(run_id, created, inputs):
        tags = {"dagster/partition": day, "lake/inputs": inputs, "lake/rule": "spend"}
        run = SimpleNamespace(run_id=run_id, tags=tags)
        return SimpleNamespace(dagster_run=run, start_time=created.timestamp(),
                               create_timestamp=created)  # fmt: skip

    runs = [run("first", at("2026-10-02T02:05"), "cards@cards1,customers@cust01"),
            run("rerun", at("2026-11-20T02:02"), "cards@cards2,customers@cust01")]  # fmt: skip

    def get_run_records(filters):  # as Dagster's run storage filters them
        return [
            r for r in runs
            if all(r.dagster_run.tags.get(k) in ([v] if isinstance(v, str) else v)
                   for k, v in filters.tags.items())
            and (filters.created_after is None or r.create_timestamp > filters.created_after)
            and (filters.created_before is None or r.create_timestamp < filters.created_before)
        ]  # fmt: skip

    records.instance = SimpleNamespace(get_run_records=get_run_records)
    records.rules = [SimpleNamespace(name="spend", target_path=("marts", "spend"))]
    records.target = lambda dataset: "marts/spend"
    records.events = SimpleNamespace(pending=lambda: [])
    latency = Slo("spend.pipeline_latency", ("spend",), "pipeline_latency", 0.99,
                  timedelta(days=30), "critical", DAY, 1, "team:x", 6 * 3600)  # fmt: skip
    events = pipeline_latency_of(latency, "spend", records, at("2026-10-22T00:00"),
                                 at("2026-11-21T00:00"))  # fmt: skip
    assert (int(events.good.sum()), int(events.total.sum()), events.bad) == (1, 1, ())


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
    # The ledgers read: from the first trend day before the window to the window's end.
    assert months(at("2026-11-10T00:00"), at("2026-12-02T00:00")) == [
        "2026-10",
        "2026-11",
        "2026-12",
    ]


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


def test_a_completeness_slo_spends_its_budget_by_the_catalogs_ratio_however_young():
    """The catalog's state, judged at the evaluation, stands for the whole window: two of ten
    columns unclassified at 99% is exhausted, not a young SLO's first bad day."""
    completeness = Slo("cards.completeness", ("cards",), "completeness", 0.99,
                       timedelta(days=30), "critical", DAY, 1, "team:cards")  # fmt: skip
    columns = [f"c{i}" for i in range(10)]
    records = SimpleNamespace(
        catalog=SimpleNamespace(partitions=lambda d: [SimpleNamespace(columns=columns)]),
        classifications=SimpleNamespace(
            columns=lambda d: {
                c: ColumnRecord("cards", c, classification(c, 0.9)) for c in columns[2:]
            }
        ),
        owner=lambda d: "team:cards",
        review_threshold=0.6,
    )
    end = at("2026-11-30T00:00")
    events = completeness_of(completeness, "cards", records, end - timedelta(days=30), end)
    assert (int(events.total.sum()), int(events.good.sum()), int(events.total[-1])) == (10, 8, 10)
    state = engine.evaluate(completeness, events, end)
    assert state.budget_remaining == pytest.approx(1 - 20)
    assert state.status == "exhausted"


# --- the real stores of a tiny lake ------------------------------------------------------------


def test_events_for_reads_the_real_stores_of_a_tiny_lake(tmp_path):
    """Two runs of curated/cards, whose blocking check fails on the second partition (and so
    fails its run), the first launched by the dependency sensor; a third partition still
    waiting for its input; SQLite stores with the publishes, payloads and classifications."""
    from dagster import (
        AssetCheckResult,
        AssetCheckSeverity,
        AssetKey,
        DagsterInstance,
        DailyPartitionsDefinition,
        MaterializeResult,
        asset,
        materialize,
    )

    from lake_assets.events.model import DataReady, DependencyRule
    from lake_assets.ingestion.checks import partitioned_check_spec
    from lake_assets.ingestion.raw_zone import RawFile
    from lake_assets.lineage.model import LineageRun
    from lake_assets.settings import SourceConfig
    from lake_assets.slo.records import LakeRecords
    from lake_assets.slo.sli import events_for
    from resources.catalog import PublishedPartition, SQLiteCatalog
    from resources.classification_store import SQLiteClassificationStore
    from resources.event_store import SQLiteEventStore
    from resources.lineage_store import SQLiteLineageStore
    from resources.registry_store import SQLiteRegistryStore

    days = DailyPartitionsDefinition(start_date="2026-11-01")
    key = AssetKey(["curated", "cards"])
    check = "contract_amount_positive"

    @asset(key=["raw", "cards"], partitions_def=days)
    def raw_cards():
        return None

    @asset(
        key=key,
        deps=[raw_cards],
        partitions_def=days,
        check_specs=[partitioned_check_spec(check, key, days, blocking=True)],
    )
    def cards(context):
        passed = context.partition_key != "2026-11-02"
        return MaterializeResult(
            check_results=[AssetCheckResult(check_name=check, passed=passed,
                                            severity=AssetCheckSeverity.ERROR)]
        )  # fmt: skip

    catalog = SQLiteCatalog(tmp_path / "catalog.db")
    events = SQLiteEventStore(tmp_path / "events.db")
    registry = SQLiteRegistryStore(tmp_path / "registry.db")
    lineage = SQLiteLineageStore(tmp_path / "lineage.db")
    classifications = SQLiteClassificationStore(tmp_path / "classification.db")
    now = datetime.now(UTC)

    def published(partition: str, when: str, run_id: str, content: str) -> None:
        version = PublishedPartition(
            "cards", partition, f"curated/cards/{run_id}/", run_id, when, 2, "v1",
            {"amount": "double", "merchant": "string", "event_date": "date"},
        )  # fmt: skip
        catalog.publish(version)
        events.record(DataReady("cards", partition, "v1", 2, run_id, content, when))

    published("2026-11-01", "2026-11-02T03:00:00+00:00", "r1", "c1")  # on time (due 06:00)
    published("2026-11-02", "2026-11-03T09:00:00+00:00", "r2", "c2")  # 3 h late
    published("2026-11-01", "2026-11-03T09:00:00+00:00", "r2", "c3")  # a late-window republish
    fx_ready = (now - timedelta(minutes=20)).isoformat()
    events.record(DataReady("fx", "2026-11-01", "v1", 1, "f1", "abc123def456ff", fx_ready))
    events.touch("cards_rule", "2026-11-03", now - 2 * HOUR)  # fx of 2026-11-03 never came
    for name, landed in (
        ("a.json", "2026-11-02T01:00:00+00:00"),
        ("b.json", "2026-11-02T23:00:00+00:00"),
    ):
        registry.put_raw_file(
            RawFile("cards", f"raw/cards/{name}", "e", "2026-11-02", 1, "PROFILED", landed,
                    landed_at=landed)
        )  # fmt: skip
    lineage.put_run(
        LineageRun("r1", "curated/cards", "2026-11-01", ("raw/cards/a.json",),
                   ("cards[2026-11-01]",), "2026-11-02T02:00:00+00:00",
                   "2026-11-02T03:00:01+00:00", "COMPLETE")
    )  # fmt: skip
    classifications.write(
        "cards",
        [
            ColumnRecord("cards", "amount", classification("amount", 0.9)),
            ColumnRecord("cards", "merchant", classification("merchant", 0.4)),
        ],
    )
    rule = DependencyRule(name="cards_rule", target="curated/cards", inputs=["fx"], timeout_hours=6)

    with DagsterInstance.ephemeral() as instance:
        sensor_tags = {"lake/rule": "cards_rule", "lake/inputs": "fx@abc123def456"}
        for partition, tags in (("2026-11-01", sensor_tags), ("2026-11-02", {})):
            materialize([raw_cards, cards], partition_key=partition, instance=instance,
                        tags=tags, raise_on_error=False)  # fmt: skip
        records = LakeRecords(
            instance, catalog, events, registry, lineage, classifications, lambda month: [],
            {"cards": contract(freshness={"deadline_hours": 6})}, [rule],
            {"cards": SourceConfig("cards", "json", "event_time")},
        )  # fmt: skip

        def slo(sli: str, cadence=HOUR, threshold=None) -> Slo:
            return Slo(f"cards.{sli}", ("cards",), sli, 0.99, timedelta(days=28), "critical",
                       cadence, 10, "team:cards", threshold)  # fmt: skip

        recent = (now - DAY, now + HOUR)
        quality = events_for(slo("quality"), records, *recent)
        assert (int(quality.good.sum()), int(quality.total.sum())) == (10, 20)
        assert [(b.what, b.weight) for b in quality.bad] == [("cards/2026-11-02", 10)]
        success = events_for(slo("success"), records, *recent)
        assert (int(success.good.sum()), int(success.total.sum())) == (1, 2)
        # Recovery (MTTR): the failed run opened an episode, overdue at the window's end an
        # hour and more later; the asset's next good run closes it in time.
        mttr, later = slo("recovery", threshold=3600), (now - DAY, now + 2 * HOUR)
        unrecovered = events_for(mttr, records, *later)
        assert (int(unrecovered.good.sum()), int(unrecovered.total.sum())) == (0, 1)
        assert [b.reason for b in unrecovered.bad] == ["not recovered within 60 min"]
        materialize([raw_cards, cards], partition_key="2026-11-03", instance=instance)
        recovered = events_for(mttr, records, *later)
        assert (int(recovered.good.sum()), int(recovered.total.sum())) == (1, 1)
        latency = events_for(slo("pipeline_latency", threshold=3600), records, *recent)
        assert (int(latency.good.sum()), int(latency.total.sum())) == (1, 2)
        assert [(b.what, b.upstream) for b in latency.bad] == [("cards_rule[2026-11-03]", "fx")]

    november = (at("2026-11-02T00:00"), at("2026-11-04T00:00"))
    freshness = events_for(slo("freshness"), records, *november)
    # The republish of 2026-11-01 (2026-11-03 09:00) does not make it late: its first counts.
    assert (int(freshness.good.sum()), int(freshness.total.sum())) == (42, 45)
    assert [(b.what, b.weight, b.upstream) for b in freshness.bad] == [
        ("cards/2026-11-02", 3, None)
    ]
    payloads = events_for(slo("latency", threshold=3 * 3600), records, *november)
    assert [(b.what, b.at) for b in payloads.bad] == [("raw/cards/b.json", at("2026-11-03T02:00"))]
    assert (int(payloads.good.sum()), int(payloads.total.sum())) == (1, 2)
    complete = events_for(slo("completeness", DAY, 0.6), records, *november)
    assert (complete.good.tolist(), complete.total.tolist()) == ([0, 1], [0, 2])
