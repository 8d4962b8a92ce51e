"""The history's Spark jobs (registered in lake_assets/runtime/jobs.py): what runs wherever the
runner puts it (in-process, a Pipes subprocess, EMR Serverless) on a JSON plan the orchestrator
made (apply.py, queries.py), returning a JSON result. Nothing here touches the catalog or any
store: the plan names every file to read, as URIs, and the folder to write.

- `history_apply`: merge the planned snapshots into the current history, write the new version
  into the run folder, and report its counts, files, columns, ambiguity and interval check.
- `history_as_of`: what was true on a date as known at a time, as rows written to the run
  folder the plan names.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from lake_assets.history.columns import RECORDED_AT, RECORDED_BY, SUPERSEDED_AT, SUPERSEDED_BY
from lake_assets.history.merge import (
    HistorySpec,
    as_of,
    merge_history,
    overlapping_versions,
)
from lake_assets.runtime.rows import write_rows
from lake_assets.tables.frames import PARTITION, read_resolved
from lake_assets.tables.types import field_type_of_spark

# How many examples of an ambiguous key the apply reports.
AMBIGUITY_EXAMPLES = 5


def history_apply(spark: SparkSession, plan: dict) -> dict:
    """Merge the snapshots of `plan["dates"]` (resolved, `plan["snapshots"]`) into the stored
    history (`plan["history"]`: the current version's files, or None for a first apply) as the
    apply `plan["transaction"]`, and write the new version to `plan["output_uri"]`.

    An ambiguous snapshot (several rows of one key that no sequence orders) is reported with
    examples and nothing else: the orchestrator refuses it and removes the folder.
    """
    spec = HistorySpec.from_dict(plan["spec"])
    snapshots = read_resolved(spark, plan["snapshots"])
    history = spark.read.parquet(*plan["history"]) if plan["history"] else None
    merge = merge_history(history, snapshots, plan["dates"], spec, plan["transaction"])
    merge.frame.write.mode("error").parquet(plan["output_uri"])
    ambiguous = merge.ambiguity.get["rows"]
    if ambiguous:
        # A sequence field tells a key's rows apart: the examples are the rows it cannot.
        told_by = (*spec.keys, spec.sequence) if spec.sequence else spec.keys
        return {
            "counts": merge.counts.get,
            "ambiguous": {"rows": ambiguous, "examples": _duplicated_keys(snapshots, told_by)},
        }
    # Read back as every reader will: the version's files, checked as stored.
    written = spark.read.parquet(plan["output_uri"])
    return {
        "counts": merge.counts.get,
        "ambiguous": {"rows": 0, "examples": []},
        "files": sorted(uri.rsplit("/", 1)[-1] for uri in written.inputFiles()),
        "columns": {c: field_type_of_spark(t) for c, t in merge.frame.dtypes},
        "overlapping_versions": overlapping_versions(written, spec.keys, SUPERSEDED_BY),
    }


def history_as_of(spark: SparkSession, plan: dict) -> dict:
    """The rows true on `plan["valid_at"]` as known at `plan["known_at"]`, narrowed to
    `plan["keys"]` (column -> value), ordered by `plan["order_by"]`, internal columns left out,
    written to `plan["output_uri"]`: they grow with the history, so they do not travel in the
    result (runtime/rows.py: the orchestrator reads them back as JSON values)."""
    history = read_history(spark, plan["history"])
    rows = as_of(history, plan["valid_at"], plan["known_at"], plan["keys"])
    shown = [c for c in rows.columns if c != "row_hash" and not c.startswith("_")]
    return write_rows(rows.select(*shown).orderBy(*plan["order_by"]), plan["output_uri"])


def read_history(spark: SparkSession, resolved: dict) -> DataFrame:
    """A committed history version as apply.resolve_history resolved it (its files and the
    commit instants of the applies its rows name), with transaction times."""
    stored = spark.read.parquet(*resolved["uris"])
    return with_transaction_times(stored, resolved["instants"])


def with_transaction_times(frame: DataFrame, instants: dict[str, str]) -> DataFrame:
    """The stored history with `recorded_by`/`superseded_by` resolved to `recorded_at`/
    `superseded_at`, in their place."""
    # One map from two array literals: a history of years of applies costs no more JVM calls.
    times = F.map_from_arrays(
        F.lit(list(instants)).cast("array<string>"),
        F.lit(list(instants.values())).cast("array<string>"),
    )

    def instant(column: str) -> Column:
        return F.when(F.col(column).isNotNull(), times[F.col(column)]).cast("timestamp")

    resolved = {RECORDED_BY: RECORDED_AT, SUPERSEDED_BY: SUPERSEDED_AT}
    return frame.select(
        *[instant(c).alias(resolved[c]) if c in resolved else F.col(c) for c in frame.columns]
    )


def _duplicated_keys(snapshots: DataFrame, keys: tuple[str, ...]) -> list[dict]:
    """The first keys that occur more than once in one snapshot: date, key values, rows."""
    duplicated = (
        snapshots.groupBy(PARTITION, *keys)
        .count()
        .where(F.col("count") > 1)
        .orderBy(PARTITION, *keys)
        .limit(AMBIGUITY_EXAMPLES)
        .collect()
    )
    return [
        {"date": str(r[PARTITION]), "key": {k: str(r[k]) for k in keys}, "rows": r["count"]}
        for r in duplicated
    ]
