"""`lake scd as-of` on the local profile answers from the history's Parquet files with pyarrow,
without Spark, and gives the rows the `history_as_of` job gives (what the aws profile runs);
every instant is read and printed by one rule (lake_assets/instants.py): naive is UTC, printed
ISO 8601 with +00:00, whatever the machine's time zone."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from functools import partial
from types import SimpleNamespace

import pytest
from lake_harness import Lake, failure_message
from test_cli_messages import RUN_ENDED, mark_the_run_end
from test_history_e2e import MON, TUE, WED, apply, land

from lake_assets.cli.main import main
from lake_assets.history.apply import (
    WHOLE_TABLE,
    as_of_plan,
    current_history,
    history_as_of,
    history_dataset,
)
from lake_assets.history.cli import cmd_scd_as_of, snapshot_outcome
from lake_assets.history.merge import as_of
from lake_assets.history.point_query import as_of_rows
from lake_assets.instants import format_instant, parse_instant
from lake_assets.runtime.jobs import run_job
from lake_assets.settings import REPO_ROOT

AFTER_EVERYTHING = "2999-01-01T00:00:00+00:00"


@pytest.fixture(scope="module")
def history(tmp_path_factory, spark):
    """Monday and Tuesday applied, then Monday corrected: rows superseded and recorded later."""
    lake = Lake(tmp_path_factory.mktemp("history") / "lake")
    land(lake, MON, {"C00001": "retail", "C00002": "sme"})
    land(lake, TUE, {"C00001": "premier", "C00002": "sme"})
    assert apply(lake, MON, TUE).success
    first = lake.catalog.current(history_dataset("customers"), WHOLE_TABLE).published_at
    land(lake, MON, {"C00001": "private", "C00002": "sme"}, name="customers_fixed.csv")
    corrected = apply(lake, MON)
    assert corrected.success, failure_message(corrected)
    return SimpleNamespace(lake=lake, first_commit=parse_instant(first))


def _cli(history, monkeypatch, capsys, *argv: str, runner=None) -> tuple[int, str, str]:
    """`lake ARGV` on the history's lake; the Spark runner refuses to run unless given."""
    lake = history.lake
    for name, value in lake.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(
        "lake_assets.cli.main._resources",
        lambda settings: {**lake.resources, "spark_runner": runner or NoSpark()},
    )
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


class NoSpark:
    def bound(self, *args):
        raise AssertionError("the local profile answers a point query without Spark")


class JobRunner:
    """The runner of the aws profile, running its jobs on the test session."""

    def __init__(self, spark):
        self.spark, self.jobs, self.charged = spark, [], []

    def run_standalone(self, job: str, plan: dict, charge=None) -> dict:
        self.jobs.append(job)
        self.charged.append((charge.dataset, charge.owner) if charge else None)
        return run_job(self.spark, job, plan)


def test_point_queries_read_the_files_with_pyarrow_and_answer_as_the_job_does(history, spark):
    lake, source = history.lake, history.lake.settings.source("customers")
    before_correction = history.first_commit + timedelta(microseconds=1)
    cases = [
        (MON, AFTER_EVERYTHING, {}),  # the correction believed
        (MON, before_correction, {}),  # the first belief, superseded since
        (TUE, AFTER_EVERYTHING, {"customer_id": "C00001"}),
        (WED, "2000-01-01", {}),  # before anything was recorded
    ]
    for valid_at, known_at, keys in cases:
        plan = as_of_plan(lake.catalog, lake.storage, source, valid_at, known_at, keys)
        run = partial(run_job, spark)
        by_job = history_as_of(run, lake.catalog, lake.storage, source, valid_at, known_at, keys)
        assert as_of_rows(plan) == by_job, (valid_at, known_at, keys)
    # The cases differ, so the comparison compared something.
    now = as_of_plan(lake.catalog, lake.storage, source, MON, AFTER_EVERYTHING)
    then = as_of_plan(lake.catalog, lake.storage, source, MON, before_correction)
    assert [r["segment"] for r in as_of_rows(now)] == ["private", "sme"]
    assert [r["segment"] for r in as_of_rows(then)] == ["retail", "sme"]
    assert as_of_rows(then)[0]["superseded_at"].endswith("+00:00")


def test_lake_scd_as_of_answers_locally_without_spark_and_on_aws_through_the_job(
    history, spark, monkeypatch, capsys
):
    argv = ("scd", "as-of", "customers", "--valid-at", MON, "--known-at", AFTER_EVERYTHING)
    code, local, _ = _cli(history, monkeypatch, capsys, *argv)  # NoSpark: fails if Spark runs
    assert code == 0 and "2 rows" in local and "\tprivate\t" in local

    # The aws profile runs the registered job on the runner, with the same answer.
    lake, runner = history.lake, JobRunner(spark)
    args = SimpleNamespace(
        dataset="customers",
        valid_at=parse_instant(MON).date(),
        known_at=parse_instant(AFTER_EVERYTHING),
        key=[],
    )
    on_aws = dataclasses.replace(lake.settings, profile="aws")
    assert cmd_scd_as_of(args, on_aws, lambda s: {**lake.resources, "spark_runner": runner}) == 0
    captured = capsys.readouterr()
    assert runner.jobs == ["history_as_of"]
    # Charged to the history it read, and to its source's team (the cost of a `lake` command).
    assert runner.charged == [("customers_history", lake.settings.source("customers").asset_owner)]
    assert captured.out == local
    assert "running the history_as_of job" in captured.err  # a long command says so


