"""Cost allocation (issue 16): the policy, the exact split, the cost_allocate job on a hand-made
month with known answers and on a generated month (reconciled to the nano, the same ledger on
a re-run), and the report's cents."""

from __future__ import annotations

import random

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from cost_inputs import DRIVERS, LINES, MONTH, TEAMS, cur_frame, line, write_inputs

from lake_assets.config import ConfigError
from lake_assets.cost.allocation import LEDGER_COLUMNS
from lake_assets.cost.cur_data import as_curated, generate_month
from lake_assets.cost.cur_lines import TEAMS as WORLD_TEAMS
from lake_assets.cost.model import SHARED, UNALLOCATED, emr_ids, split_exactly
from lake_assets.cost.policy import load_policy
from lake_assets.cost.pools import EMR_ARN
from lake_assets.cost.report import ledger_lines
from lake_assets.runtime.jobs import run_job
from lake_assets.settings import REPO_ROOT

POLICY_FILE = REPO_ROOT / "config" / "cost" / "allocation.yaml"


def _plan(policy, cur, drivers, output, month=MONTH, teams=TEAMS) -> dict:
    return {
        "month": month,
        "cur": cur,
        "drivers": drivers,
        "policy": policy.model_dump(mode="json"),
        "teams": teams,
        "output_uri": output,
    }


def _ledger(output) -> pa.Table:
    """The rows the job wrote, with their team from the folder, in file order."""
    files = sorted(p for p in output.rglob("*.parquet"))
    tables = [
        pq.read_table(f).append_column(
            "team", pa.array([f.parent.name[5:]] * pq.read_metadata(f).num_rows)
        )
        for f in files
    ]
    return pa.concat_tables(tables)


def _by(rows: list[dict], *keys: str) -> dict:
    totals: dict = {}
    for row in rows:
        key = tuple(row[k] for k in keys)
        totals[key] = totals.get(key, 0) + row["cost_nanos"]
    return totals


# --- the policy ----------------------------------------------------------------------------


def test_the_shipped_policy_loads_with_its_precedence():
    policy = load_policy(POLICY_FILE)
    ids = [m.id for m in policy.methods]
    # Job-level EMR lines must be taken before the application-level method could take them.
    assert ids.index("emr_job_run") < ids.index("emr_application_hour")


@pytest.mark.parametrize(
    ("old", "new", "key", "reason"),
    [
        ("pool_by: [job_run]", "pool_by: [job_run, bucket]", "methods[0].pool_by", "must be"),
        ("pool_by: [job_run]", "pool_by: [hour]", "methods[0].pool_by", "name one of"),
        (
            "fallback: wall_clock_seconds\n    leftover: {rule: unallocated",
            "fallback: wall_clock_second\n    leftover: {rule: unallocated",
            "methods[0].fallback",
            "must be one of",
        ),
        (
            '"vCPU": vcpu_seconds',
            '"(?P<x>vCPU)": vcpu_seconds',
            "methods[0].measures",
            "Java (Spark) writes",
        ),
        ("reason: idle_capacity", "reason: Idle capacity", "methods[1].leftover.reason", "match"),
        ("id: glue_by_tag", "id: dynamodb_by_tag", "methods[6].id", "declared twice"),
    ],
)
def test_a_policy_error_names_file_key_and_reason(tmp_path, old, new, key, reason):
    text = POLICY_FILE.read_text()
    assert old in text
    edited = tmp_path / "allocation.yaml"
    edited.write_text(text.replace(old, new, 1))
    with pytest.raises(ConfigError) as error:
        load_policy(edited)
    assert error.value.file == str(edited)
    assert error.value.key.startswith(key), error.value.key
    assert reason in error.value.reason


# --- the split -----------------------------------------------------------------------------


