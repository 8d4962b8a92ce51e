"""A calm lake: a `lake` command prints its own outcome and nothing else (no Spark start-up
chatter, no Dagster telemetry banner), the DAGSTER_HOME it sets up lets at most two runs be in
flight, and its runs are named jobs of the code location."""

from __future__ import annotations

import os
import subprocess
import sys

from dagster import (
    DagsterInstance,
    QueuedRunCoordinator,
)
from lake_harness import NOISE, Lake, failure_message
from test_history_e2e import MON, land
from webserver import Webserver, persistent_instance

from lake_assets.cli.runs import set_up_dagster_home
from lake_assets.ingestion.asset_keys import registry_key_of
from lake_assets.runtime.jvm_log import local_jvm_output

DAY = "2026-03-01"


def test_a_command_starting_spark_on_a_fresh_dagster_home_prints_only_its_outcome(lake, tmp_path):
    land(lake, MON, {"C00001": "retail"})
    home = tmp_path / "fresh-home"  # no dagster.yaml: the command sets up what it needs

    done = subprocess.run(
        [sys.executable, "-m", "lake_assets.cli", "scd", "apply", "customers", "--date", MON],
        env={**os.environ, **lake.env, "DAGSTER_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=900,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith(f"customers_history: applied {MON}")  # the command's own outcome
    assert [line for line in (done.stdout + done.stderr).splitlines() if line.strip()] == [
        done.stdout.strip()
    ]
    for noise in NOISE:
        assert noise not in done.stdout + done.stderr
    # The JVM's chatter is kept, in the lake's log, not lost.
    assert "Using incubator modules" in (lake.settings.state_dir / "logs/spark.log").read_text()
    # The run is recorded in the home, as the named job the webserver can launch again.
    [run] = DagsterInstance.from_config(str(home)).get_runs()
    assert run.job_name == "history"


def test_the_dagster_home_the_lake_sets_up_queues_runs_beyond_two(tmp_path):
    home = tmp_path / "home"
    assert set_up_dagster_home(home) == ["telemetry", "concurrency"]
    assert set_up_dagster_home(home) == []  # once

    instance = DagsterInstance.from_config(str(home))
    assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
    assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 2
    assert not instance.telemetry_enabled


def test_setting_up_a_home_keeps_what_its_dagster_yaml_says(tmp_path):
    older = tmp_path / "older"  # what `make demo` wrote before the run cap
    older.mkdir()
    (older / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    assert set_up_dagster_home(older) == ["concurrency"]
    assert DagsterInstance.from_config(str(older)).get_concurrency_config().run_queue_config
    assert (older / "dagster.yaml").read_text().startswith("telemetry:\n  enabled: false\n")

    own = tmp_path / "own"  # a user's own run queue and telemetry choice stay theirs
    own.mkdir()
    (own / "dagster.yaml").write_text(
        "# mine\ntelemetry:\n  enabled: true\nrun_queue:\n  max_concurrent_runs: 5"
    )
    assert set_up_dagster_home(own) == []
    instance = DagsterInstance.from_config(str(own))
    assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 5


def test_a_cli_run_is_a_named_job_the_webserver_launches_again(tmp_path):
    home = tmp_path / "dagster"
    lake = Lake(tmp_path / "lake", instance=persistent_instance(home))
    set_up_dagster_home(home)  # the project's home: a queued run waits under the run cap
    lake.deliver_cards(DAY, range(3))
    profiled = lake.profile("card_transactions", DAY)  # what `lake promote` etc. run through
    assert profiled.success, failure_message(profiled)

    with Webserver(home, lake.env) as web:
        repositories = web.query(
            """{ repositoriesOrError { ... on RepositoryConnection { nodes {
                name location { name } jobs { name } } } } }"""
        )["repositoriesOrError"]["nodes"]
        [run] = web.query(
            "{ runsOrError { ... on Runs { results { runId pipelineName tags { key value } } } } }"
        )["runsOrError"]["results"]
        [repository] = repositories
        assert run["pipelineName"] == "profile"
        assert run["pipelineName"] in {job["name"] for job in repository["jobs"]}
        relaunched = web.query(
            """mutation($params: ExecutionParams!) { launchPipelineReexecution(
                executionParams: $params) { __typename
                ... on LaunchRunSuccess { run { pipelineName status assetSelection { path } } }
                ... on PythonError { message } ... on PipelineNotFoundError { message } } }""",
            {
                "params": {
                    "selector": {
                        "repositoryLocationName": repository["location"]["name"],
                        "repositoryName": repository["name"],
                        "pipelineName": run["pipelineName"],
                        "assetSelection": [{"path": registry_key_of("card_transactions").path}],
                    },
                    "executionMetadata": {
                        "parentRunId": run["runId"],
                        "rootRunId": run["runId"],
                        "tags": [t for t in run["tags"] if t["key"] == "dagster/partition"],
                    },
                }
            },
        )["launchPipelineReexecution"]
    assert relaunched["__typename"] == "LaunchRunSuccess", relaunched
    assert relaunched["run"]["pipelineName"] == "profile"
    assert relaunched["run"]["status"] == "QUEUED"  # no daemon here: it waits in the run queue


def test_the_spark_log_is_rotated_when_a_jvm_starts_keeping_the_last_few(tmp_path):
    log = tmp_path / "logs" / "spark.log"
    for launch in range(5):  # what five JVMs write to their inherited stderr
        with local_jvm_output(log, max_bytes=20, backups=2):
            os.write(2, f"JVM {launch}: more than twenty bytes\n".encode())

    assert sorted(p.name for p in log.parent.iterdir()) == [
        "spark.log",
        "spark.log.1",
        "spark.log.2",
    ]
    assert log.read_text() == "JVM 4: more than twenty bytes\n"  # the newest, in the log itself
    assert (log.parent / "spark.log.1").read_text().startswith("JVM 3")
    assert (log.parent / "spark.log.2").read_text().startswith("JVM 2")  # JVM 0 and 1 dropped
