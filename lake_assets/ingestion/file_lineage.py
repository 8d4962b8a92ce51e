"""Each promoted row's lineage: the raw key of its file, the day the file landed under
(raw/source=<id>/ingest_date=<day>/<name>) and when it landed. It is the same for every row of
a file, so each row looks it up by the path its reader reports, exactly as reported, in a
literal map of the group's files; nothing is parsed out of a row's path, since deriving a
string per row costs a tenth of promotion (ADR-0180, ADR-0181)."""

from __future__ import annotations

import json
import math
import re
import zlib
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote, urlsplit

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from lake_assets.ingestion.curated_columns import FILE_PATH
from lake_assets.ingestion.promotion_plan import PlannedInput
from lake_assets.ingestion.raw_records import reports_encoded_paths
from lake_assets.ingestion.raw_zone import parse_raw_key
from lake_assets.instants import parse_instant

_FILES = "array<map<string,struct<key:string,day:date,at:bigint>>>"
# Files per map: Spark looks a key up in a map by comparing it with each of the map's keys, so
# a group of many files is spread over several maps, a row's map chosen by its path's CRC-32.
_PER_MAP = 16
_DAY = r"ingest_date=([^/]+)"  # the day a path names, where no map has an entry for it
# Characters a URI keeps as they are: a path made of them reads the same encoded or plain.
_KEPT = re.compile(r"[A-Za-z0-9._/:=-]*")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def lineage_columns(group: PlannedInput, records: DataFrame) -> list[Column]:
    """`_source_file`, `_ingest_date` and `_ingested_at` of each row of `records`, the group's
    records as raw_records.read_records reads them (each row's file in FILE_PATH). The files
    are those Spark says the read has (`inputFiles()`: URIs as Hadoop's readers report them).
    A path no map holds (none should) keeps its tail as the key and the day its path names, so
    no row loses its partition."""
    keys, files = set(group.keys), {}
    for uri in records.inputFiles():
        raw_key = _raw_key(uri, keys)
        if raw_key is not None:
            parsed = parse_raw_key(raw_key)
            files[_as_read(records.sparkSession, group, uri)] = {
                "key": raw_key,
                "day": parsed[1] if parsed else None,
                "at": _micros(group.landed_at.get(raw_key)),
            }
    count = max(1, math.ceil(len(files) / _PER_MAP))
    maps: list[dict] = [{} for _ in range(count)]
    for path, entry in files.items():
        maps[zlib.crc32(path.encode()) % count][path] = entry  # Spark's crc32 of UTF-8 bytes
    file_path = F.col(FILE_PATH)
    which = F.lit(0) if count == 1 else F.pmod(F.crc32(file_path.cast("binary")), F.lit(count))
    # One literal parsed once (Spark folds it): a few calls to the JVM for any number of files.
    found = F.from_json(F.lit(json.dumps(maps)), _FILES)[which][file_path]
    # Evaluated only where the lookup found nothing (coalesce stops at its first value).
    segments = max(len(key.split("/")) for key in group.keys)
    tail = F.substring_index(file_path, "/", -segments)
    day_in_path = F.try_to_timestamp(F.regexp_extract(tail, _DAY, 1), F.lit("yyyy-MM-dd"))
    return [
        F.coalesce(found.getField("key"), tail).alias("_source_file"),
        F.coalesce(found.getField("day"), F.to_date(day_in_path)).alias("_ingest_date"),
        F.timestamp_micros(found.getField("at")).alias("_ingested_at"),
    ]


def _raw_key(uri: str, keys: set[str]) -> str | None:
    """The raw key whose file `uri` (percent-encoded) is: raw keys are relative to the lake's
    root, and a URI names the root first. The longest key the path ends with, by the path's
    suffixes (a few per path, whatever the number of keys)."""
    parts = unquote(urlsplit(uri).path).split("/")
    suffixes = ("/".join(parts[i:]) for i in range(1, len(parts)))
    return next((suffix for suffix in suffixes if suffix in keys), None)


def _as_read(spark: SparkSession, group: PlannedInput, uri: str) -> str:
    """`uri` as the group's reader reports a row's file: as it is from Hadoop's text, JSON and
    CSV readers; as Hadoop's Path prints it from the binary reader (not percent-encoded, and
    file:/ for file:///), asked of Hadoop only where that could differ."""
    if reports_encoded_paths(group):
        return uri
    if _KEPT.fullmatch(uri):
        return uri.replace("file:///", "file:/", 1)
    jvm = spark.sparkContext._jvm
    return jvm.org.apache.hadoop.fs.Path(jvm.java.net.URI(uri)).toString()


def _micros(landed_at: str | None) -> int | None:
    """An ISO instant as microseconds since the epoch (without an offset it is UTC, as Spark
    reads it in the jobs' session time zone)."""
    if not landed_at:
        return None
    return (parse_instant(landed_at) - _EPOCH) // timedelta(microseconds=1)