def test_the_integer_split_is_model_split_exactly():
    from lake_assets.cost.shares import UNITS_PER_VALUE, split_units

    rng = random.Random(16)
    for pool in range(60):
        total = rng.choice([1, 7, 10**9 + 1, rng.randrange(-(10**10), 10**12)])
        weights = dict((f"k{rng.randrange(50):02d}", rng.randrange(1, 40) / 2) for _ in range(5))
        units = [(key, round(weight * UNITS_PER_VALUE)) for key, weight in weights.items()]
        shares = split_units(total, units)
        assert sum(shares.values()) == total
        assert shares == split_exactly(total, list(weights.items())), (pool, total, weights)


def test_job_level_lines_pool_by_the_month_and_by_the_hour_where_a_method_needs_it(spark):
    """line_pools sets the hour of job-level lines aside before classifying: the pools must be
    those of pooling every line with its hour, also when a method that pools by the hour (and
    bills capacity) takes job-level lines, here under a policy without the job-run method."""
    from lake_assets.cost.pools import HOUR_NEEDED, _line_groups, _pooled, line_pools
    from lake_assets.tables.frames import collected

    later = line(11, "ElasticMapReduce", "EU-MemoryGBHours", LINES[3]["line_item_resource_id"], 0.3)
    lines = cur_frame(spark, [*LINES, {**later, "usage_hour": "2026-11-03T05"}])
    shipped = load_policy(POLICY_FILE)
    without_job_runs = shipped.model_copy(update={"methods": shipped.methods[1:]})

    def key(pool: dict) -> tuple:
        return tuple(str(value) for value in pool.values())

    pools = {}
    for name, policy in (("shipped", shipped), ("without", without_job_runs)):
        pools[name] = line_pools(lines, policy)
        every_hour = collected(_pooled(_line_groups(lines, False), policy).drop(HOUR_NEEDED))
        assert sorted(pools[name], key=key) == sorted(every_hour, key=key), name
    (month,) = [p for p in pools["shipped"] if p["pool_resource"] == "jr9"]
    assert (month["pool_hour"], month["lines"], month["nanos"]) == ("", 2, 700_000_000)
    hours = {
        p["pool_hour"]: (p["lines"], p["usage"])
        for p in pools["without"]
        if p["pool_resource"] == "app1" and p["measure"] == "memory_gb_seconds"
    }
    assert hours == {"2026-11-03T04": (1, 1), "2026-11-03T05": (1, 1)}


def test_driver_pools_weigh_each_value_before_summing_and_read_a_job_run_from_the_key(spark):
    """driver_pools sums a run's rows before it explodes them into the methods they weigh: each
    value is still rounded to whole micro-units on its own (two half micro-units weigh 2, not
    the 1 of their sum), and a run recorded on its application pools under the job run its key
    names, its application's hour under the application."""
    from cost_inputs import driver, driver_frame

    from lake_assets.cost.model import emr_application_arn, emr_job_run_arn
    from lake_assets.cost.pools import driver_pools
    from lake_assets.tables.frames import collected

    run = emr_job_run_arn("app7", "x7")
    drivers = [
        driver("run", "r1", run, "a", "vcpu_seconds", 0.0000005),
        driver("run", "r2", run, "a", "vcpu_seconds", 0.0000005),
        driver("run", run, emr_application_arn("app7"), "b", "vcpu_seconds", 2.5, "2026-11-03T04"),
        driver("run", "r3", emr_application_arn("app7"), "b", "vcpu_seconds", 1.0, "2026-11-03T04"),
    ]
    policy = load_policy(POLICY_FILE)
    methods = {index: method.id for index, method in enumerate(policy.methods)}
    pools = {
        (methods[p["method"]], p["pool_resource"], p["pool_hour"], p["team"]): int(p["units"])
        for p in collected(driver_pools(driver_frame(spark, drivers), policy))
        if p["d_measure"] == "vcpu_seconds"
    }
    assert pools == {
        ("emr_job_run", "x7", "", "a"): 2,
        ("emr_job_run", "x7", "", "b"): 2_500_000,
        ("emr_job_run", emr_application_arn("app7"), "", "b"): 1_000_000,
        ("emr_application_hour", "app7", "", "a"): 2,
        ("emr_application_hour", "app7", "2026-11-03T04", "b"): 3_500_000,
    }


