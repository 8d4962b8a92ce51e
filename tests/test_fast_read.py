"""Promotion's fast read and its lineage (ADR-0180, ADR-0181): files profiling found all
objects are read by Spark's JSON reader, numbers and booleans typed, and each row finds its
file's lineage by the path the reader reports. Wherever that read would differ from the text
path, it stops and the text path decides: these tests hold the two to the same rows."""

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
    from lake_assets.ingestion.promotion_plan import LINEAGE_COLUMNS, PlannedInput, PromotionPlan
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
    from lake_assets.ingestion.promotion import QUARANTINED, RAW_RECORD, REASONS, ZONE, promote

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
    as one object. Hadoop's line reader, which the fast read uses, ends a line there: the halves
    stop the fast read and the text path reads the line whole (ADR-0181)."""
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
    assert "MALFORMED_RECORD_IN_PARSING" in result.fast_read_refused
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


@pytest.mark.parametrize("objects_only", [True, False], ids=["json-reader", "text-lines"])
def test_the_rows_of_many_files_each_find_their_own_file(spark, tmp_path, objects_only):
    """Forty files, more than one map of lineage holds (file_lineage._PER_MAP): each row is
    looked up in the map its path's CRC-32 chooses, and finds its own key and landing time."""
    from datetime import datetime

    from lake_assets.ingestion.promotion import promote

    files = {
        f"{FOLDER}/part {n:02d}.json": f'{{"id": "{n}", "at": "{DAY}T10:00:00Z"}}\n' * 2
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


TYPED = {"d": "double", "i": "integer", "b": "boolean"}
# Values the fast read takes typed exactly as the text path casts their text.
AGREEING = "\n".join(
    [
        '{"d": 7, "i": 7, "b": true}',
        '{"d": -0.0, "i": -0, "b": false}',
        '{"d": 1.10, "i": 9223372036854775807, "b": null}',
        '{"d": 12345678901234567.89, "i": -9223372036854775808}',
        '{"d": 123456789012345678901234567890, "i": null}',
        '{"d": 1e-5}',
        "{}",
    ]
)


def test_numbers_and_booleans_read_typed_equal_the_cast_of_their_text(spark, tmp_path):
    """The fast read takes integers, doubles and booleans typed (ADR-0181): the values are
    those the text path's cast makes of their text."""
    from dataclasses import replace

    from lake_assets.ingestion.raw_records import read_records
    from lake_assets.runtime.columns import try_cast
    from lake_assets.tables.types import SPARK_TYPES

    (group,) = _plan(tmp_path, {f"{FOLDER}/n.json": AGREEING}, TYPED).inputs
    fast = read_records(spark, replace(group, objects_only=True), kinds=TYPED)
    text = read_records(spark, group, kinds=TYPED)  # the text path reads text whatever kinds say
    assert {f.name: f.dataType.simpleString() for f in fast.schema.fields if f.name in TYPED} == {
        "d": "double",
        "i": "bigint",
        "b": "boolean",
    }
    assert {f.dataType.simpleString() for f in text.schema.fields if f.name in TYPED} == {"string"}

    def cast(frame):
        typed = frame.select(*[try_cast(c, SPARK_TYPES[k]).alias(c) for c, k in TYPED.items()])
        return sorted(map(tuple, typed.collect()), key=repr)

    assert cast(fast) == cast(text)
    assert len(cast(fast)) == 7


@pytest.mark.parametrize(
    ("field", "value", "said"),
    [
        ("d", '"1.5"', "MALFORMED_RECORD_IN_PARSING"),  # text, which the cast reads
        ("d", '""', "MALFORMED_RECORD_IN_PARSING"),
        ("d", "1e400", "NOT_FINITE_ON_FAST_PATH"),  # Infinity typed, quarantined as text
        ("d", '"NaN"', "NOT_FINITE_ON_FAST_PATH"),
        ("d", "NaN", "NOT_FINITE_ON_FAST_PATH"),
        ("d", "[1]", "MALFORMED_RECORD_IN_PARSING"),
        ("i", "1.0", "MALFORMED_RECORD_IN_PARSING"),
        ("i", "99999999999999999999", "MALFORMED_RECORD_IN_PARSING"),
        ("i", '"7"', "MALFORMED_RECORD_IN_PARSING"),
        ("b", '"true"', "MALFORMED_RECORD_IN_PARSING"),
        ("b", "1", "MALFORMED_RECORD_IN_PARSING"),
    ],
)
def test_a_value_the_typed_read_would_take_otherwise_stops_it(spark, tmp_path, field, value, said):
    """Every value the fast read could read otherwise than the text path's cast stops it, in
    words promotion recognises (raw_records.fast_read_refusal), on Spark 3.5 and 4 alike."""
    from dataclasses import replace

    from lake_assets.ingestion.raw_records import fast_read_refusal, read_records

    lines = f'{{"d": 1.5, "i": 1, "b": true}}\n{{"{field}": {value}}}\n'
    (group,) = _plan(tmp_path, {f"{FOLDER}/v.json": lines}, TYPED).inputs
    with pytest.raises(Exception) as stopped:
        read_records(spark, replace(group, objects_only=True), kinds=TYPED).collect()
    assert said in fast_read_refusal(stopped.value)


def test_a_double_out_of_range_is_quarantined_as_on_the_text_path(spark, tmp_path):
    """1e400 is Infinity to Spark's typed reader but cannot be read as a double from its text:
    promotion of the fast-read file stops, reads it as text, and writes the rows the text path
    writes, the out-of-range value quarantined with its reason."""
    from dataclasses import replace

    from lake_assets.ingestion.promotion import QUARANTINED, REASONS, ZONE, promote

    columns = {"id": "string", "at": "timestamp", **TYPED}
    lines = (
        '{"id": "1", "at": "2026-03-02T10:00:00Z", "d": 2.5, "i": 3, "b": true}\n'
        '{"id": "2", "at": "2026-03-02T11:00:00Z", "d": 1e400}\n'
    )
    plan = _plan(tmp_path, {f"{FOLDER}/big.json": lines}, columns, objects_only=True)
    fast, exact = (tmp_path / "fast").as_uri(), (tmp_path / "exact").as_uri()
    result = promote(spark, plan, fast)
    assert "NOT_FINITE_ON_FAST_PATH" in result.fast_read_refused
    text_plan = replace(plan, inputs=tuple(replace(g, objects_only=False) for g in plan.inputs))
    assert promote(spark, text_plan, exact).fast_read_refused == ""
    assert _rows(spark, fast) == _rows(spark, exact)
    (held,) = spark.read.parquet(fast).filter(f"{ZONE} = '{QUARANTINED}'").collect()
    assert held["id"] == "2" and "d: cannot read" in held[REASONS]