# Runs `lake` commands in a fresh interpreter, then says which of Dagster and PySpark they loaded.
COMMANDS_THEN_MODULES = """
import json, sys
from lake_assets.cli.main import main
codes = [main(argv) for argv in json.loads(sys.argv[1])]
print(json.dumps([codes, sorted(m for m in sys.modules if m.split(".")[0] in ("dagster", "pyspark"))]))
"""


def test_a_point_query_and_a_trace_import_neither_dagster_nor_pyspark(history, monkeypatch, capsys):
    commands = [
        ["scd", "as-of", "customers", "--valid-at", MON, "--known-at", AFTER_EVERYTHING],
        ["lineage", "trace", f"customers[{MON}]"],
    ]
    in_process = "".join(_cli(history, monkeypatch, capsys, *argv)[1] for argv in commands)

    env = {**os.environ, **history.lake.env, "PYTHONPATH": str(REPO_ROOT)}
    alone = subprocess.run(
        [sys.executable, "-c", COMMANDS_THEN_MODULES, json.dumps(commands)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )

    assert alone.returncode == 0, alone.stderr
    *answers, last = alone.stdout.splitlines(keepends=True)
    assert json.loads(last) == [[0, 0], []]  # both answered, and loaded neither
    assert "".join(answers) == in_process  # the same answers as a run that has Dagster loaded
    assert "2 rows" in in_process and "<- run" in in_process


def test_an_apply_of_several_snapshots_prints_each_while_the_run_goes_on(
    history, monkeypatch, capsys
):
    mark_the_run_end(monkeypatch)
    code, out, _ = _cli(history, monkeypatch, capsys, "scd", "apply", "customers",
                        "--date", MON, "--to", TUE)  # fmt: skip
    assert code == 0, out
    # Both were applied by the fixture: the run looks, records each date, changes nothing.
    assert out.splitlines() == [
        f"customers: applying {MON}..{TUE} (2 snapshots, one run)",
        f"[1/2] customers {MON}: nothing to apply",
        f"[2/2] customers {TUE}: nothing to apply",
        RUN_ENDED,
        f"customers_history: nothing to apply (unchanged: {MON}, {TUE})",
    ]
    assert [snapshot_outcome(d, {"appended": [TUE], "corrected": [MON]}) for d in (MON, TUE)] == [
        "applied (a correction)",
        "applied (new)",
    ]


def test_known_at_that_is_not_a_time_is_refused_naming_the_flag_and_the_value(
    history, monkeypatch, capsys
):
    with pytest.raises(SystemExit) as refused:
        _cli(history, monkeypatch, capsys, "scd", "as-of", "customers", "--valid-at", MON,
             "--known-at", "yesterday")  # fmt: skip
    assert refused.value.code != 0
    err = capsys.readouterr().err
    assert "--known-at" in err and "'yesterday' is not a time" in err


def test_instants_are_printed_with_their_offset_and_naive_ones_read_as_utc(
    history, monkeypatch, capsys
):
    lake = history.lake
    commit = history.first_commit
    naive = (commit + timedelta(seconds=1)).replace(tzinfo=None).isoformat()
    argv = ["scd", "as-of", "customers", "--valid-at", TUE, "--key", "C00001", "--known-at"]
    code, as_utc, _ = _cli(history, monkeypatch, capsys, *argv, naive)
    assert code == 0 and "1 rows" in as_utc
    _, with_offset, _ = _cli(history, monkeypatch, capsys, *argv, naive + "+00:00")
    assert with_offset == as_utc
    # The header and every instant carry the offset, in UTC.
    header, _, row = as_utc.splitlines()
    assert header.endswith(f"as known at {format_instant(naive)}: 1 rows")
    recorded_at = row.split("\t")[-4]
    assert recorded_at == format_instant(commit) and recorded_at.endswith("+00:00")

    # The same command on a machine in another time zone prints the same.
    env = {**os.environ, **lake.env, "TZ": "Asia/Kuala_Lumpur", "PYTHONPATH": str(REPO_ROOT)}
    elsewhere = subprocess.run(
        [sys.executable, "-m", "lake_assets.cli", *argv, naive],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert elsewhere.returncode == 0, elsewhere.stderr
    assert elsewhere.stdout == as_utc


def test_the_python_api_reads_a_naive_datetime_as_the_same_text(history, spark, monkeypatch):
    lake, source = history.lake, history.lake.settings.source("customers")
    # Known an hour after the first commit, said without an offset: UTC, not the machine's zone
    # (in Kuala Lumpur, read as local time, it would be seven hours before the commit).
    naive = (history.first_commit + timedelta(hours=1)).replace(tzinfo=None)
    monkeypatch.setenv("TZ", "Asia/Kuala_Lumpur")
    time.tzset()
    try:
        run = partial(run_job, spark)
        args = (lake.catalog, lake.storage, source, TUE)
        assert history_as_of(run, *args, naive) == history_as_of(run, *args, naive.isoformat())
        assert [r["segment"] for r in history_as_of(run, *args, naive)] == ["premier", "sme"]
        frame = current_history(spark, lake.catalog, lake.storage, "customers")
        assert as_of(frame, TUE, naive).count() == as_of(frame, TUE, naive.isoformat()).count() == 2
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_one_rule_for_instants():
    utc = datetime(2026, 3, 5, 12, tzinfo=UTC)
    assert parse_instant("2026-03-05T12:00") == parse_instant(datetime(2026, 3, 5, 12)) == utc
    assert parse_instant("2026-03-05T20:00+08:00") == utc
    assert parse_instant("2026-03-05") == utc.replace(hour=0)
    assert format_instant("2026-03-05T20:00+08:00") == "2026-03-05T12:00:00+00:00"
    for word in ("yesterday", "", "now"):
        with pytest.raises(ValueError, match="is not a time"):
            parse_instant(word)