def test_allocation_pauses_the_garbage_collector_only_while_it_runs():
    import gc

    from lake_assets.cost.allocation import collection_paused

    assert gc.isenabled()
    with pytest.raises(RuntimeError), collection_paused():
        assert not gc.isenabled()
        raise RuntimeError("a failed allocation")
    assert gc.isenabled()
    gc.disable()  # someone else's choice is kept
    try:
        with collection_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_the_java_arn_pattern_reads_as_the_model_does():
    import re

    for arn in (LINES[0]["line_item_resource_id"], LINES[3]["line_item_resource_id"], "bucket"):
        found = re.match(EMR_ARN, arn)
        assert (emr_ids(arn) is None) == (found is None)
        if found:
            assert emr_ids(arn) == (found[1], found[2])


# --- the job on a hand-made month ----------------------------------------------------------


def test_pools_reach_the_driver_through_arrow_as_collect_gives_them(spark):
    """tables.frames.collected, which moves the pools to the shares: the values collect()
    gives (text, None, 64-bit and decimal(38,0) integers), in order, and none for no rows."""
    from decimal import Decimal

    from lake_assets.tables.frames import collected

    rows = [("emr", None, 2**62, Decimal(10**30)), ("s3", "team-a", -1, Decimal(0))]
    frame = spark.createDataFrame(rows, "method string, team string, nanos bigint, u decimal(38,0)")
    assert collected(frame) == [row.asDict() for row in frame.collect()]
    assert collected(frame)[0] == {"method": "emr", "team": None, "nanos": 2**62, "u": 10**30}
    assert collected(frame.where("false")) == []


def test_pools_collected_aside_count_in_the_jobs_metrics_and_raise_their_error(spark):
    """tables.frames.collected_aside, which collects the driver pools while the line pools run:
    the same rows, its Spark job under the caller's job group (the run's drivers count it), and
    its failure raised where the rows are asked for."""
    from lake_assets.runtime.spark_metrics import measured
    from lake_assets.tables.frames import collected, collected_aside

    def frame():  # a new one each time: a frame run again skips the stages it ran before
        return spark.range(1000).selectExpr("id % 7 AS k").groupBy("k").count().orderBy("k")

    with measured(spark, "aside") as alone:
        collected(frame())
    with measured(spark, "aside") as usage:
        rows = collected_aside(frame())
        assert rows() == collected(frame())
    # The thread's jobs and the comparison's: both under the group, as if run in turn.
    assert usage["tasks"] >= 2 * alone["tasks"] > 0, (usage, alone)
    failing = spark.range(3).selectExpr("raise_error('no such pool') AS x")
    rows = collected_aside(failing)
    with pytest.raises(Exception, match="no such pool"):
        rows()


def test_a_job_whose_skipped_stage_the_status_store_dropped_keeps_its_figures(spark):
    """Past spark.ui.retainedStages Spark's status store drops the stages that never ran first
    (its cleanup, done here with the same store call): the job's figures stay those of the
    stages that ran, not zeros (seen in CI once the shared session passed the retention)."""
    from py4j.java_gateway import JavaClass

    from lake_assets.runtime.spark_metrics import SPARK_METRICS, last_stage_attempt, measured
    from lake_assets.tables.frames import collected

    def frame():  # a sort after an aggregation: its last job lists the shuffle as skipped
        return spark.range(1000).selectExpr("id % 7 AS k").groupBy("k").count().orderBy("k")

    with measured(spark, "whole") as whole:
        collected(frame())
    jsc = spark.sparkContext._jsc.sc()
    with measured(spark, "dropped") as dropped:
        collected(frame())
        tracker, store = jsc.statusTracker(), jsc.statusStore()
        group = spark.sparkContext.getLocalProperty("spark.jobGroup.id")
        stages = {
            s
            for j in tracker.getJobIdsForGroup(group)
            for s in tracker.getJobInfo(j).get().stageIds()
        }
        # Under load the shared session's own cleanup may have dropped a stage already: that
        # is the case under test too.
        attempts = {s: last_stage_attempt(store, s) for s in stages}  # None: dropped
        skipped = [s for s, a in attempts.items() if a and a.status().toString() == "SKIPPED"]
        gone = [s for s, a in attempts.items() if a is None]
        assert skipped or gone, "the frame's jobs list no skipped stage: the test needs one"
        gateway = spark.sparkContext._gateway
        wrapper = JavaClass("java.lang.Class", gateway._gateway_client).forName(
            "org.apache.spark.status.StageDataWrapper"
        )
        for stage in skipped:
            key = gateway.new_array(gateway.jvm.int, 2)
            key[0], key[1] = stage, attempts[stage].attemptId()
            store.store().delete(wrapper, key)
    assert dropped["origin"] == SPARK_METRICS, dropped.get("metrics_error")
    assert dropped["tasks"] == whole["tasks"] > 0, (dropped, whole)


