"""The compaction job: a partition's Parquet files rewritten as files of about a target size.

Spark's file planner already bin-packs: it sorts a scan's files largest first and fills read
splits of at most spark.sql.files.maxPartitionBytes, so with that set to the target and no
shuffle, each split becomes one output file near the target (ADR-0025). Rows are copied as
they are, every column included, internal ones too; a schema migration casts the catalog's
columns to the current types on the way (ADR-0027). Dagster-free, like the promotion job: the
registered job `compaction_rewrite` (lake_assets/runtime/jobs.py) runs it on a JSON plan wherever
the Spark runner puts it, and the orchestrator audits and publishes (service.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from lake_assets.tables.frames import conformed, empty_frame


@dataclass(frozen=True)
class Rewritten:
    """What the job wrote: rows per file, read back from the Parquet footers."""

    files: dict[str, int]

    @property
    def rows(self) -> int:
        return sum(self.files.values())


def packing_session(spark: SparkSession, target_file_bytes: int) -> SparkSession:
    """A session of its own (same SparkContext, separate SQL settings), so the packing settings
    never reach jobs running beside it in the shared session."""
    session = spark.newSession()
    session.conf.set("spark.sql.files.maxPartitionBytes", str(target_file_bytes))
    # No cost per file opened: the planner otherwise counts 4 MB for each, and a split of
    # small files would close after 32 of them, far below the target.
    session.conf.set("spark.sql.files.openCostInBytes", "0")
    # Otherwise a partition smaller than the target is still cut into one split per core.
    session.conf.set("spark.sql.files.minPartitionNum", "1")
    return session


def rewrite(
    spark: SparkSession,
    source_uris: Sequence[str],
    target_uri: str,
    target_file_bytes: int,
    columns: Mapping[str, str] | None = None,
) -> Rewritten:
    """Bin-pack the data files `source_uris` (a version's, as its manifest lists them) into new
    files under `target_uri`.

    With `columns` (column -> field type), the rewrite is a schema migration: those columns
    are cast to their types, a column the files lack is added as nulls, the rest (internal
    columns) copied as they are. A partition with no data file (no `source_uris`) gets one
    file of no rows with those columns (ADR-0027).
    """
    session = packing_session(spark, target_file_bytes)
    if not source_uris:
        if columns is None:
            raise ValueError("a rewrite without source files needs the columns to write")
        frame = empty_frame(session, dict(columns))
    else:
        frame = session.read.parquet(*source_uris)
    if columns is not None:
        frame = conformed(frame, columns)
    frame.write.mode("error").parquet(target_uri)
    written = session.read.parquet(target_uri)
    per_file = dict(written.groupBy(F.col("_metadata.file_name").alias("file")).count().collect())
    # Listed, not only counted: a file of no rows is still a file of the version.
    names = (uri.rsplit("/", 1)[-1] for uri in written.inputFiles())
    return Rewritten({name: per_file.get(name, 0) for name in names})


def rewrite_job(spark: SparkSession, plan: dict) -> dict:
    """The registered Spark job `compaction_rewrite`: `rewrite` on a JSON plan (`source_uris`,
    `target_uri`, `target_file_bytes`, optional `columns`); the result is the rows per written
    file (`files`: name -> rows)."""
    written = rewrite(
        spark,
        plan["source_uris"],
        plan["target_uri"],
        plan["target_file_bytes"],
        plan.get("columns"),
    )
    return {"files": written.files}
