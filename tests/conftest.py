"""Shared fixtures: one local SparkSession and one moto server for the whole test session."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import aws_calls
import pytest
from postgres import postgres_server  # noqa: F401  (Dagster's instance on PostgreSQL)

from lake_assets.runtime import class_archive

# The tests' lakes hold days from 2025 on, before config/lake.yaml's calendar start.
TESTS_PARTITIONS_START = "2025-01-01"
os.environ["LAKE_PARTITIONS_START"] = TESTS_PARTITIONS_START
# Every JVM the tests start (the shared session, Pipes subprocesses, the fake EMR's jobs) lives
# for seconds on tiny data: the C2 compiler's threads cost more than they return, and one GC
# thread is enough. Measured: about a fifth off a JVM-bound test (ADR-0054). They also map the
# classes Spark loads from an archive of their own (runtime/class_archive.py) when there is one.
JVM_FLAGS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
# A developer's own SPARK_SUBMIT_OPTS wins; ours start with JVM_FLAGS (a worker inherits them).
OUR_JVM_OPTS = os.environ.get("SPARK_SUBMIT_OPTS", JVM_FLAGS).startswith(JVM_FLAGS)
if OUR_JVM_OPTS:
    os.environ["SPARK_SUBMIT_OPTS"] = class_archive.options(JVM_FLAGS)

# The slowest files first (`make test` keeps collection order: --no-loadscope-reorder), so the
# workers do not end with one of them running alone; every other file keeps its place after.
SLOWEST_FIRST = (
    "test_runbooks.py",
    "test_emr_jobs.py",
    "test_dev_after_demo.py",
    "test_odd_records.py",
    "test_backfill_year.py",
    "test_spark_jobs.py",
    "test_calm.py",
    "test_emr_serverless.py",
    "test_spark_runner.py",
    "test_jobs_over_pipes.py",
    "test_history.py",
    "test_compaction_e2e.py",
    "test_ingestion_e2e.py",
    "test_classification_e2e.py",
    "test_silver_e2e.py",
    "test_silver.py",
    "test_gold.py",
    "test_silver_orders.py",
    "test_bronze_contracts.py",
)


def pytest_configure(config):
    """`make test` (pytest -n) dumps the JVM archive beside its workers."""
    if getattr(config.option, "numprocesses", None) and not hasattr(config, "workerinput"):
        # In a process of its own: the workers start meanwhile (a JVM started before the
        # archive is there runs without it).
        if not class_archive.archive_path(JVM_FLAGS).exists():
            subprocess.Popen(
                [sys.executable, "-m", class_archive.__name__, JVM_FLAGS],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )


@pytest.fixture(autouse=True)
def jvm_options():
    """The JVMs a test starts take the archive once it is there."""
    if OUR_JVM_OPTS:
        os.environ["SPARK_SUBMIT_OPTS"] = class_archive.options(JVM_FLAGS)


def pytest_collection_modifyitems(items):
    rank = {name: place for place, name in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable within a file


@pytest.fixture(autouse=True)
def no_dagster_home(monkeypatch):
    """Runs started by tests use ephemeral instances, never the developer's DAGSTER_HOME."""
    monkeypatch.delenv("DAGSTER_HOME", raising=False)


@pytest.fixture(scope="session")
def spark():
    from pyspark.sql import SparkSession

    from lake_assets.runtime.jobs import JOB_SESSION_CONF
    from lake_assets.runtime.python_workers import workers_on_this_python

    with workers_on_this_python():  # a pipeline's hooks run in Python workers
        session = (
            SparkSession.builder.master("local[2]")
            .appName("lakehouse-tests")
            .config("spark.sql.shuffle.partitions", "2")
            .config("spark.ui.enabled", "false")
            .config(map=JOB_SESSION_CONF)  # as every job's session is built
            .getOrCreate()
        )
    yield session
    session.stop()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def moto_server():
    """A real HTTP endpoint on 127.0.0.1 that boto3 talks to, as it would to AWS."""
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    aws_calls.start()
    previous = {k: os.environ.get(k) for k in _FAKE_CREDENTIALS}
    os.environ.update(_FAKE_CREDENTIALS)
    yield f"http://127.0.0.1:{port}"
    server.stop()
    for key, value in previous.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(autouse=True)
def aws_calls_in_recording():
    """A test fails when the code made an AWS call terraform/tests/aws_calls.json lacks."""
    yield
    aws_calls.check_test()


def pytest_sessionfinish(session, exitstatus):
    session.exitstatus = aws_calls.finish(exitstatus)


_FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "eu-west-1",
}


@pytest.fixture
def aws_endpoint(moto_server):
    """The moto endpoint with its state reset, so each test starts from an empty account."""
    import urllib.request

    urllib.request.urlopen(
        urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST")
    ).close()
    return moto_server


@pytest.fixture
def lake(tmp_path, spark):
    """A temporary local lake with the project's sources and no contracts."""
    from lake_harness import Lake

    return Lake(tmp_path / "lake")


@pytest.fixture
def local_lake(tmp_path, monkeypatch):
    """Settings and resources of a local lake under tmp_path, as `lake` would build them."""
    from lake_assets.settings import load_settings
    from resources import build_resources

    monkeypatch.setenv("LAKE_ROOT", str(tmp_path / "lake"))
    monkeypatch.delenv("LAKE_PROFILE", raising=False)
    settings = load_settings()
    return settings, build_resources(settings)


@pytest.fixture
def emr_lake(aws_endpoint, tmp_path):
    """A lake on the aws profile (moto) whose Spark jobs run on a fake EMR Serverless that
    executes what the runner submits (tests/emr_fake.py says how, and how to add a job's test)."""
    from emr_fake import EmrLake, FakeEmrServerless

    with FakeEmrServerless(aws_endpoint, tmp_path / "emr") as emr:
        yield EmrLake(emr, tmp_path)


# Debian's chromium, which `make test` installs (never a browser Playwright downloads), headless
# and without the background requests a closed network refuses.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} is missing (`make test` installs Debian's chromium with apt-get)")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="Playwright is missing (pip install -e '.[test]')"
    )
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()