def test_the_ledger_frame_is_built_through_arrow_at_the_declared_types(spark):
    """tables.frames.frame_of (Spark 4: an Arrow table; the 3.5 path runs in the job cases of
    tests/test_spark_jobs.py): the ledger's columns at their Spark types, values unchanged."""
    from decimal import Decimal

    from lake_assets.tables.frames import ddl, frame_of

    row = {column: None for column in LEDGER_COLUMNS} | {
        "month": MONTH,
        "cost_nanos": 1_234_567_891,
        "cost_usd": Decimal("1.234567891"),
        "drivers": {"vcpu_seconds": 2.5, "runs": 3},
        "team": "team-a",
    }
    ledger = frame_of(spark, [row], LEDGER_COLUMNS)
    assert ledger.schema == spark.createDataFrame([], ddl(LEDGER_COLUMNS)).schema
    (built,) = ledger.collect()
    assert built.asDict() == row | {"drivers": {"vcpu_seconds": 2.5, "runs": 3.0}}


def test_a_hand_made_month_gets_its_known_answers(spark, tmp_path):
    policy = load_policy(POLICY_FILE)
    # The alternative rule for idle capacity: shared by each team's EMR usage of the month.
    emr_hours = policy.methods[1]
    shared_by_usage = emr_hours.model_copy(
        update={"leftover": emr_hours.leftover.model_copy(update={"rule": "share_by_usage"})}
    )
    policy = policy.model_copy(
        update={"methods": (policy.methods[0], shared_by_usage, *policy.methods[2:])}
    )
    cur, drivers = write_inputs(spark, tmp_path / "in")
    result = run_job(spark, "cost_allocate", _plan(policy, cur, drivers, str(tmp_path / "out")))

    rows = [{**r, "drivers": dict(r["drivers"])} for r in _ledger(tmp_path / "out").to_pylist()]
    bill = sum(line["cost_nanos"] for line in LINES)
    assert result["bill_nanos"] == bill == sum(r["cost_nanos"] for r in rows)
    assert result["rows"] == len(rows)
    assert set(result["files"]) == {
        str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*.parquet")
    }
    hour4 = {
        (r["team"], r["drivers"].get("vcpu_seconds")): r["cost_nanos"]
        for r in rows
        if r["hour"] == "2026-11-03T04"
    }
    # Two runs share an application hour 3:1: 75/25 of $1.000000001, the odd nano to the larger.
    assert hour4 == {("a", 2700.0): 750_000_001, ("b", 900.0): 250_000_000}
    direct = _by(rows, "team", "method", "resource")
    assert direct["b", "emr_job_run", "jr9"] == 400_000_000  # a job-level line to its run
    assert direct["a", "s3_storage_by_prefix", "lake-bucket"] == 2_000_000_000  # bytes 2:1
    assert direct["b", "s3_storage_by_prefix", "lake-bucket"] == 1_000_000_000
    assert direct["a", "athena_by_workgroup", "analysts"] == 300_000_000  # bytes scanned 1:2
    assert direct["b", "athena_by_workgroup", "analysts"] == 600_000_000
    assert direct["a", "tag_attribution", "orders-table"] == 100_000_000  # by its team tag
    # Hour 05: the run used half the billed capacity; the idle half and the idle hour 06 (no
    # run; its tag names the platform, not a user) are shared by the teams' EMR usage of the
    # month (a: 1.750000001, b: 0.65).
    idle = {
        (r["team"], r["reason"]): r["cost_nanos"] for r in rows if r["reason"] == "idle_capacity"
    }
    shared = split_exactly(1_500_000_000, [("a", 1_750_000_001.0), ("b", 650_000_000.0)])
    assert idle == {("a", "idle_capacity"): shared["a"], ("b", "idle_capacity"): shared["b"]}
    unallocated = {r["reason"]: r["cost_nanos"] for r in rows if r["team"] == UNALLOCATED}
    assert unallocated == {
        "untagged/missing_team_tag": 50_000_000,  # DynamoDB, no tags
        "untagged/unknown_team_tag": 20_000_000,  # Glue, tagged team ghost
        "no_method/missing_team_tag": 70_000_000,  # EC2: no method, no tags
    }
    assert result["unallocated_nanos"] == unallocated
    assert all(
        r["month"] == MONTH and str(r["cost_usd"]) == f"{r['cost_nanos'] / 1e9:.9f}" for r in rows
    )
    assert len(DRIVERS) and list(LEDGER_COLUMNS)[:-1] == _ledger(tmp_path / "out").column_names[:-1]


