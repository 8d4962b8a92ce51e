"""`make dev` after `make demo`: the webserver and daemon start calmly on the lake and the
DAGSTER_HOME the demo leaves (no sensor or schedule requests a run, at most two runs in flight)
and show the demo's days. One demo, played once for the module."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

import pytest
from dagster import (
    DagsterInstance,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    build_schedule_context,
    build_sensor_context,
)
from webserver import Webserver

from lake_assets.alarms.model import SLO_BUDGET_ALERTS
from lake_assets.cli.runs import set_up_dagster_home
from lake_assets.definitions import build_definitions
from lake_assets.demo.demo import run_demo
from lake_assets.demo.medallion_data import demo_start
from lake_assets.ingestion.asset_keys import curated_key_of, registry_key_of
from lake_assets.settings import load_settings
from lake_assets.slo.site import DASHBOARD_KEY
from resources import build_resources

DEMO_DAYS = 2  # the smallest demo: two days of the sources, the history and the mart
CLOCK_ONLY = {
    "catalog_export_schedule",
    "partition_deadlines_schedule",
    "compaction_schedule",
    "pipeline_drift_schedule",
    "references_watch_schedule",
    "slo_schedule",
}


@pytest.fixture(scope="module")
def demo(tmp_path_factory, spark):
    """A DAGSTER_HOME and a lake as `make demo` leaves them: the home set up (`lake setup-home`),
    then the demo played into the lake (its days ending yesterday), its runs in the home."""
    root = tmp_path_factory.mktemp("demo")
    home, env = root / "home", {"LAKE_ROOT": str(root / "lake")}
    set_up_dagster_home(home)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DAGSTER_HOME", str(home))
        assert run_demo(load_settings(env), days=DEMO_DAYS) == 0
    return home, env


def test_after_the_demo_no_sensor_or_schedule_requests_a_run(demo):
    """What `make dev` after `make demo` starts with: every sensor's first tick and every
    schedule's next one, on the demo's lake and instance, request nothing: it has all run."""
    home, env = demo
    settings = load_settings(env)
    resources = build_resources(settings)
    defs = build_definitions(settings, resources)
    instance = DagsterInstance.from_config(str(home))

    requested = {}
    for sensor in defs.sensors:
        if sensor.default_status == DefaultSensorStatus.STOPPED:
            continue  # `make dev` does not tick it (the masked views' refresh: started by hand)
        context = build_sensor_context(instance=instance, resources=resources, definitions=defs)
        requested[sensor.name] = sensor.evaluate_tick(context).run_requests
    for schedule in defs.schedules:
        if schedule.default_status == DefaultScheduleStatus.STOPPED:
            continue  # `make dev` does not tick it (the pulls: an operator starts them)
        context = build_schedule_context(
            instance=instance,
            resources=resources,
            scheduled_execution_time=datetime.now(UTC),
            repository_def=defs.get_repository_def(),  # a partitioned request is checked there
        )
        requested[schedule.name] = schedule.evaluate_tick(context).run_requests
    # On the clock, whatever the data: the hourly deadline and drift checks, the 06:50 references
    # watch, and the 04:00 compaction, which has work once the demo's days leave the lookback
    # window (sealing them). None catches up missed ticks when the webserver starts.
    assert set(requested) - CLOCK_ONLY == {
        "raw_arrivals",
        "data_ready_dependencies",
        "classification_staleness",
        "contract_changes",
        "cost_daily",
        "daily_card_transactions",
        "daily_crm_contacts",
        "daily_customers",
        "daily_fx_rates",
        "daily_order_events",
        "failed_runs_metric",
        "failed_ticks_metric",
    }
    assert {
        name: [(r.partition_key, r.tags) for r in runs]
        for name, runs in requested.items()
        if runs and name not in CLOCK_ONLY
    } == {}


REPOSITORY = """{ repositoriesOrError { ... on RepositoryConnection { nodes { name location { name }
    schedules { name pipelineName }
    sensors { name sensorState { status ticks(limit: 10) { status runIds error { message } } } }
    } } } }"""
RUNS = """{ runsOrError { ... on Runs { results { runId jobName status
    tags { key value } } } } }"""
# The webserver's "Test schedule" dialog, then its "Launch all runs" (buildExecutionParamsList).
SCHEDULE_DRY_RUN = """mutation($selector: ScheduleSelector!, $timestamp: Float) {
    scheduleDryRun(selectorData: $selector, timestamp: $timestamp) { __typename
    ... on DryRunInstigationTick { evaluationResult { skipReason error { message }
        runRequests { jobName runConfigYaml tags { key value } assetSelection { path }
            assetChecks { assetKey { path } name } } } }
    ... on PythonError { message } } }"""
LAUNCH = """mutation($params: [ExecutionParams!]!) { launchMultipleRuns(executionParamsList: $params) {
    __typename ... on LaunchMultipleRunsResult { launchMultipleRunsResult { __typename
        ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }
    ... on PythonError { message } } }"""
CURATED = """query($key: AssetKeyInput!) { assetNodeOrError(assetKey: $key) { ... on AssetNode {
    partitionKeys opVersion
    assetChecksOrError { ... on AssetChecks { checks { name
        partitionStatuses { ... on AssetCheckTimePartitionStatuses {
            ranges { startKey endKey status } } } } } } } }
    assetOrError(assetKey: $key) { ... on Asset { assetMaterializations(limit: 50) { partition
        metadataEntries { label ... on IntMetadataEntry { intValue }
            ... on FloatMetadataEntry { floatValue }
            ... on TableSchemaMetadataEntry { schema { columns { name type } } } } }
        assetObservations(limit: 10) { metadataEntries { label
            ... on FloatMetadataEntry { floatValue } } } } } }"""
SLO_CHECK = """query($key: AssetKeyInput!) {
    assetCheckExecutions(assetKey: $key, checkName: "slo", limit: 1) { status
        evaluation { success severity description metadataEntries { label
            ... on TextMetadataEntry { text } ... on FloatMetadataEntry { floatValue } } } } }"""
IN_FLIGHT = {"STARTING", "STARTED"}
NOT_DONE = {"QUEUED", "NOT_STARTED", "STARTING", "STARTED", "CANCELING"}
SETTLING_SECONDS = 600  # a guard against a daemon that never settles, not a measurement


def _launch_from_the_ui(web: Webserver, repository: dict) -> list[str]:
    """What a user does in the webserver right after `make dev`: "Test schedule" and "Launch all
    runs" for the schedules on the clock (not due within a test), and "Materialize" the newest
    registry partition: more runs at once than may run, for the queue to hold some back."""
    where = {
        "repositoryLocationName": repository["location"]["name"],
        "repositoryName": repository["name"],
    }
    params = []
    jobs = {s["name"]: s["pipelineName"] for s in repository["schedules"]}
    for schedule in sorted(CLOCK_ONLY):
        tick = web.query(
            SCHEDULE_DRY_RUN,
            {"selector": {**where, "scheduleName": schedule}, "timestamp": time.time()},
        )["scheduleDryRun"]
        assert tick["__typename"] == "DryRunInstigationTick", tick
        for request in tick["evaluationResult"]["runRequests"]:
            params.append(
                {
                    "selector": {
                        **where,
                        "jobName": request["jobName"] or jobs[schedule],
                        "assetSelection": request["assetSelection"] or [],
                        "assetCheckSelection": request["assetChecks"] or [],
                    },
                    "runConfigData": request["runConfigYaml"],
                    "mode": "default",
                    "executionMetadata": {"tags": request["tags"]},
                }
            )
    yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    params.append(
        {
            "selector": {
                **where,
                "jobName": "profile",
                "assetSelection": [{"path": registry_key_of("card_transactions").path}],
            },
            "executionMetadata": {"tags": [{"key": "dagster/partition", "value": yesterday}]},
        }
    )
    launched = web.query(LAUNCH, {"params": params})["launchMultipleRuns"]
    results = launched["launchMultipleRunsResult"]
    assert [r["__typename"] for r in results] == ["LaunchRunSuccess"] * len(params), launched
    return [r["run"]["runId"] for r in results]


def _days(first: str, last: str) -> list[str]:
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    return [(start + timedelta(days=n)).isoformat() for n in range((end - start).days + 1)]


def test_make_dev_after_the_demo_keeps_two_runs_in_flight_and_shows_the_demos_days(
    demo, monkeypatch
):
    """`make dev` after `make demo`, started as the Makefile starts it: the daemon ticks every
    sensor and runs what is launched from the UI, never more than two runs at once, none failing;
    curated/card_transactions shows the demo's days as its newest partitions, each with its own
    check results, columns and row count."""
    home, env = demo
    monkeypatch.delenv("LAKE_PARTITIONS_START")  # the calendar the demo's lake records
    catalog = build_resources(load_settings(env))["catalog"]
    published = {p.partition: p for p in catalog.partitions("card_transactions")}
    today = datetime.now(UTC).date()
    # From the window's first day (demo_start may open it before the DEMO_DAYS days) to yesterday.
    first = demo_start(today, DEMO_DAYS)
    demo_days = [(first + timedelta(days=n)).isoformat() for n in range((today - first).days)]
    curated = {"path": curated_key_of("card_transactions").path}

    with Webserver(home, env, dev=True) as web:
        [repository] = web.query(REPOSITORY)["repositoriesOrError"]["nodes"]
        before = {run["runId"] for run in web.query(RUNS)["runsOrError"]["results"]}
        launched = _launch_from_the_ui(web, repository)
        in_flight, deadline = [], time.monotonic() + SETTLING_SECONDS
        while time.monotonic() < deadline:
            runs = web.query(RUNS)["runsOrError"]["results"]
            in_flight.append(sorted(r["runId"] for r in runs if r["status"] in IN_FLIGHT))
            [repository] = web.query(REPOSITORY)["repositoriesOrError"]["nodes"]
            # A stopped sensor never ticks (the masked views' refresh): waiting for it would
            # only run out the guard while the running ones tick on.
            ticked = all(
                any(t["status"] != "STARTED" for t in sensor["sensorState"]["ticks"])
                for sensor in repository["sensors"]
                if sensor["sensorState"]["status"] == "RUNNING"
            )
            if ticked and not any(r["status"] in NOT_DONE for r in runs):
                break
            time.sleep(1)
        shown = web.query(CURATED, {"key": curated})
        slo = web.query(SLO_CHECK, {"key": curated})["assetCheckExecutions"]

    # At most two runs in flight at any moment; nothing launched here failed (the demo's own
    # silver and gold builds that its FX failure held fail their gate, by design); the daemon
    # launched nothing of its own (every sensor's ticks requested no run) but what its clock
    # schedules run (the SLO evaluation every five minutes; the hourly deadline and drift checks
    # when the test spans their minute); only what the user launched ran besides.
    assert max(len(ids) for ids in in_flight) <= 2, in_flight
    new = [r for r in runs if r["runId"] not in before]
    assert {r["runId"]: r["status"] for r in new if r["status"] != "SUCCESS"} == {}
    assert set(launched) <= {r["runId"] for r in new}
    of_its_own = [r for r in new if r["runId"] not in launched]
    clock = [{"key": "dagster/schedule_name", "value": name} for name in CLOCK_ONLY]
    assert [r for r in of_its_own if not any(tag in r["tags"] for tag in clock)] == []
    ticks = [t for sensor in repository["sensors"] for t in sensor["sensorState"]["ticks"]]
    assert [t for t in ticks if t["runIds"] or t["error"]] == [], ticks

    # The calendar starts where the demo's lake records its data starts: the demo's days are the
    # newest partitions (today's is still open), and no empty one precedes them.
    node = shown["assetNodeOrError"]
    assert node["partitionKeys"] == [*demo_days, today.isoformat()]
    # Generated from pipelines/card_transactions.yaml: the code version its stamp records, by
    # which the webserver marks partitions stale when the template or the spec changes.
    assert (
        node["opVersion"] == load_settings(env).source("card_transactions").generation.code_version
    )

    # Each demo day: its own materialization with its own row count and the table's columns.
    latest = {}
    for m in shown["assetOrError"]["assetMaterializations"]:  # newest first
        latest.setdefault(m["partition"], {e["label"]: e for e in m["metadataEntries"]})
    for day in demo_days:
        entries = latest[day]
        assert entries["dagster/partition_row_count"]["intValue"] == published[day].row_count
        columns = {c["name"] for c in entries["dagster/column_schema"]["schema"]["columns"]}
        assert set(published[day].columns) <= columns, (day, columns)
    assert len({published[day].row_count for day in demo_days}) > 1  # not a run total

    # What its runs consumed, on each day's materialization, and what the ledger attributed to
    # the dataset this month, as observations: the series the asset's plots show.
    for day in demo_days:
        assert latest[day]["cost/vcpu_seconds"]["floatValue"] > 0, latest[day].keys()
    attributed = [
        e["floatValue"]
        for o in shown["assetOrError"]["assetObservations"]
        for e in o["metadataEntries"]
        if e["label"] == "cost/attributed_usd"
    ]
    assert attributed and attributed[0] > 0

    # ... and a result of every contract check for each day (the deadline check judges the
    # newest due day, unpartitioned).
    checks = node["assetChecksOrError"]["checks"]
    per_day = [c for c in checks if c["partitionStatuses"] is not None]
    assert sorted(c["name"] for c in checks if c not in per_day) == [
        "generated_code_current",  # the generated pipeline's drift check (hourly)
        "partition_deadline",
        "slo",  # its SLOs, as the slo job evaluated them
    ]
    assert per_day
    for check in per_day:
        statuses = {
            day: r["status"]
            for r in check["partitionStatuses"]["ranges"]
            for day in _days(r["startKey"], r["endKey"])
        }
        assert {day: statuses.get(day) in {"SUCCEEDED", "FAILED"} for day in demo_days} == {
            day: True for day in demo_days
        }, (check["name"], statuses)

    # Its SLOs next to its contract: the newest evaluation (the demo's, or the slo run launched
    # above), a warning while one burns fast, with each SLO's budget, burn rates and tier.
    [execution] = slo
    evaluation = execution["evaluation"]
    assert evaluation["severity"] == "WARN"
    entries = {e["label"]: e for e in evaluation["metadataEntries"]}
    assert entries["card_transactions.quality: tier"]["text"] == "regulatory"
    assert "card_transactions.quality: budget remaining" in entries
    assert "card_transactions.freshness: burn rate 1h" in entries
    # Failed exactly when it names the SLOs burning fast or spent.
    assert evaluation["success"] == (evaluation["description"] is None)


def test_the_demos_dashboard_shows_a_fast_burn_a_slow_burn_and_healthy_slos(demo, browser):
    """`make demo` ends with the SLOs of its own records: the dashboard it publishes, as a
    browser shows it, has every status the demo's problems give, with their incidents."""
    _, env = demo
    storage = build_resources(load_settings(env))["storage"]
    page = browser.new_page()
    page.goto(storage.uri(DASHBOARD_KEY))
    rows = page.locator("#slo-table tbody tr")
    statuses = dict(
        zip(
            rows.evaluate_all("rows => rows.map(r => r.dataset.slo)"),
            rows.evaluate_all("rows => rows.map(r => r.dataset.status)"),
            strict=True,
        )
    )
    # The treasury-band failure the demo stages in silver burns fast; warnings on card
    # transactions' partitions burn slowly; customers' checks all pass.
    assert statuses["silver_fx_rates.quality"] == "fast_burn"
    assert statuses["card_transactions.quality"] == "slow_burn"
    assert statuses["customers.quality"] == "healthy"
    opened = page.locator("#open-incidents tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.slo)"
    )
    assert "silver_fx_rates.quality" in opened
    page.close()
    # ... and the budget-burn alarm's metric counted them (locally a JSON-lines file).
    counted = build_resources(load_settings(env))["metrics"].counted()
    burning = sum(status in ("fast_burn", "exhausted") for status in statuses.values())
    # Once per evaluation (the demo's, and any the webserver's daemon ran since); the dashboard
    # is the newest one's, and an SLO may start burning between two (the demo publishes its
    # last day now, after that day's deadline: how much of the window that leaves bad depends
    # on the hour of the test).
    alerts = [m for m in counted if m["name"] == SLO_BUDGET_ALERTS]
    assert alerts and alerts[-1]["value"] == burning, counted
