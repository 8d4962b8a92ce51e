"""Compaction: one partition of 10,000 small Parquet files compacted by the compaction service,
against a plain `spark.read.parquet(folder).write.parquet(out)` of the same files in the same
SparkSession. The target is <= 1.5 x.

The subject is `CompactionPass.compact` as the daily job runs it on each partition: list the
partition's files, record the start, rewrite (bin-packed to 128 MiB files), read the new
footers back to reconcile rows, write the manifest, switch the catalog pointer under the
optimistic check, record lineage and history. The baseline writes whatever files Spark's
default planning gives (4 MB open cost per file: about one output file per 32 inputs), and
checks nothing.

Then the partition before and after: the query cost model's estimate per query (ADR-0026) and
the measured time of one query reading it (alternated, median), through the same
`read_locations` readers use.

Setup, not timed: the payload (`--rows`) is landed, profiled and promoted into one partition,
whose rows are cut into FILES Parquet files with pyarrow and published as a sealed version,
once per timed round (each round compacts its own copy, under its own date) and once, smaller,
for the warm-up.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import asdict, replace
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from dagster import DagsterInstance
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from benchmarks.data import BENCH_DATA, EVENT_DAY, transactions_file
from benchmarks.lake import SOURCE, land_and_profile, local_lake, spark_session
from benchmarks.timing import MB, Runs, alternate, print_table, timed
from lake_assets.cli.runs import materialize_partitions, step_failures
from lake_assets.compaction.cost import Payback, compaction_cost, query_cost
from lake_assets.compaction.model import CompactionRecord
from lake_assets.compaction.policy import CompactionPolicy
from lake_assets.compaction.service import CompactionPass, compaction_pass
from lake_assets.ingestion.asset_keys import curated_key_of
from lake_assets.settings import SourceConfig
from lake_assets.tables.frames import read_locations
from resources.catalog import PublishedPartition

FILES = 10_000
WARM_UP_FILES = 500
REPEATS = 2
READ_REPEATS = 3
BASELINE, SUBJECT = "spark.read+write.parquet", "compaction"


def run(rows: int) -> str:
    payload = transactions_file(rows)
    print(f"\n[compaction] {FILES:,} files holding {rows:,} rows ({payload.name})", flush=True)
    spark = spark_session()
    try:
        with tempfile.TemporaryDirectory(dir=BENCH_DATA, prefix="compaction-") as root:
            root = Path(root)
            settings, resources = _promoted_lake(root, payload)
            promoted = resources["catalog"].current(SOURCE, EVENT_DAY.isoformat())
            rows_table = pq.read_table(settings.lake_root / promoted.location)
            days = [EVENT_DAY + timedelta(days=1 + n) for n in range(REPEATS + 1)]
            warm_up_day, *timed_days = days
            small = {
                day: _publish_small_files(
                    resources,
                    promoted,
                    rows_table,
                    day,
                    WARM_UP_FILES if day == warm_up_day else FILES,
                )
                for day in days
            }
            work = compaction_pass(
                settings, CompactionPolicy(), "bench", resources, progress=lambda message: None
            )
            source = settings.source(SOURCE)
            jobs = {
                BASELINE: lambda day, label: _plain_job(
                    spark, resources, small[day], root / "out" / str(label)
                ),
                SUBJECT: lambda day, label: _compact(work, source, small[day]),
            }
            for name, job in jobs.items():
                seconds, _ = timed(partial(job, warm_up_day, "warm-up"))
                print(f"  warm-up  {name:<24} {seconds:8.2f} s  ({WARM_UP_FILES} files, not timed)")
            runs = alternate(
                {name: (lambda n, job=job: job(timed_days[n], n)) for name, job in jobs.items()},
                REPEATS,
            )
            record: CompactionRecord = runs[SUBJECT].result
            compacted = resources["catalog"].current(SOURCE, record.partition)
            reads = alternate(
                {
                    f"before ({record.files_before:,} files)": partial(
                        _query, spark, resources, small[timed_days[-1]]
                    ),
                    f"after ({record.files_after} files)": partial(
                        _query, spark, resources, compacted
                    ),
                },
                READ_REPEATS,
            )
            summary = _report(runs, reads, record, work)
    finally:
        spark.stop()
    return summary


def _promoted_lake(root: Path, payload: Path):
    """A fresh local lake (no contracts) with the payload promoted into one partition."""
    (root / "contracts").mkdir()
    settings, resources = local_lake(root / "lake", LAKE_CONTRACTS_DIR=str(root / "contracts"))
    land_and_profile(resources, SOURCE, [(EVENT_DAY, payload)])
    seconds, result = timed(
        lambda: materialize_partitions(
            settings,
            [curated_key_of(SOURCE)],
            EVENT_DAY.isoformat(),
            resources=resources,
            instance=DagsterInstance.ephemeral(),
        )
    )
    if not result.success:
        raise RuntimeError(f"setup: promotion failed: {step_failures(result)}")
    print(f"  setup (not timed): promoted in {seconds:.1f} s")
    return settings, resources


def _publish_small_files(
    resources: dict, promoted: PublishedPartition, rows: pa.Table, day: date, files: int
) -> PublishedPartition:
    """The promoted rows cut into `files` Parquet files, published and sealed under `day`."""
    storage, catalog = resources["storage"], resources["catalog"]
    location = f"curated/{SOURCE}/run=small-{day}/_zone=published/event_date={day}/"
    folder = storage.root / location
    folder.mkdir(parents=True)
    per_file = -(-rows.num_rows // files)
    seconds, names = timed(
        lambda: [
            _write_slice(rows.slice(i * per_file, per_file), folder / f"part-{i:05d}.parquet")
            for i in range(files)
        ]
    )
    version = replace(
        promoted,
        partition=day.isoformat(),
        location=location,
        run_id=f"small-{day}",
        sealed_at=datetime.now(UTC).isoformat(),
    )
    inputs = json.loads(storage.get_bytes(promoted.location + "_manifest.json"))["inputs"]
    manifest = {
        **asdict(version),
        "files": names,
        "rows_quarantined": 0,
        "quarantine_location": None,
        "inputs": inputs,
    }
    storage.put_bytes(location + "_manifest.json", json.dumps(manifest).encode())
    catalog.publish(version)
    size = sum(p.stat().st_size for p in folder.glob("part-*"))
    print(
        f"  setup (not timed): {files:,} files, {size / MB:,.1f} MB under {day} in {seconds:.1f} s"
    )
    return version


def _write_slice(rows: pa.Table, path: Path) -> str:
    # Spark reads microsecond timestamps; pyarrow would write the nanoseconds it read.
    pq.write_table(rows, path, coerce_timestamps="us", allow_truncated_timestamps=True)
    return path.name


def _plain_job(spark: SparkSession, resources: dict, small: PublishedPartition, out: Path) -> int:
    """Files written."""
    spark.read.parquet(resources["storage"].uri(small.location)).write.parquet(out.as_uri())
    return len(list(out.glob("*.parquet")))


def _compact(work: CompactionPass, source: SourceConfig, small: PublishedPartition):
    current = work.catalog.current(SOURCE, small.partition)
    [candidate] = work.candidates([current], source, datetime.now(UTC).date())
    record = work.compact(candidate)
    if record.outcome != "compacted":
        raise RuntimeError(f"{small.partition}: compaction {record.outcome}: {record.reason}")
    return record


def _query(spark: SparkSession, resources: dict, version: PublishedPartition, _round: int):
    """A typical query of one partition, read as `read_published` reads it."""
    frame = read_locations(spark, [resources["storage"].uri(version.location)], version.columns)
    return frame.agg(F.count("*"), F.sum("amount"), F.countDistinct("customer_id")).collect()


def _report(
    runs: dict[str, Runs], reads: dict[str, Runs], record: CompactionRecord, work: CompactionPass
) -> str:
    prices = work.policy.prices
    ratio = runs[SUBJECT].median / runs[BASELINE].median
    mb = record.bytes_before / MB
    print_table(
        "Compaction of one partition (median of alternated runs, one warm SparkSession)",
        ["job", "median s", "MB/s", "runs s", "files in", "files out"],
        [
            [BASELINE, runs[BASELINE].median, mb / runs[BASELINE].median,
             runs[BASELINE].spread(), record.files_before, runs[BASELINE].result],
            [SUBJECT, runs[SUBJECT].median, mb / runs[SUBJECT].median,
             runs[SUBJECT].spread(), record.files_before, record.files_after],
        ],
    )  # fmt: skip
    before = query_cost(record.files_before, record.bytes_before, prices)
    after = query_cost(record.files_after, record.bytes_after, prices)
    result = Payback(
        before,
        after,
        compaction_cost(record.files_before, record.files_after, runs[SUBJECT].median, prices),
    )
    print_table(
        "Query cost model, one query reading the partition (USD)",
        ["partition", "files", "MB", "scan", "GET requests", "opens", "total"],
        [
            ["before", record.files_before, mb, f"{before.scan:.6f}", f"{before.requests:.6f}",
             f"{before.opens:.6f}", f"{before.total:.6f}"],
            ["after", record.files_after, record.bytes_after / MB, f"{after.scan:.6f}",
             f"{after.requests:.6f}", f"{after.opens:.6f}", f"{after.total:.6f}"],
        ],
    )  # fmt: skip
    days = result.payback_days(prices.queries_per_day)
    billed = replace(prices, open_cost_mib=0)
    billed_result = Payback(
        query_cost(record.files_before, record.bytes_before, billed),
        query_cost(record.files_after, record.bytes_after, billed),
        result.cost,
    )
    print(
        f"  compaction cost {result.cost:.6f} USD ({runs[SUBJECT].median:.1f} s of "
        f"{prices.vcpus} vCPU, {prices.memory_gb:g} GB at EMR Serverless prices); break-even "
        f"after {result.break_even_queries or float('nan'):.3g} queries, "
        f"{days or float('nan'):.3g} days at {prices.queries_per_day:g} queries/day; on billed "
        f"dollars alone (no open cost) after {billed_result.break_even_queries or float('nan'):.3g}"
        " queries"
    )
    names = list(reads)
    print_table(
        "Measured read of the partition (count, sum, count distinct; median)",
        ["partition", "median s", "runs s"],
        [[name, reads[name].median, reads[name].spread()] for name in names],
    )
    read_before, read_after = (reads[name].median for name in names)
    return (
        f"compaction: {ratio:.2f} x plain Spark read+write of {record.files_before:,} files "
        f"(target <= 1.5), {record.files_before:,} -> {record.files_after} files; query "
        f"{read_before:.2f} s -> {read_after:.2f} s measured, {before.total:.5f} -> "
        f"{after.total:.5f} USD modelled, payback {days or float('nan'):.3g} days"
    )