# --- the job on a generated month ----------------------------------------------------------


def test_a_generated_month_reconciles_to_the_nano_and_reruns_the_same(spark, tmp_path):
    world = generate_month(MONTH, runs=150, seed=7, lines_per_run=6)
    pq.write_table(as_curated(world.cur), tmp_path / "cur.parquet")
    pq.write_table(world.drivers, tmp_path / "drivers.parquet")
    policy = load_policy(POLICY_FILE)
    results, ledgers = [], []
    for run in ("first", "again"):
        plan = _plan(
            policy,
            [str(tmp_path / "cur.parquet")],
            [str(tmp_path / "drivers.parquet")],
            str(tmp_path / run),
            teams=list(WORLD_TEAMS),
        )
        results.append(run_job(spark, "cost_allocate", plan))
        ledgers.append(_ledger(tmp_path / run))
    bill = int(pc.sum(as_curated(world.cur)["cost_nanos"]).as_py())
    rows = ledgers[0].to_pylist()
    assert results[0]["bill_nanos"] == bill == sum(r["cost_nanos"] for r in rows)
    totals = _by(rows, "team", "category")
    for (team, category), nanos in world.expected.items():
        assert abs(totals.pop((team, category), 0) - nanos) <= world.slack.get(category, 0), (
            team,
            category,
        )
    assert not {k: v for k, v in totals.items() if v}, totals  # nothing the world did not owe
    assert {SHARED, UNALLOCATED} <= {team for team, _ in world.expected}
    # A re-run writes the same rows in the same order, file by file.
    assert ledgers[0].equals(ledgers[1])
    assert results[0] == results[1] | {"files": results[0]["files"]}


# --- the report ----------------------------------------------------------------------------


def test_the_report_rows_add_up_to_its_total_in_cents():
    rows = [
        {
            "team": t,
            "pipeline": "",
            "dataset": "",
            "category": "c",
            "method": "m",
            "cost_nanos": n,
            "drivers": {},
            "reason": "",
            "resource": "",
            "hour": "",
        }
        for t, n in (("a", 1_004_000_000), ("b", 1_004_000_000), ("c", 1_004_000_000))
    ]
    lines, total = ledger_lines(rows, "team")
    assert total == 301  # $3.012 is 301 cents; rounding each row alone would print 300
    assert [line["cents"] for line in lines] == [101, 100, 100]  # ties by name
    assert sum(line["cents"] for line in lines) == total


# --- the ledger through Dagster, and `lake cost report` ------------------------------------


