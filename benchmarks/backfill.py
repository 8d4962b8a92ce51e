"""Backfill: a year of daily partitions materialized as one Dagster run (the curated asset's
single-run BackfillPolicy) against one run of a single day, on small data.

A backfill over a year could be 365 daily runs; the single run pays Dagster's run overhead and
Spark's job scheduling once and reads every day's files in one pass. Its baseline is a
single-partition run timed in the same process, alternated with the year run (median of
REPEATS each), so year run / (DAYS x one-day run) is what the single run costs relative to
running the days one by one: below 1 is a saving. Both go through
`lake_assets.cli.runs.materialize_partitions`, as `lake promote` does, on a fresh local lake without
contracts, with the session the local profile's LocalSparkRunner creates. One untimed run of
another day first pays for Spark's start-up, JIT and codegen. The catalog must end with DAYS
partitions of DAYS x ROWS_PER_DAY rows in all.

Setup, not timed: one small JSON-lines file per day (ROWS_PER_DAY transactions, each happening
on its ingest date), landed and profiled as the arrival sensor would.
"""

from __future__ import annotations

import tempfile
import warnings
from datetime import date, timedelta
from functools import partial
from pathlib import Path

from dagster import BetaWarning, DagsterInstance
from pyspark.sql import SparkSession

from benchmarks.data import BENCH_DATA, daily_files
from benchmarks.lake import SOURCE, land_and_profile, local_lake
from benchmarks.timing import Runs, alternate, print_table, timed
from lake_assets.cli.runs import materialize_partitions, step_failures
from lake_assets.ingestion.asset_keys import curated_key_of

FIRST_DAY = date(2025, 1, 1)
DAYS = 365
ROWS_PER_DAY = 20
REPEATS = 2
LAST_DAY = FIRST_DAY + timedelta(days=DAYS - 1)
ONE_DAY = FIRST_DAY + timedelta(days=DAYS // 2)  # the baseline's day, mid-year
WARM_UP_DAY = FIRST_DAY  # republished by the year run, as any backfill would
BASELINE, SUBJECT = "one day", f"{DAYS} days, one run"


def run(rows: int) -> str:  # noqa: ARG001 - the payload size is fixed: many days, few rows
    print(f"\n[backfill] {DAYS} daily partitions of {ROWS_PER_DAY} rows", flush=True)
    with tempfile.TemporaryDirectory(dir=BENCH_DATA, prefix="backfill-") as root:
        root = Path(root)
        (root / "contracts").mkdir()  # none: this measures the run, not the rules
        settings, resources = local_lake(root / "lake", LAKE_CONTRACTS_DIR=str(root / "contracts"))
        payloads = daily_files(root / "payloads", FIRST_DAY, DAYS, ROWS_PER_DAY)
        land_and_profile(resources, SOURCE, payloads)
        materialize = partial(_materialize, settings, resources)  # (first, last) -> result
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", BetaWarning)  # BackfillPolicy; `lake` hides it too
                seconds, _ = timed(lambda: materialize(WARM_UP_DAY, WARM_UP_DAY))
                print(f"  warm-up  {f'one day ({WARM_UP_DAY})':<24} {seconds:8.2f} s  (not timed)")
                runs = alternate(
                    {
                        BASELINE: lambda _: materialize(ONE_DAY, ONE_DAY),
                        SUBJECT: lambda _: materialize(FIRST_DAY, LAST_DAY),
                    },
                    REPEATS,
                )
        finally:
            session = SparkSession.getActiveSession()  # the one LocalSparkRunner created
            if session is not None:
                session.stop()
        published = resources["catalog"].partitions(SOURCE)
    rows_published = sum(p.row_count for p in published)
    _report(runs, len(published), rows_published)
    year, day = runs[SUBJECT].median, runs[BASELINE].median
    return (
        f"backfill: {DAYS} partitions in one run {year:.1f} s ({year / DAYS:.3f} s/partition) "
        f"= {year / (DAYS * day):.3f} x {DAYS} one-day runs of {day:.2f} s; catalog "
        f"{len(published)} partitions, {rows_published:,} rows "
        f"(expected {DAYS}, {DAYS * ROWS_PER_DAY:,})"
    )


def _materialize(settings, resources, first: date, last: date):
    result = materialize_partitions(
        settings,
        [curated_key_of(SOURCE)],
        first.isoformat(),
        last.isoformat(),
        resources=resources,
        instance=DagsterInstance.ephemeral(),
    )
    if not result.success:
        raise RuntimeError(f"run {first}..{last} failed: {'; '.join(step_failures(result))}")
    return result


def _report(runs: dict[str, Runs], partitions: int, rows: int) -> None:
    days = {BASELINE: 1, SUBJECT: DAYS}
    print_table(
        "Backfill (one Dagster run each, one process)",
        ["run", "partitions", "median s", "s/partition", "runs s"],
        [
            [name, days[name], r.median, r.median / days[name], r.spread()]
            for name, r in runs.items()
        ],
    )
    expected = (DAYS, DAYS * ROWS_PER_DAY)
    verdict = "as expected" if (partitions, rows) == expected else f"EXPECTED {expected}"
    print(f"  catalog: {partitions} partitions published, {rows:,} rows ({verdict})")
