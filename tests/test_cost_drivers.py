"""What the lake's runs consumed (issue 16): a job's drivers from Spark's own metrics, recorded
once per execution on its step and as shares on its assets' materializations; the month's
drivers table from the event log, the catalog and Athena's history; the hour split. The EMR
Serverless side (billed utilisation, job run tags) is asserted in test_emr_jobs.py."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import boto3
import pyarrow.parquet as pq
import pytest
from aws_lake import REGION
from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetKey,
    AssetSelection,
    AssetSpec,
    DagsterInstance,
    Definitions,
    asset_check,
    define_asset_job,
    materialize,
    multi_asset,
)
from lake_harness import failure_message
from moto.athena.responses import AthenaResponse

from lake_assets.cost import drivers, recording
from lake_assets.cost.drivers_assets import COST_DRIVERS, build_drivers_asset
from lake_assets.cost.model import DRIVERS_DATASET, LOCAL_APPLICATION, emr_job_run_arn
from lake_assets.cost.recording import recorded_runs
from lake_assets.cost.run_drivers import (
    BILLED,
    SPARK_METRICS,
    WALL_CLOCK,
    RecordedRun,
    billed_usage,
    materialization_metadata,
    run_drivers,
)
from lake_assets.runtime import jobs
from lake_assets.tables.publish import TABLE_FILE
from resources.aws.athena import AthenaQueryHistory
from resources.catalog import PublishedPartition

AROUND = {
    "started_at": "2026-11-30T23:40:00+00:00",
    "ended_at": "2026-12-01T01:10:00+00:00",
    "wall_clock_seconds": 5400.0,
}


def test_a_run_is_split_over_the_hours_it_overlapped():
    assert drivers.hours_overlapped(AROUND["started_at"], AROUND["ended_at"]) == [
        ("2026-11-30T23", pytest.approx(20 / 90)),
        ("2026-12-01T00", pytest.approx(60 / 90)),
        ("2026-12-01T01", pytest.approx(10 / 90)),
    ]
    instant = "2026-12-01T05:00:00+00:00"
    assert drivers.hours_overlapped(instant, instant) == [("2026-12-01T05", 1.0)]
    # Another offset is the same instant: hours are UTC.
    assert drivers.hours_overlapped("2026-12-01T06:30:00+05:30", "2026-12-01T01:30:00+00:00") == [
        ("2026-12-01T01", 1.0)
    ]


def recorded(**overrides) -> RecordedRun:
    usage = {"origin": SPARK_METRICS, "vcpu_seconds": 90.0, "memory_gb_seconds": 45.0,
             "bytes_read": 900, "bytes_written": 300, "objects_read": 4, "objects_written": 2}  # fmt: skip
    return run_drivers(
        usage, AROUND, dagster_run_id="r1", job="promote", runner="local", **overrides
    )


def test_billed_utilisation_wins_over_spark_metrics_which_win_over_the_wall_clock():
    job_run = {  # GetJobRun's jobRun, as EMR Serverless documents it
        "billedResourceUtilization": {"vCPUHour": 0.5, "memoryGBHour": 2.0, "storageGBHour": 0.0},
        "totalExecutionDurationSeconds": 600,
    }
    billed = recorded(billed=billed_usage(job_run), job_run_id="j1", application_id="app1")
    assert (billed.drivers.origin, billed.drivers.vcpu_seconds) == (BILLED, 1800.0)
    assert (billed.drivers.memory_gb_seconds, billed.drivers.wall_clock_seconds) == (7200.0, 600.0)
    assert billed.drivers.bytes_read == 900  # what EMR does not bill comes from Spark
    assert billed.key("eu-west-1") == emr_job_run_arn("app1", "j1")
    assert billed_usage({"state": "RUNNING"}) is None

    spark = recorded()
    assert (spark.drivers.origin, spark.drivers.vcpu_seconds) == (SPARK_METRICS, 90.0)
    assert spark.drivers.wall_clock_seconds == 5400.0

    nothing = run_drivers(None, AROUND, dagster_run_id="r1", job="promote", runner="local")
    assert (nothing.drivers.origin, nothing.drivers.vcpu_seconds) == (WALL_CLOCK, 0.0)
    assert RecordedRun.from_json(spark.as_json()) == spark


def test_a_steps_runs_are_shared_by_its_materializations_without_counting_twice():
    runs = [recorded(), recorded()]
    values = materialization_metadata(runs, shares=4)  # 2 assets x 2 partitions
    assert values["cost/vcpu_seconds"] * 4 == 180.0
    assert values["cost/estimated_usd"] > 0


def test_a_checks_own_step_records_its_runs_on_the_checked_asset_a_tables_check_subset_does_not(
    tmp_path,
):
    """A contract trial (an @asset_check's step) is observed on the contract's asset, charged to
    its dataset and owner; a multi-asset's step run for its checks alone records nothing, since
    the commands read a table's observations as partition outcomes (ADR-0173)."""
    contract = AssetSpec(AssetKey(["contracts", "cards"]), owners=["team:payments-data"])

    @asset_check(asset=contract.key, name="tried")
    def tried(context):
        recording.record(context.op_execution_context, recorded(
            **recording.step_identity(context.op_execution_context, "contract_trial")))  # fmt: skip
        return AssetCheckResult(passed=True)

    table = AssetKey(["history", "cards"])

    @multi_asset(specs=[AssetSpec(table)], can_subset=True,
                 check_specs=[AssetCheckSpec("applied", asset=table)])  # fmt: skip
    def history(context):
        recording.record(context, recorded())
        yield AssetCheckResult(passed=True, asset_key=table, check_name="applied")

    instance = DagsterInstance.ephemeral()
    defs = Definitions(assets=[contract, history], asset_checks=[tried])
    checks = define_asset_job("checks", selection=AssetSelection.checks(tried, history))
    result = (
        Definitions.merge(defs, Definitions(jobs=[checks]))
        .resolve_job_def("checks")
        .execute_in_process(instance=instance)
    )
    assert result.success
    [run] = recorded_runs(instance, datetime(2000, 1, 1, tzinfo=UTC), datetime.now(UTC))
    assert (run.drivers.datasets, run.drivers.team, run.drivers.job) == (
        ("cards",),
        "payments-data",
        "promote",
    )
    observed = result.get_asset_observation_events()
    assert [e.asset_key for e in observed] == [contract.key]
    assert (
        observed[0].event_specific_data.asset_observation.metadata["cost/vcpu_seconds"].value
        == 90.0
    )


def test_run_drivers_of_a_month_are_its_hours_and_reconcile_to_the_run():
    run = recorded(datasets=("alpha", "beta"), team=None, pipeline=None)
    owners = {"alpha": "team:alpha-data"}.get
    rows = drivers.run_rows(
        "2026-12", [run], lambda d: owners(d, "team:data-platform"), "lake", REGION
    )

    assert {r.hour for r in rows} == {"2026-12-01T00", "2026-12-01T01"}  # November's is not
    vcpu = [r for r in rows if r.measure == "vcpu_seconds"]
    assert sum(r.value for r in vcpu) == pytest.approx(90.0 * 70 / 90)
    assert {(r.dataset, r.team, r.pipeline, r.resource) for r in vcpu} == {
        ("alpha", "alpha-data", "alpha", LOCAL_APPLICATION),
        ("beta", "data-platform", "beta", LOCAL_APPLICATION),
    }
    requests = [r for r in rows if r.measure == "requests"]
    assert {r.resource for r in requests} == {"lake"}
    assert sum(r.value for r in requests) == pytest.approx(6 * 70 / 90)
    november = drivers.run_rows("2026-11", [run], lambda d: "team:x", "lake", REGION)
    assert sum(r.value for r in november if r.measure == "vcpu_seconds") == pytest.approx(20.0)


def test_storage_is_by_dataset_prefix_and_storage_class():
    sizes = {"cards": {"STANDARD": 100, "STANDARD_IA": 40, "GLACIER": 7, "ONEZONE_IA": 2}}
    rows = drivers.storage_rows("2026-12", sizes, lambda d: "team:payments", "lake")
    assert {(r.key, r.resource, r.team, r.measure, r.value) for r in rows} == {
        ("curated/cards/", "lake", "payments", "storage_bytes_standard", 100.0),
        ("curated/cards/", "lake", "payments", "storage_bytes_standard_ia", 42.0),
        ("curated/cards/", "lake", "payments", "storage_bytes_glacier", 7.0),
    }


def tiny_job(spark, plan: dict) -> dict:
    """Writes a small Parquet table and reads it back: reads, writes and task time to measure."""
    spark.range(2000).selectExpr("id", "id % 7 AS k").write.parquet(plan["out"])
    return {"rows": spark.read.parquet(plan["out"]).groupBy("k").count().count()}


def test_a_local_job_records_its_drivers_and_the_month_publishes_them(lake, monkeypatch):
    monkeypatch.setitem(jobs.JOBS, "tiny", f"{__name__}:tiny_job")
    out = lake.storage.uri("curated/alpha/run=t1/_zone=published/")

    @multi_asset(
        specs=[
            AssetSpec(["curated", "alpha"], owners=["team:alpha-data"]),
            AssetSpec(["curated", "beta"]),
        ],
        required_resource_keys={"spark_runner"},
    )
    def alpha_and_beta(context):
        assert context.resources.spark_runner.run(context, "tiny", {"out": out}) == {"rows": 7}

    resources = {k: lake.resources[k] for k in ("spark_runner", "settings", "storage", "catalog")}
    built = materialize([alpha_and_beta], resources=resources, instance=lake.instance)
    assert built.success, failure_message(built)

    [run] = recorded_runs(lake.instance, *drivers.month_window(datetime.now(UTC).strftime("%Y-%m")))
    d = run.drivers
    assert (d.origin, d.runner, d.job, d.dagster_run_id) == (
        SPARK_METRICS,
        "local",
        "tiny",
        built.run_id,
    )
    assert d.vcpu_seconds > 0 and d.memory_gb_seconds > 0 and d.wall_clock_seconds > 0
    assert d.bytes_written > 0 and d.bytes_read > 0 and run.objects_written > 0
    # Named as the catalog names the tables the assets publish; no generated pipeline ran it.
    assert (d.datasets, d.team, d.pipeline) == (("alpha", "beta"), "alpha-data", "platform")
    shown = [m.materialization.metadata for m in built.get_asset_materialization_events()]
    assert len(shown) == 2
    assert sum(m["cost/vcpu_seconds"].value for m in shown) == pytest.approx(d.vcpu_seconds)
    assert sum(m["cost/bytes_written"].value for m in shown) == pytest.approx(d.bytes_written)

    # alpha's folder published: its storage driver is the bytes of every object in it.
    files = list(lake.storage.list("curated/alpha/run=t1/_zone=published/"))
    lake.catalog.publish(PublishedPartition("alpha", "2026-12-01", "curated/alpha/run=t1/_zone=published/",
                                            "t1", "2026-12-01T00:00:00+00:00", 2000, "derived"))  # fmt: skip
    month = d.started_at[:7]
    published = materialize(
        [build_drivers_asset(lake.settings)],
        resources=resources,
        instance=lake.instance,
        partition_key=month,
    )
    assert published.success, failure_message(published)
    entry = lake.catalog.current(DRIVERS_DATASET, month)
    table = pq.read_table(io.BytesIO(lake.storage.get_bytes(entry.location + TABLE_FILE)))
    rows = table.to_pylist()
    assert entry.row_count == len(rows)
    runs = [r for r in rows if r["kind"] == drivers.RUN]
    for measure in ("vcpu_seconds", "memory_gb_seconds", "bytes_read", "bytes_written"):
        total = sum(r["value"] for r in runs if r["measure"] == measure)
        assert total == pytest.approx(getattr(d, measure)), measure
    assert {r["key"] for r in runs} == {run.key()}
    storage = [r for r in rows if r["kind"] == drivers.STORAGE and r["dataset"] == "alpha"]
    assert [(r["key"], r["resource"], r["measure"], r["value"]) for r in storage] == [
        (
            "curated/alpha/",
            lake.root.name,
            "storage_bytes_standard",
            float(sum(f.size for f in files)),
        )
    ]
    assert published.asset_materializations_for_node(COST_DRIVERS.to_python_identifier())


def test_a_jobs_metrics_count_the_files_it_read_and_wrote_and_its_core_memory(spark, tmp_path):
    """measured() reads the files a job's scans read and its writers wrote from the SQL status
    store's plan metrics (their text parsed in one call), and weighs core time by the driver's
    memory per local core."""
    from lake_assets.runtime.spark_metrics import measured

    spark.range(30).repartition(3).write.parquet(str(tmp_path / "in"))  # three files
    with measured(spark, "files") as usage:
        spark.read.parquet(str(tmp_path / "in")).repartition(2).write.parquet(str(tmp_path / "out"))
    written = [p for p in (tmp_path / "out").iterdir() if p.suffix == ".parquet"]
    assert (usage["objects_read"], usage["objects_written"], len(written)) == (3, 2, 2)
    memory = spark.conf.get("spark.driver.memory", "1g")
    per_core = float(memory[:-1]) / spark.sparkContext.defaultParallelism  # "<n>g" or default
    assert usage["vcpu_seconds"] > 0
    assert usage["memory_gb_seconds"] == pytest.approx(usage["vcpu_seconds"] * per_core)


def test_plan_metrics_read_from_their_text_and_walked_where_it_does_not_parse():
    """A data source's own metric type (`v2Custom_<class>`) has dots and still parses; a text
    that parses into fewer metrics than the Seq holds is walked metric by metric instead."""
    from types import SimpleNamespace

    from lake_assets.runtime.spark_metrics import _file_metrics

    class Seq:  # a Scala Seq of SQLPlanMetric, as py4j hands it over
        def __init__(self, text, metrics):
            self.text, self.metrics = text, metrics

        def toString(self):  # noqa: N802 - the JVM's name
            return self.text

        def size(self):
            return len(self.metrics)

        def iterator(self):
            items = iter(self.metrics)
            pending = list(self.metrics)
            return SimpleNamespace(
                hasNext=lambda: bool(pending), next=lambda: (pending.pop(0), next(items))[1]
            )

    def metric(name, accumulator, kind):
        return SimpleNamespace(
            name=lambda: name, accumulatorId=lambda: accumulator, metricType=lambda: kind
        )

    metrics = [
        metric("custom", 4, "v2Custom_org.example.Rows"),
        metric("number of files read", 5, "sum"),
        metric("number of written files", 9, "sum"),
    ]
    text = (
        "List("
        + ", ".join(
            f"SQLPlanMetric({m.name()},{m.accumulatorId()},{m.metricType()})" for m in metrics
        )
        + ")"
    )
    expected = [("number of files read", 5), ("number of written files", 9)]
    assert _file_metrics(Seq(text, metrics)) == expected
    assert _file_metrics(Seq("Vector(<unreadable>)", metrics)) == expected


def test_a_lake_commands_run_is_charged_to_the_dataset_it_read_and_recorded_once(
    lake, monkeypatch, tmp_path
):
    """`lake lateness`, `lake contract try` and `lake scd as-of` run Spark outside any asset.
    With a charge (cli.runs.command_charge), the run is a `lake_command` run on the lake's
    instance (DAGSTER_HOME) whose tags name the dataset, and its drivers one observation of
    cost/lake_commands, charged to the team of the dataset's source (a table of none: the
    platform's). Without one, nothing is recorded."""
    from lake_assets.cli.runs import command_charge
    from lake_assets.cost.recording import LAKE_COMMANDS

    monkeypatch.setitem(jobs.JOBS, "tiny", f"{__name__}:tiny_job")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    settings = lake.settings
    cards = settings.source("card_transactions")
    charge = command_charge(settings, "card_transactions")
    assert command_charge(settings, "silver_orders").owner == settings.platform_owner
    runner = lake.resources["spark_runner"]

    assert runner.run_standalone("tiny", {"out": str(tmp_path / "a")}, charge) == {"rows": 7}
    assert runner.run_standalone("tiny", {"out": str(tmp_path / "b")}) == {"rows": 7}

    month = drivers.month_window(datetime.now(UTC).strftime("%Y-%m"))
    [run] = recorded_runs(charge.instance, *month)
    d = run.drivers
    assert (d.datasets, d.team, d.pipeline, d.job) == (
        ("card_transactions",),
        cards.owner,
        "platform",
        "tiny",
    )
    assert d.vcpu_seconds > 0
    [command] = charge.instance.get_runs()
    assert (command.job_name, command.run_id) == ("lake_command", d.dagster_run_id)
    assert command.tags["lake/charged_dataset"] == "card_transactions"
    observed = charge.instance.fetch_observations(LAKE_COMMANDS, limit=5).records
    assert len(observed) == 1


def test_athena_queries_are_read_from_the_workgroups_history(aws_endpoint, monkeypatch):
    """ListQueryExecutions per team workgroup, BatchGetQueryExecution for their bytes. moto has no
    BatchGetQueryExecution and scans nothing: its server answers it here from its own
    GetQueryExecution, with the bytes Athena would report."""
    athena = boto3.client("athena", endpoint_url=aws_endpoint, region_name=REGION)
    athena.create_work_group(Name="payments-data", Configuration={})
    started = {
        athena.start_query_execution(
            QueryString=f"SELECT {n}",
            WorkGroup="payments-data",
            ResultConfiguration={"OutputLocation": "s3://q/"},
        )["QueryExecutionId"]: n  # fmt: skip
        for n in (1, 2, 3)
    }
    scanned = {query_id: 10_000_000 * n for query_id, n in started.items()}

    def batch_get_query_execution(self):
        executions = []
        for query_id in self._get_param("QueryExecutionIds"):
            execution = self.athena_backend.get_query_execution(query_id)
            executions.append({
                "QueryExecutionId": query_id,
                "Status": {"State": execution.status, "SubmissionDateTime": execution.start_time},
                "Statistics": {"DataScannedInBytes": scanned[query_id]},
                "WorkGroup": execution.workgroup.name,
            })  # fmt: skip
        return json.dumps({"QueryExecutions": executions, "UnprocessedQueryExecutionIds": []})

    monkeypatch.setattr(
        AthenaResponse, "batch_get_query_execution", batch_get_query_execution, raising=False
    )
    now = datetime.now(UTC)
    history = AthenaQueryHistory(endpoint_url=aws_endpoint, region=REGION)
    scans = list(history.scans(["payments-data", "primary"], now - timedelta(hours=1), now + timedelta(hours=1)))  # fmt: skip

    assert sorted((s.workgroup, s.bytes_scanned) for s in scans) == [
        ("payments-data", 10_000_000), ("payments-data", 20_000_000), ("payments-data", 30_000_000)
    ]  # fmt: skip
    rows = drivers.query_rows(now.strftime("%Y-%m"), scans)
    assert {(r.resource, r.team, r.measure) for r in rows} == {
        ("payments-data", "payments-data", "bytes_scanned")
    }
    assert sum(r.value for r in rows) == 60_000_000
