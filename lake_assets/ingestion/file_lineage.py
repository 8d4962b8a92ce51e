"""Each promoted row's lineage: the raw key of its file, the day the file landed under
(raw/source=<id>/ingest_date=<day>/<name>) and when it landed. It is the same for every row of
a file, so it is looked up once per row, in one literal map of the plan's files keyed by the
tail of the path the reader reports, rather than parsed out of each row's path (ADR-0180)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

from pyspark.sql import Column, SparkSession
from pyspark.sql import functions as F

from lake_assets.ingestion.promotion_plan import PlannedInput
from lake_assets.ingestion.raw_records import reports_encoded_paths
from lake_assets.ingestion.raw_zone import parse_raw_key
from lake_assets.instants import parse_instant

_FILES = "map<string,struct<key:string,day:date,at:bigint>>"
_DAY = r"ingest_date=([^/]+)"  # the day a path names, where the map has no entry for it
# Characters a URI keeps as they are: a path made of them reads the same encoded or plain.
_KEPT = re.compile(r"[A-Za-z0-9._/:=-]*")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def lineage_columns(spark: SparkSession, group: PlannedInput, file_path: Column) -> list[Column]:
    """`_source_file`, `_ingest_date` and `_ingested_at` of each row of `group`, whose reader
    reports its file as `file_path`. A path the map lacks (none should) keeps its tail as the
    key and the day its path names, so that no row loses its partition."""
    segments = max(len(key.split("/")) for key in group.keys)
    tail = F.substring_index(file_path, "/", -segments)
    files = {}
    for raw_key, uri in zip(group.keys, group.uris, strict=True):
        reported = _encoded(spark, uri) if reports_encoded_paths(group) else uri
        parsed = parse_raw_key(raw_key)
        files["/".join(reported.split("/")[-segments:])] = {
            "key": raw_key,
            "day": parsed[1] if parsed else None,
            "at": _micros(group.landed_at.get(raw_key)),
        }
    # One literal parsed once (Spark folds it): a few calls to the JVM for any number of files.
    found = F.from_json(F.lit(json.dumps(files)), _FILES)[tail]
    # Evaluated only where the lookup found nothing (coalesce stops at its first value).
    day_in_path = F.try_to_timestamp(F.regexp_extract(tail, _DAY, 1), F.lit("yyyy-MM-dd"))
    return [
        F.coalesce(found.getField("key"), tail).alias("_source_file"),
        F.coalesce(found.getField("day"), F.to_date(day_in_path)).alias("_ingest_date"),
        F.timestamp_micros(found.getField("at")).alias("_ingested_at"),
    ]


def _encoded(spark: SparkSession, uri: str) -> str:
    """`uri` as Spark's Hadoop readers report it: percent-encoded by Hadoop's Path (a space as
    %20, "%" as %25, other letters kept). Asked of Hadoop only where it could differ."""
    if _KEPT.fullmatch(uri):
        return uri
    return spark.sparkContext._jvm.org.apache.hadoop.fs.Path(uri).toUri().toString()


def _micros(landed_at: str | None) -> int | None:
    """An ISO instant as microseconds since the epoch (without an offset it is UTC, as Spark
    reads it in the jobs' session time zone)."""
    if not landed_at:
        return None
    return (parse_instant(landed_at) - _EPOCH) // timedelta(microseconds=1)
