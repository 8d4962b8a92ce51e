"""The compaction job: a partition's Parquet files rewritten as files of about a target size.

Spark's file planner already bin-packs: it sorts a scan's files largest first and fills read
splits of at most spark.sql.files.maxPartitionBytes, so with that set to the target and no
shuffle, each split becomes one output file near the target (ADR-0025). Rows are copied as
they are, every column included, internal ones too. Dagster-free, like the promotion job.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import SparkSession
from pyspark.sql import functions as F


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
    spark: SparkSession, source_uri: str, target_uri: str, target_file_bytes: int
) -> Rewritten:
    """Bin-pack the data files of the folder `source_uri` into new files under `target_uri`."""
    session = packing_session(spark, target_file_bytes)
    session.read.parquet(source_uri).write.mode("errorifexists").parquet(target_uri)
    per_file = (
        session.read.parquet(target_uri)
        .groupBy(F.col("_metadata.file_name").alias("file"))
        .count()
        .collect()
    )
    return Rewritten({file: count for file, count in per_file})
