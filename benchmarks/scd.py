"""The bi-temporal SCD2 merge against a plain Spark SQL full-outer-join SCD2 of the same data.

History: `--rows` rows (1,000,000 by default), VERSIONS per customer (VERSIONS - 1 closed and one
open). Snapshot: one row per customer (100,000 by default), every CHANGED_EVERY-th changed,
every DELETED_EVERY-th missing, and NEW new customers.

The subject is `merge_history` as `history/<source>` runs it for a daily append: the window pass
over seeds and snapshot rows, the version-identity diff against the current belief and the
union with the untouched history, written as Parquet. The baseline is the textbook SCD2 in
Spark SQL: open rows FULL OUTER JOIN the snapshot on the key, compare a hash of the attributes,
close changed and deleted rows, open changed and new ones, union the closed history, write. It
tracks no transaction time, so it cannot answer "what did we believe at Y"; the ratio is what
bi-temporality, reinstatement detection and same-day ordering cost. Target: <= 2.

Both write the full new history, and must agree on the resulting current view: the same open
versions per key with the same content.
"""

from __future__ import annotations

import tempfile
from datetime import date
from functools import partial
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from benchmarks.lake import spark_session
from benchmarks.timing import alternate, print_table, timed
from lake_assets.history.merge import HistorySpec, merge_history

VERSIONS = 10
CHANGED_EVERY, DELETED_EVERY, NEW = 10, 100, 1_000
REPEATS = 3
SNAPSHOT_DATE = "2026-03-02"
SPEC = HistorySpec(
    keys=("customer_id",), tracked=("segment", "risk_score", "email"), carried=(), sequence=None
)
SUBJECT, BASELINE = "bi-temporal merge", "full-outer-join SCD2"


def _history(spark: SparkSession, keys: int) -> DataFrame:
    """keys x VERSIONS rows of current belief: version v of key k valid [day v*7, day (v+1)*7)."""
    first = date(2025, 9, 1)
    rows = spark.range(keys * VERSIONS).select(
        (F.col("id") % keys).alias("k"), (F.col("id") / keys).cast("int").alias("v")
    )
    last = F.col("v") == VERSIONS - 1
    frame = rows.select(
        F.format_string("C%07d", "k").alias("customer_id"),
        F.when(F.col("v") % 2 == 0, "retail").otherwise("premier").alias("segment"),
        ((F.col("k") + F.col("v")) % 99 + 1).cast("bigint").alias("risk_score"),
        F.format_string("c%d@example.my", "k").alias("email"),
        F.date_add(F.lit(first), (F.col("v") * 7).cast("int")).alias("valid_from"),
        F.when(last, F.lit(None).cast("date"))
        .otherwise(F.date_add(F.lit(first), ((F.col("v") + 1) * 7).cast("int")))
        .alias("valid_to"),
        F.lit("seed/1").alias("recorded_by"),
        F.lit(None).cast("string").alias("superseded_by"),
        F.when(F.col("v") == 0, "insert").otherwise("update").alias("opened_by"),
        F.when(last, F.lit(None).cast("string")).otherwise("update").alias("closed_by"),
    )
    return frame.withColumn(
        "row_hash",
        F.sha2(F.to_json(F.struct(*[F.col(c) for c in sorted(SPEC.tracked)])), 256),
    )


def _snapshot(spark: SparkSession, keys: int) -> DataFrame:
    ids = spark.range(keys + NEW).where(
        (F.col("id") >= keys) | (F.col("id") % DELETED_EVERY != DELETED_EVERY - 1)
    )
    changed = F.col("id") % CHANGED_EVERY == 0
    return ids.select(
        F.format_string("C%07d", "id").alias("customer_id"),
        F.when(changed, "private").otherwise("premier").alias("segment"),
        ((F.col("id") + VERSIONS - 1) % 99 + 1).cast("bigint").alias("risk_score"),
        F.format_string("c%d@example.my", "id").alias("email"),
        F.lit(SNAPSHOT_DATE).cast("date").alias("event_date"),
    )


def _subject(spark: SparkSession, history: str, snapshot: str, out: Path, round_number) -> None:
    merge = merge_history(
        spark.read.parquet(history),
        spark.read.parquet(snapshot),
        [SNAPSHOT_DATE],
        SPEC,
        "benchmark/1",
    )
    merge.frame.write.parquet(str(out / f"subject-{round_number}"))


