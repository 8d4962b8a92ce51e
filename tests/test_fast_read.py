"""Promotion's fast read and its lineage (ADR-0180, ADR-0181): files profiling found all
objects are read by Spark's JSON reader, which stops where it would differ from the text path,
and each row finds its file's lineage by the path its reader reports."""

from __future__ import annotations

import json

import pytest

DAY = "2026-03-02"
FOLDER = f"raw/source=cards/ingest_date={DAY}"
LANDED = f"{DAY}T12:00:00+00:00"


def _records(payload: str, fmt: str) -> int:
    if fmt == "csv":
        return len(payload.strip("\n").split("\n")) - 1
    if payload.startswith("["):
        return len(json.loads(payload))
    return sum(1 for line in payload.split("\n") if line.strip())


def _plan(tmp_path, files: dict, columns=None, objects_only=False, fmt="json", landed=None):
    """A promotion plan over `files` ({raw key: payload}) written in a local lake under
    tmp_path, as the planner makes it: by default two text columns and the lineage, the day
    2026-03-02, every file landed at noon (or as `landed` says, per key)."""
    from lake_assets.ingestion.curated_columns import LINEAGE_COLUMNS
    from lake_assets.ingestion.promotion_plan import PlannedInput, PromotionPlan
    from resources.storage import LocalStorage

    storage = LocalStorage(tmp_path)
    for key, payload in files.items():
        storage.put_bytes(key, payload.encode())
    columns = columns or {"id": "string", "at": "timestamp"}
    group = PlannedInput(
        version="v1",
        format=fmt,
        uris=tuple(storage.uri(key) for key in files),
        keys=tuple(files),
        column_map={name: name for name in columns},
        landed_at={key: (landed or {}).get(key, LANDED) for key in files},
        records={key: _records(payload, fmt) for key, payload in files.items()},
        json_array=next(iter(files.values())).startswith("["),
        objects_only=objects_only,
    )
    return PromotionPlan("cards", (DAY,), "at", {**columns, **LINEAGE_COLUMNS}, (group,), "v1")


def _rows(spark, out: str) -> list[tuple]:
    return sorted(map(tuple, spark.read.parquet(out).collect()), key=repr)


def test_a_line_only_sparks_json_reader_refuses_is_quarantined_with_its_text(spark, tmp_path):
    """Profiling found every line one object, so the plan reads the file with Spark's JSON
    reader, which stops at a line it cannot parse (ADR-0180): were the two to disagree, the
    file is read again as text, and the line is quarantined with its text, not lost."""
    from lake_assets.ingestion.curated_columns import RAW_RECORD, REASONS, ZONE
    from lake_assets.ingestion.promotion import QUARANTINED, promote

    cut_short = '{"id": "2", "at": "2026-03-02T11:00:00Z"'
    lines = '{"id": "1", "at": "2026-03-02T10:00:00Z"}\n' + cut_short + "\n"
    plan = _plan(tmp_path, {f"{FOLDER}/c.json": lines}, objects_only=True)
    out = (tmp_path / "out").as_uri()
    result = promote(spark, plan, out)
    assert (result.rows_read, result.observed_published, result.observed_quarantined) == (2, 1, 1)
    assert "MALFORMED_RECORD_IN_PARSING" in result.fast_read_refused
    (held,) = spark.read.parquet(out).filter(f"{ZONE} = '{QUARANTINED}'").collect()
    assert "malformed record" in held[REASONS]
    assert json.loads(held[RAW_RECORD])["_corrupt_record"] == cut_short