def _publish_input(spark, storage, catalog, dataset: str, frame) -> None:
    from datetime import UTC, datetime

    from lake_assets.tables.locations import published_month_location
    from lake_assets.tables.publish import publish
    from resources.catalog import PublishedPartition

    location = published_month_location(dataset, "given", MONTH)
    frame.coalesce(1).write.parquet(storage.uri(location))
    files = [i.key[len(location) :] for i in storage.list(location) if i.key.endswith(".parquet")]
    entry = PublishedPartition(
        dataset, MONTH, location, "given", datetime.now(UTC).isoformat(), frame.count(), "v1"
    )
    publish(catalog, storage, entry, files, "")


def test_the_ledger_through_dagster_reconciles_and_reports_in_cents(local_lake, spark, capsys):
    import json

    from cost_inputs import cur_frame, driver_frame
    from dagster import materialize

    from lake_assets.cli.main import main
    from lake_assets.cost.ledger_assets import ATTRIBUTED_USD, RECONCILES, build_ledger_asset
    from lake_assets.cost.model import CUR_DATASET, DRIVERS_DATASET, LEDGER_DATASET, cents
    from partitions import monthly_partitions

    settings, resources = local_lake
    storage, catalog = resources["storage"], resources["catalog"]
    _publish_input(spark, storage, catalog, CUR_DATASET, cur_frame(spark))
    _publish_input(spark, storage, catalog, DRIVERS_DATASET, driver_frame(spark))
    asset = build_ledger_asset(monthly_partitions("2026-01-01"), load_policy(POLICY_FILE), TEAMS)
    bill = sum(line["cost_nanos"] for line in LINES)

    runs = [materialize([asset], partition_key=MONTH, resources=resources) for _ in range(2)]
    assert all(run.success for run in runs)
    [materialized] = runs[0].get_asset_materialization_events()
    metadata = {k: v.value for k, v in materialized.materialization.metadata.items()}
    assert metadata["total_usd"] == float(cents(bill)) == 8.04
    assert metadata["unallocated_usd"] == 0.14  # DynamoDB, Glue and EC2 lines nobody owns
    assert metadata["teams_usd"]["shared"] == 1.5  # idle capacity, its own line
    [check] = runs[0].get_asset_check_evaluations()
    assert (check.check_name, check.passed) == (RECONCILES, True)
    observed = {
        e.asset_observation_data.asset_observation.asset_key.path[
            -1
        ]: e.asset_observation_data.asset_observation.metadata[ATTRIBUTED_USD].value
        for e in runs[0].get_asset_observation_events()
    }
    assert observed == {"x": 3.75, "y": 1.25}  # runs 0.75 + 1.00 and storage 2.00 to x

    # A re-run is a new version with the same content; the one it replaced is kept.
    current = catalog.current(LEDGER_DATASET, MONTH)
    assert current.run_id == runs[1].run_id and current.row_count == metadata["rows"]
    assert [s.partition for s in catalog.superseded(older_than=_far_future())] == [MONTH]
    [lineage] = [
        r
        for r in resources["lineage"].runs()
        if r.run_id == runs[1].run_id and r.state == "COMPLETE"
    ]
    assert lineage.inputs == (f"{CUR_DATASET}[{MONTH}]", f"{DRIVERS_DATASET}[{MONTH}]")

    assert main(["cost", "report", "--month", MONTH, "--by", "dataset", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["total_cents"] == 804
    assert sum(line["cents"] for line in report["lines"]) == 804
    emr = next(r for line in report["lines"] for r in line["rows"] if r["hour"] == "2026-11-03T04")
    assert emr["method"] == "emr_application_hour" and "pool_vcpu_seconds" in emr["drivers"]
    assert main(["cost", "report", "--month", MONTH]) == 0
    assert capsys.readouterr().out.splitlines()[-1].split() == ["total", "$8.04"]


def _far_future():
    from datetime import UTC, datetime

    return datetime(2100, 1, 1, tzinfo=UTC)