def _baseline(spark: SparkSession, history: str, snapshot: str, out: Path, round_number) -> None:
    spark.read.parquet(history).createOrReplaceTempView("history")
    spark.read.parquet(snapshot).createOrReplaceTempView("snapshot")
    frame = spark.sql(
        f"""
        WITH snap AS (
          SELECT *, sha2(to_json(named_struct('email', email, 'risk_score', risk_score,
                 'segment', segment)), 256) AS row_hash FROM snapshot),
        open AS (SELECT * FROM history WHERE valid_to IS NULL),
        joined AS (
          SELECT o.customer_id AS o_id, o.segment AS o_segment, o.risk_score AS o_risk,
                 o.email AS o_email, o.valid_from AS o_from, o.row_hash AS o_hash,
                 s.customer_id AS s_id, s.segment AS s_segment, s.risk_score AS s_risk,
                 s.email AS s_email, s.row_hash AS s_hash
          FROM open o FULL OUTER JOIN snap s ON o.customer_id = s.customer_id)
        SELECT customer_id, segment, risk_score, email, valid_from, valid_to, row_hash
          FROM history WHERE valid_to IS NOT NULL
        UNION ALL  -- unchanged open rows stay open; changed and deleted ones are closed
        SELECT o_id, o_segment, o_risk, o_email, o_from,
               CASE WHEN s_id IS NULL OR s_hash <> o_hash THEN DATE'{SNAPSHOT_DATE}' END, o_hash
          FROM joined WHERE o_id IS NOT NULL
        UNION ALL  -- new and changed keys open a version
        SELECT s_id, s_segment, s_risk, s_email, DATE'{SNAPSHOT_DATE}', CAST(NULL AS DATE), s_hash
          FROM joined WHERE s_id IS NOT NULL AND (o_id IS NULL OR s_hash <> o_hash)
        """
    )
    frame.write.parquet(str(out / f"baseline-{round_number}"))


def _open_versions(spark: SparkSession, path: str, current_only: bool) -> DataFrame:
    frame = spark.read.parquet(path).where(F.col("valid_to").isNull())
    if current_only:
        frame = frame.where(F.col("superseded_by").isNull())
    return frame.select("customer_id", "segment", "risk_score", "email", "valid_from")


def run(rows: int) -> str:
    keys = rows // VERSIONS
    print(f"\n[scd] {keys * VERSIONS:,}-row history, {keys + NEW:,}-row snapshot", flush=True)
    spark = spark_session()
    with tempfile.TemporaryDirectory(prefix="bench-scd-") as folder:
        out = Path(folder)
        history, snapshot = str(out / "history"), str(out / "snapshot")
        setup, _ = timed(
            lambda: (
                _history(spark, keys).write.parquet(history),
                _snapshot(spark, keys).write.parquet(snapshot),
            )
        )
        print(f"  setup (not timed): wrote history and snapshot in {setup:.1f} s")
        jobs = {
            BASELINE: partial(_baseline, spark, history, snapshot, out),
            SUBJECT: partial(_subject, spark, history, snapshot, out),
        }
        for name, job in jobs.items():
            seconds, _ = timed(partial(job, "warm-up"))
            print(f"  warm-up  {name:<24} {seconds:8.2f} s  (not timed)")
        runs = alternate(jobs, REPEATS)
        subject_open = _open_versions(spark, str(out / "subject-0"), current_only=True)
        baseline_open = _open_versions(spark, str(out / "baseline-0"), current_only=False)
        differ = (
            subject_open.exceptAll(baseline_open).count()
            + baseline_open.exceptAll(subject_open).count()
        )
        open_rows = subject_open.count()
        written = {
            name: spark.read.parquet(str(out / f"{prefix}-0")).count()
            for name, prefix in ((BASELINE, "baseline"), (SUBJECT, "subject"))
        }
    spark.stop()
    ratio = runs[SUBJECT].median / runs[BASELINE].median
    print_table(
        "SCD2 merge, median of alternating runs",
        ["case", "median s", "rows written", "runs (s)"],
        [
            [BASELINE, runs[BASELINE].median, written[BASELINE], runs[BASELINE].spread()],
            [SUBJECT, runs[SUBJECT].median, written[SUBJECT], runs[SUBJECT].spread()],
        ],
    )
    agreement = "current views match" if differ == 0 else f"{differ} OPEN VERSIONS DIFFER"
    return (
        f"scd: {ratio:.2f} x full-outer-join SCD2 (target <= 2); {keys * VERSIONS:,}-row "
        f"history + {keys + NEW:,}-row snapshot, {open_rows:,} open versions, {agreement}"
    )