def test_a_lone_carriage_return_inside_an_object_is_one_record(spark, tmp_path):
    """A carriage return is white space inside a JSON object, and profiling reads such a line
    as one object. The fast read splits lines at "\n" only, as the text path does, so it reads
    the line whole too and publishes both records without falling back (ADR-0181)."""
    from lake_assets.ingestion.profiling import profile_file
    from lake_assets.ingestion.promotion import promote

    lines = (
        '{"id": "1",\r"at": "2026-03-02T10:00:00Z"}\n{"id": "2", "at": "2026-03-02T11:00:00Z"}\n'
    )
    payload = tmp_path / "cr.json"
    payload.write_text(lines, newline="")
    profile = profile_file(payload, "json")
    assert (profile.row_count, profile.malformed_rows) == (2, 0)  # so the plan reads it fast
    out = (tmp_path / "out").as_uri()
    result = promote(spark, _plan(tmp_path, {f"{FOLDER}/cr.json": lines}, objects_only=True), out)
    assert result.fast_read_refused == ""
    assert (result.rows_read, result.observed_published, result.observed_quarantined) == (2, 2, 0)


@pytest.mark.parametrize(
    ("fmt", "payload", "objects_only"),
    [
        ("json", '{"id": "1", "at": "2026-03-02T10:00:00Z"}\n{"id": "2"}\n', True),
        ("json", '{"id": "1", "at": "2026-03-02T10:00:00Z"}\n{"id": "2"}\n', False),
        ("json", '[{"id": "1", "at": "2026-03-02T10:00:00Z"}, {"id": "2"}]', False),
        ("csv", "id,at\n1,2026-03-02T10:00:00Z\n2,\n", False),
    ],
    ids=["json-reader", "text-lines", "json-array", "csv"],
)
def test_a_raw_key_spark_reports_percent_encoded_keeps_its_lineage(
    spark, tmp_path, fmt, payload, objects_only
):
    """A producer writing to S3 directly may name a file with a space or a "%"; Spark's readers
    report its path percent-encoded, its binary reader (arrays) plain. Each row still names
    the raw key and when it landed, and a row without an event time goes to the day its file
    landed (ADR-0180)."""
    from datetime import date, datetime

    from lake_assets.ingestion.promotion import promote

    key = f"{FOLDER}/cards 1%.{fmt}"
    out = (tmp_path / "out").as_uri()
    result = promote(
        spark, _plan(tmp_path, {key: payload}, objects_only=objects_only, fmt=fmt), out
    )
    assert result.partitions[DAY].rows_in == 2
    rows = spark.read.parquet(out).select("_source_file", "_ingest_date", "_ingested_at")
    assert set(map(tuple, rows.collect())) == {(key, date(2026, 3, 2), datetime(2026, 3, 2, 12))}


@pytest.mark.parametrize(
    ("objects_only", "record"),
    [(True, "{}\n{}\n"), (False, "{}\n{}\n"), (False, "[{}, {}]")],
    ids=["json-reader", "text-lines", "json-array"],
)
def test_the_rows_of_many_files_each_find_their_own_file(spark, tmp_path, objects_only, record):
    """Forty files, more than one map of lineage holds (file_lineage._PER_MAP): each row is
    looked up in the map its path's CRC-32 chooses, and finds its own key and landing time,
    on Hadoop's readers (paths percent-encoded) and the binary reader (plain, file:/)."""
    from datetime import datetime

    from lake_assets.ingestion.promotion import promote

    files = {
        f"{FOLDER}/part-{n:02d}.json": record.replace(
            "{}", f'{{"id": "{n}", "at": "{DAY}T10:00:00Z"}}'
        )
        for n in range(40)
    }
    landed = {key: f"{DAY}T12:{n:02d}:00+00:00" for n, key in enumerate(files)}
    plan = _plan(tmp_path, files, objects_only=objects_only, landed=landed)
    out = (tmp_path / "out").as_uri()
    assert promote(spark, plan, out).observed_published == 80
    rows = spark.read.parquet(out).select("id", "_source_file", "_ingested_at").collect()
    expected = [
        (str(n), key, datetime(2026, 3, 2, 12, n)) for n, key in enumerate(files) for _ in "ab"
    ]
    assert sorted(map(tuple, rows)) == sorted(expected)
