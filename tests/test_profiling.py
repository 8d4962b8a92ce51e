"""Profiling on arrival: types, counts, sketches and dates of one payload, and why one is unreadable."""

from __future__ import annotations

import io
import json
import random
from datetime import date, timedelta

import pytest

from lake_assets.ingestion import payload_formats
from lake_assets.ingestion.payload_errors import MalformedPayload
from lake_assets.ingestion.profiling import MAX_DATES, FieldProfile, FileProfile, profile_file
from lake_assets.ingestion.value_sketches import SKETCH_SIZE, jaccard_estimate, value_hash
from lake_assets.tables.types import FIELD_TYPES


def write_lines(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def profile_lines(tmp_path, records, **options) -> FileProfile:
    return profile_file(write_lines(tmp_path / "payload.json", records), "json", **options)


def profile_csv(tmp_path, text, **options) -> FileProfile:
    path = tmp_path / "payload.csv"
    path.write_text(text)
    return profile_file(path, "csv", **options)


def malformed_reason(path, fmt, **options) -> str:
    with pytest.raises(MalformedPayload) as caught:
        profile_file(path, fmt, **options)
    assert str(caught.value) == caught.value.reason
    return caught.value.reason


TRANSACTIONS = [
    {
        "id": f"T{i:04d}",
        "amount": 10.5 + i,
        "booked_at": f"2026-03-0{1 + i % 3}T10:00:00Z",
        "merchant": {"name": f"Shop {i % 4}", "geo": {"country": "DE"}},
        "tags": ["card", "eu"],
        "reversal": i % 10 == 0,
    }
    for i in range(30)
]


# --- JSON ----------------------------------------------------------------------------------------


def test_json_lines_flatten_nested_objects_to_dotted_fields(tmp_path):
    profile = profile_lines(tmp_path, TRANSACTIONS)

    assert profile.format == "json"
    assert (profile.row_count, profile.malformed_rows) == (30, 0)
    assert profile.field_types() == {
        "amount": "double",
        "booked_at": "timestamp",
        "id": "string",
        "merchant.geo.country": "string",
        "merchant.name": "string",
        "reversal": "boolean",
        "tags": "json",
    }
    assert [f.name for f in profile.fields] == sorted(profile.field_types())
    assert all(f.row_count == 30 and f.null_count == 0 for f in profile.fields)
    assert profile.field("merchant.name").distinct_estimate == 4
    assert profile.field("merchant.name").format_signature == "Aaaa 9"
    assert profile.field("tags").format_signature == '["aaaa","aa"]'
    assert profile.field("nope") is None


def test_json_array_of_objects(tmp_path):
    path = tmp_path / "payload.json"
    path.write_text(json.dumps([{"a": 1, "m": {"d": "2026-03-02"}}, {"a": 2.5}, 7]))

    profile = profile_file(path, "json")

    assert (profile.row_count, profile.malformed_rows) == (2, 1)
    assert profile.field_types() == {"a": "double", "m.d": "date"}
    assert profile.field("m.d").null_count == 1
    assert profile.field("m.d").dates == ("2026-03-02",)


def test_missing_keys_count_as_nulls(tmp_path):
    records = [{"a": 1, "b": "x"}, {"a": 2}, {"b": None}, {"c": True}]

    profile = profile_lines(tmp_path, records)

    nulls = {f.name: (f.row_count, f.null_count) for f in profile.fields}
    assert nulls == {"a": (4, 2), "b": (4, 3), "c": (4, 3)}


def test_all_null_field_is_a_string_of_nulls(tmp_path):
    profile = profile_lines(tmp_path, [{"a": 1, "gone": None}, {"a": 2, "gone": None}])

    gone = profile.field("gone")
    assert (gone.type, gone.null_count, gone.distinct_estimate, gone.format_signature) == (
        "string",
        2,
        0,
        "",
    )


def test_object_null_in_one_block_leaves_only_its_children(tmp_path):
    records = [{"m": None}] * 20 + [{"m": {"x": 1}}] * 20

    profile = profile_lines(tmp_path, records, block_size=64)

    assert profile.field_types() == {"m.x": "integer"}
    assert profile.field("m.x").null_count == 20


def test_types_widen_across_blocks(tmp_path):
    records = [{"n": i, "d": "2026-03-02"} for i in range(50)]
    records += [{"n": i + 0.5, "d": "2026-03-02T10:00:00"} for i in range(50)]

    profile = profile_lines(tmp_path, records, block_size=256)

    assert profile.field_types() == {"n": "double", "d": "timestamp"}


def test_incompatible_types_across_blocks_become_string(tmp_path):
    records = [{"v": i} for i in range(50)] + [{"v": f"code-{i}"} for i in range(50)]

    profile = profile_lines(tmp_path, records, block_size=256)

    assert profile.field_types() == {"v": "string"}
    assert profile.malformed_rows == 0


def test_type_conflict_inside_one_block_is_widened_not_malformed(tmp_path):
    records = [{"v": 1}, {"v": "one"}, {"v": 2.5}, {"w": [1, {"x": 2}]}]

    profile = profile_lines(tmp_path, records)

    assert (profile.row_count, profile.malformed_rows) == (4, 0)
    assert profile.field_types() == {"v": "string", "w": "json"}


def test_iso_text_is_typed_by_pattern_not_by_pyarrow_inference(tmp_path):
    records = [
        {"day": "2026-03-02", "at": "2026-03-02 10:00:00", "note": "2026-03-02 maybe"},
        {"day": "2026-03-03", "at": "2026-03-02T10:00:00.123+02:00", "note": "x"},
    ]

    profile = profile_lines(tmp_path, records)

    assert profile.field_types() == {"day": "date", "at": "timestamp", "note": "string"}
    # The sketch holds the text as written, not pyarrow's reading of it.
    assert value_hash("2026-03-02") in profile.field("day").value_sketch
    assert value_hash("2026-03-02 10:00:00") in profile.field("at").value_sketch


def test_malformed_line_among_good_ones(tmp_path):
    path = tmp_path / "payload.json"
    path.write_text('{"a": 1}\n{"a": \n\n{"a": 3}\n[1, 2]\n{"a": 4}\n')

    profile = profile_file(path, "json")

    assert (profile.row_count, profile.malformed_rows) == (3, 2)
    assert profile.field("a").type == "integer"
    assert profile.field("a").row_count == 3


def test_a_null_line_is_malformed(tmp_path):
    path = tmp_path / "payload.json"
    path.write_text('null\n{"a": 1}\nnull\n{"a": 2}\n')

    profile = profile_file(path, "json")

    assert (profile.row_count, profile.malformed_rows) == (2, 2)


def test_objects_nested_hundreds_deep_are_records_not_a_crash(tmp_path):
    """pyarrow reads objects nested ~500 deep, and walking their type recursed past Python's
    limit (RecursionError, no reason, no dead letter): such lines are now read by json.loads,
    as Spark reads them; past json.loads' own limit the payload is malformed, with its reason."""
    path = tmp_path / "payload.json"
    path.write_bytes(b'{"a":' * 600 + b"1" + b"}" * 600 + b"\n")  # alone: pyarrow reads it
    profile = profile_file(path, "json")
    assert (profile.row_count, profile.malformed_rows) == (1, 0)
    path.write_bytes(b'{"a":' * 1200 + b"1" + b"}" * 1200 + b"\n")
    assert "RecursionError" in malformed_reason(path, "json")


def test_entirely_invalid_json_names_the_first_bad_line(tmp_path):
    path = tmp_path / "payload.json"
    path.write_text("\nnot json\n{also: not}\n")

    reason = malformed_reason(path, "json")

    assert reason.startswith("not valid JSON: line 2: Expecting value")


def test_invalid_json_array_names_where(tmp_path):
    path = tmp_path / "payload.json"
    path.write_text('[{"a": 1},\n {"a": ]')

    assert malformed_reason(path, "json").startswith("not valid JSON: line 2:")


def test_empty_json_array_has_no_records(tmp_path):
    path = tmp_path / "payload.json"
    path.write_text("[]")

    assert malformed_reason(path, "json") == "empty payload: no JSON records"


def test_overlong_line_is_skipped_as_malformed(tmp_path, monkeypatch):
    monkeypatch.setattr(payload_formats, "MAX_LINE_BYTES", 100)
    path = tmp_path / "payload.json"
    path.write_text('{"a": 1}\n{"a": "' + "x" * 500 + '"}\n{"a": 2}\n')

    profile = profile_file(path, "json", block_size=64)

    assert (profile.row_count, profile.malformed_rows) == (2, 1)
    assert profile.field("a").type == "integer"


def test_utf8_bom_is_ignored(tmp_path):
    path = tmp_path / "payload.json"
    path.write_bytes(b'\xef\xbb\xbf{"a": 1}\n{"a": 2}\n')

    assert profile_file(path, "json").row_count == 2


@pytest.mark.parametrize("block_size", [64, 1 << 20])
def test_same_profile_whichever_path_reads_the_lines(tmp_path, block_size):
    """pyarrow reads clean blocks, json.loads the rest; the profile must not tell them apart."""
    clean = [{**r, "n": i} for i, r in enumerate(TRANSACTIONS)]
    dirty = clean[:10] + [{"n": "not a number"}] + clean[10:]

    fast = profile_lines(tmp_path, clean, block_size=block_size)
    slow = profile_lines(tmp_path, dirty, block_size=block_size)

    assert slow.row_count == fast.row_count + 1
    for name, field in fast.field_types().items():
        if name != "n":
            assert slow.field(name).type == field
            assert slow.field(name).value_sketch == fast.field(name).value_sketch
            assert slow.field(name).dates == fast.field(name).dates


# --- CSV -----------------------------------------------------------------------------------------


def test_csv_types(tmp_path):
    text = (
        "id,amount,day,at,name,flag\n"
        "1,1.5,2026-03-02,2026-03-02T10:00:00Z,Alice,true\n"
        "2,,2026-03-03,2026-03-02 11:30:00,Bob,false\n"
        "3,2,,2026-03-04T10:00:00.123,,true\n"
    )

    profile = profile_csv(tmp_path, text)

    assert profile.format == "csv"
    assert (profile.row_count, profile.malformed_rows) == (3, 0)
    assert profile.field_types() == {
        "id": "integer",
        "amount": "double",
        "day": "date",
        "at": "timestamp",
        "name": "string",
        "flag": "boolean",
    }
    assert profile.field("amount").null_count == 1
    assert profile.field("day").dates == ("2026-03-02", "2026-03-03")


def test_digits_with_a_leading_plus_or_zero_stay_text(tmp_path):
    """Phone, account and IC numbers written in digits would lose their "+" or leading zero as
    numbers; amounts and counts still read as numbers."""
    text = "phone,account,ic,amount,count\n" + "".join(
        f"+6012{n:07d},00{n:05d},0{n}0101-14-{n:04d},{n}.25,{n}\n" for n in range(1, 50)
    )

    profile = profile_csv(tmp_path, text, block_size=256)

    assert profile.field_types() == {
        "phone": "string",
        "account": "string",
        "ic": "string",
        "amount": "double",
        "count": "integer",
    }


def test_csv_quoted_values_may_span_lines(tmp_path):
    profile = profile_csv(tmp_path, 'id,memo\n1,"first line\nsecond, line"\n2,plain\n')

    assert profile.row_count == 2
    assert profile.field_types() == {"id": "integer", "memo": "string"}


def test_csv_types_widen_across_blocks(tmp_path):
    text = "v,d\n" + "".join(f"{i},2026-03-02\n" for i in range(100))
    text += "".join(f"{i}.5,2026-03-02 10:00:00\n" for i in range(100))

    profile = profile_csv(tmp_path, text, block_size=256)

    assert profile.field_types() == {"v": "double", "d": "timestamp"}


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("a,,b", "line 1, column 2 has no name"),
        ("id,a,id", "line 1 names column 1 ('id') again in column 3 ('id')"),
        ("Amount,amount,x", "line 1 names column 1 ('Amount') again in column 2 ('amount')"),
    ],
)
def test_a_csv_header_spark_would_rename_is_malformed(tmp_path, header, reason):
    """Spark's CSV reader renames an empty or repeated name, so promotion would publish that
    column empty: the payload is refused at profiling instead, naming the column."""
    path = tmp_path / "payload.csv"
    path.write_text(f"{header}\n1,2,3\n")
    assert malformed_reason(path, "csv") == f"not valid CSV: {reason}" + (
        "; names differing only in case are one column to Spark, Glue and Athena"
        if "again" in reason
        else ""
    )


@pytest.mark.parametrize(
    ("fmt", "content", "reason"),
    [
        (
            "json",
            '{"id": 1, "memo": "a", "MEMO": "b"}\n',
            "fields 'MEMO' and 'memo': one column (memo) to Spark, Glue and Athena",
        ),
        (  # one spelling per record: still one column
            "json",
            '{"id": 1, "memo": "a"}\n{"id": 2, "Memo": "b"}\n',
            "fields 'Memo' and 'memo': one column (memo) to Spark, Glue and Athena",
        ),
        (
            "json",
            '{"id": 1, "branch code": "a", "branch_code": "b"}\n',
            "fields 'branch code' and 'branch_code': one column (branch_code) to Spark, Glue "
            "and Athena",
        ),
        (
            "json",
            '{"id": 1, "ref": {"no": "a"}, "REF__NO": "b"}\n',
            "fields 'REF__NO' and 'ref.no': one column (ref__no) to Spark, Glue and Athena",
        ),
        (
            "json",
            '{"id": 1, "_source_file": "x.csv"}\n',
            "field '_source_file': '_source_file' is a column name the lake uses itself",
        ),
        (
            "json",
            '{"id": 1, "_corrupt_record": "x"}\n',
            "field '_corrupt_record': '_corrupt_record' is a column name the lake uses itself",
        ),
        (  # the contract's own column beside the row's
            "json",
            '{"id": 1, "_contract_violations": "x"}\n',
            "field '_contract_violations': '_contract_violations' is a column name the lake uses "
            "itself",
        ),
        (  # two keys of one object in two spellings: Spark's parser takes them for one
            "json",
            '{"id": 1, "x": {"Y": {"z": 1}, "y": 2}}\n',
            "keys 'x.Y' and 'x.y': one key to Spark, Glue and Athena",
        ),
        (
            "json",
            '{"a": {"b": 1}}\n{"A": {"c": 2}}\n',
            "keys 'A' and 'a': one key to Spark, Glue and Athena",
        ),
        (
            "csv",
            "id,Event Date\n1,2026-03-02\n",
            "field 'Event Date': 'event_date' is a column name the lake uses itself",
        ),
    ],
)
def test_fields_that_cannot_each_be_a_curated_column_are_malformed(tmp_path, fmt, content, reason):
    """Published as they were, Spark failed the promotion (COLUMN_ALREADY_EXISTS,
    AMBIGUOUS_REFERENCE) or, for `_source_file`, published the lake's value in place of the
    source's: the payload is refused at profiling instead, naming the fields (ADR-0186)."""
    path = tmp_path / f"payload.{fmt}"
    path.write_text(content)
    assert malformed_reason(path, fmt) == f"fields the lake cannot publish: {reason}"


@pytest.mark.parametrize("layout", ["lines", "array"])  # pyarrow's path, then Python's
def test_keys_a_dotted_name_does_not_tell_are_recorded(tmp_path, layout):
    """A key holding a dot below the top level, or holding an object, is recorded with its keys
    for promotion to read (ADR-0186); names it reads by their dots are not."""
    records = [
        {"id": 1, "ref.no": "R1", "merchant": {"name": "Grab", "site.id": "S1"}},
        {"id": 2, "app.v1": {"build": "b2"}, "merchant": {"name": "Grab"}},
    ]
    path = tmp_path / "payload.json"
    text = json.dumps(records) if layout == "array" else "".join(map(json.dumps, records))
    path.write_text(text if layout == "array" else "\n".join(map(json.dumps, records)) + "\n")
    profile = profile_file(path, "json")
    assert [f.name for f in profile.fields] == [
        "app.v1.build",
        "id",
        "merchant.name",
        "merchant.site.id",
        "ref.no",
    ]
    assert profile.key_paths == {
        "app.v1.build": [["app.v1", "build"]],
        "merchant.site.id": [["merchant", "site.id"]],
    }


def test_a_field_named_like_a_lake_column_but_not_one_is_profiled(tmp_path):
    path = tmp_path / "payload.json"
    path.write_text('{"_id": "a", "source_file": "x", "zone": 1}\n')
    assert [f.name for f in profile_file(path, "json").fields] == ["_id", "source_file", "zone"]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"a,b\r\n1,x\n2,y\r\n", "the file's first line break is CRLF and record 1 ends with LF"),
        (b"a,b\n1,x\r\n2,y\n", "the file's first line break is LF and record 1 ends with CRLF"),
        (b"a,b\n1,x\n2,y\r3,z\n", "the file's first line break is LF and record 2 ends with CR"),
        # A quote inside a value opens nothing: the CRLF after it ends the record.
        (b'a,b\n1,x"y\r\n2,z\n', "the file's first line break is LF and record 1 ends with CRLF"),
        # Spark takes the first line break even inside quotes (a BOM before it or not).
        (b'"a\nx",b\r\n1,2\r\n', "the file's first line break is LF and the header ends with CRLF"),
        (
            b'\xef\xbb\xbf"a\nx",b\r\n1,2\r\n',
            "the file's first line break is LF and the header ends with CRLF",
        ),
    ],
)
def test_a_csv_whose_lines_end_in_more_than_one_way_is_malformed(tmp_path, content, reason):
    """pyarrow ends a record at CRLF, LF or CR; Spark's reader as the file's first line break
    ends, wherever it is. A file that mixes them was refused by promotion's audit (read as one
    record) or published with a CR kept at the end of its last values: refused here, naming
    the record."""
    path = tmp_path / "payload.csv"
    path.write_bytes(content)
    assert malformed_reason(path, "csv").startswith(f"not valid CSV: {reason}; ")


@pytest.mark.parametrize(
    ("content", "rows"),
    [
        (b"a,b\r\n1,x\r\n2,y", 2),  # Windows, the last line unterminated
        (b'a,b\r\n1,"two\nlines"\r\n2,"said ""hi\r"""\r\n', 2),  # other breaks in quotes
        (b'a,b\r1,"two\nlines"\r2,y\r', 2),  # a lone CR throughout
        (b'\xef\xbb\xbf"a",b\r\n1,"x\ny"\r\n', 1),  # a quoted first name after a BOM
    ],
)
@pytest.mark.parametrize("block_size", [5, 1 << 20])
def test_a_csv_whose_records_end_alike_is_profiled(tmp_path, content, rows, block_size):
    path = tmp_path / "payload.csv"
    path.write_bytes(content)
    assert payload_formats._check_line_endings(str(path), block_size) is None
    assert profile_file(path, "csv").row_count == rows


def test_a_csv_header_name_holding_a_carriage_return_is_malformed(tmp_path):
    """Spark's reader rewrites a quoted CRLF as LF, so the name it reads is not the profile's
    and the column would be published empty."""
    path = tmp_path / "payload.csv"
    path.write_bytes(b'a,"b\r\nc",d\r\n1,2,3\r\n')
    reason = "not valid CSV: line 1, column 2 ('b\\r\\nc') holds a carriage return"
    assert malformed_reason(path, "csv") == reason


def test_a_csv_whose_only_line_breaks_are_quoted_is_malformed_not_a_crash(tmp_path):
    """No record ends outside quotes: nothing to compare, and pyarrow names the problem."""
    path = tmp_path / "payload.csv"
    path.write_bytes(b'id,"name\r\n1,x\n2,y"')
    assert malformed_reason(path, "csv").startswith("not valid CSV: ")


def test_header_only_csv_has_fields_and_no_rows(tmp_path):
    profile = profile_csv(tmp_path, "a,b,c\n")

    assert profile.row_count == 0
    assert [(f.name, f.type, f.null_count) for f in profile.fields] == [
        ("a", "string", 0),
        ("b", "string", 0),
        ("c", "string", 0),
    ]


def test_csv_with_inconsistent_rows_is_malformed(tmp_path):
    path = tmp_path / "payload.csv"
    path.write_text("a,b\n1,2\n3\n")

    reason = malformed_reason(path, "csv")

    assert reason.startswith("not valid CSV:")
    assert "line 3: 1 field where the header has 2" in reason  # the place, not the row


# --- unreadable payloads -------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "csv"])
@pytest.mark.parametrize("content", [b"", b"  \n\t\r\n"])
def test_empty_payload(tmp_path, fmt, content):
    path = tmp_path / f"payload.{fmt}"
    path.write_bytes(content)

    assert malformed_reason(path, fmt) == "empty payload"


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_binary_garbage_is_malformed(tmp_path, fmt):
    path = tmp_path / "payload.bin"
    path.write_bytes(random.Random(7).randbytes(4096))

    reason = malformed_reason(path, fmt)

    assert reason.startswith("not valid JSON:" if fmt == "json" else "not valid CSV:")
    assert len(reason) < 400


def test_oversized_payload_is_refused_before_reading(tmp_path):
    path = write_lines(tmp_path / "payload.json", TRANSACTIONS)
    size = path.stat().st_size

    reason = malformed_reason(path, "json", max_bytes=size - 1)

    assert reason == f"payload is {size} bytes, over the {size - 1}-byte limit"
    assert profile_file(path, "json", max_bytes=size).row_count == 30


@pytest.mark.parametrize("seed", range(4))
def test_damaged_payloads_profile_or_are_malformed_never_crash(tmp_path, seed):
    rnd = random.Random(seed)
    good = "".join(json.dumps(r) + "\n" for r in TRANSACTIONS).encode()
    path = tmp_path / "payload.json"
    for _ in range(25):
        damaged = bytearray(good[: rnd.randrange(1, len(good))])
        for _ in range(rnd.randrange(1, 10)):
            damaged[rnd.randrange(len(damaged))] = rnd.choice(b'{}[]":,\n\\ n0\xff')
        path.write_bytes(bytes(damaged))
        for fmt in ("json", "csv"):
            try:
                profile = profile_file(path, fmt, block_size=rnd.choice([64, 1 << 20]))
            except MalformedPayload:
                continue
            assert all(f.type in FIELD_TYPES for f in profile.fields)


# --- dates, counts, shapes and sketches ----------------------------------------------------------


def test_dates_of_timestamp_field_are_utc_dates(tmp_path):
    records = [
        {"at": "2026-03-02T10:00:00Z"},
        {"at": "2026-03-02T23:30:00-05:00"},  # 2026-03-03 in UTC
        {"at": "2026-02-27 08:00:00"},
        {"at": None},
        {"note": "2026-01-01"},
    ]

    profile = profile_lines(tmp_path, records)

    assert profile.field("at").type == "timestamp"
    assert profile.field("at").dates == ("2026-02-27", "2026-03-02", "2026-03-03")
    assert profile.field("note").dates == ("2026-01-01",)


def test_dates_are_capped_to_the_earliest(tmp_path):
    days = [(date(2025, 1, 1) + timedelta(days=i)).isoformat() for i in range(MAX_DATES + 100)]
    records = [{"d": day} for day in reversed(days)]

    dates = profile_lines(tmp_path, records, block_size=4096).field("d").dates

    assert dates == tuple(days[:MAX_DATES])


def test_dates_only_for_date_and_timestamp_fields(tmp_path):
    profile = profile_lines(tmp_path, [{"d": "2026-03-02"}, {"d": "soon"}])

    assert profile.field("d").type == "string"
    assert profile.field("d").dates == ()


def test_distinct_count_is_exact_below_sketch_size(tmp_path):
    records = [{"v": f"value-{i % 100}", "n": i % 7} for i in range(1000)]

    profile = profile_lines(tmp_path, records, block_size=4096)

    assert profile.field("v").distinct_estimate == 100
    assert profile.field("n").distinct_estimate == 7
    assert len(profile.field("v").value_sketch) == 100


def test_distinct_count_is_estimated_within_ten_percent(tmp_path):
    records = [{"account": f"ACC{i:08d}"} for i in range(50_000)] * 2

    field = profile_lines(tmp_path, records, block_size=256 << 10).field("account")

    assert abs(field.distinct_estimate - 50_000) / 50_000 < 0.10
    assert len(field.value_sketch) == SKETCH_SIZE
    assert list(field.value_sketch) == sorted(set(field.value_sketch))


def test_sketch_holds_the_smallest_value_hashes(tmp_path):
    values = [f"v{i}" for i in range(1000)]

    field = profile_lines(tmp_path, [{"v": v} for v in values]).field("v")

    assert field.value_sketch == tuple(sorted(value_hash(v) for v in values)[:SKETCH_SIZE])


def test_numbers_are_sketched_by_their_text(tmp_path):
    profile = profile_lines(tmp_path, [{"i": 42, "x": 1.5, "b": True}])

    assert profile.field("i").value_sketch == (value_hash("42"),)
    assert profile.field("x").value_sketch == (value_hash("1.5"),)
    assert profile.field("b").value_sketch == (value_hash("true"),)


def test_jaccard_of_half_overlapping_fields(tmp_path):
    left = profile_lines(tmp_path, [{"v": f"id-{i}"} for i in range(0, 15_000)]).field("v")
    right = profile_lines(tmp_path, [{"v": f"id-{i}"} for i in range(5_000, 20_000)]).field("v")

    assert jaccard_estimate(left.value_sketch, right.value_sketch) == pytest.approx(0.5, abs=0.1)
    assert jaccard_estimate(left.value_sketch, left.value_sketch) == 1.0


def test_jaccard_of_small_sets_is_exact():
    a = [value_hash(v) for v in ("x", "y", "z")]
    b = [value_hash(v) for v in ("y", "z", "w", "v")]

    assert jaccard_estimate(a, b) == pytest.approx(2 / 5)
    assert jaccard_estimate(a, []) == 0.0
    assert jaccard_estimate([], []) == 0.0


def test_format_signature_and_share(tmp_path):
    records = [{"d": "2026-03-02", "code": "AB12"}] * 3 + [{"d": "2026-3-2", "code": "ab-1"}]

    profile = profile_lines(tmp_path, records)

    assert profile.field("d").format_signature == "9999-99-99"
    assert profile.field("d").format_share == 0.75
    assert profile.field("code").format_signature == "AA99"


def test_format_signature_of_non_ascii_letters(tmp_path):
    profile = profile_lines(tmp_path, [{"city": "Zürich 8001"}, {"city": "Genève 1201"}])

    assert profile.field("city").format_signature == "Aaaaaa 9999"
    assert profile.field("city").format_share == 1.0


def _fmix64(h: int) -> int:
    mask = 2**64 - 1
    h ^= h >> 33
    h = (h * 0xFF51AFD7ED558CCD) & mask
    h ^= h >> 33
    h = (h * 0xC4CEB9FE1A85EC53) & mask
    return h ^ (h >> 33)


def reference_hash(text: str) -> int:
    """value_hash as its comment spells it out, for runtimes other than this one."""
    data, salt = text.encode(), 0x9E3779B97F4A7C15
    words = [int.from_bytes(data[i : i + 8], "little") for i in range(0, len(data), 8)]
    total = sum(_fmix64((w + j * salt) % 2**64) for j, w in enumerate(words)) % 2**64
    return _fmix64(total ^ ((len(data) * salt) % 2**64))


def test_value_hash_is_stable_and_follows_its_formula():
    texts = ["", "a", "lakehouse", "2026-03-02", "exactly8", "é" * 100, "x" * 10_000]

    assert [value_hash(t) for t in texts] == [reference_hash(t) for t in texts]
    assert value_hash("lakehouse") == 0x1B73_22AC_3FCE_5DC9  # changing it orphans stored sketches
    assert value_hash("a") != value_hash("a\x00")


# --- records -------------------------------------------------------------------------------------


def test_field_profile_round_trips_through_json(tmp_path):
    field = profile_lines(tmp_path, TRANSACTIONS).field("booked_at")

    data = json.loads(json.dumps(field.to_dict()))

    assert FieldProfile.from_dict(data) == field
    assert data["dates"] == ["2026-03-01", "2026-03-02", "2026-03-03"]


# --- streaming -----------------------------------------------------------------------------------


def test_json_lines_are_read_in_bounded_chunks_of_whole_lines():
    lines = [json.dumps({"i": i, "pad": "x" * (i % 50)}).encode() + b"\n" for i in range(500)]
    data = b"".join(lines)

    chunks = list(payload_formats._line_chunks(io.BytesIO(data), 1024))

    assert b"".join(bytes(chunk) for _, _, chunk in chunks) == data
    assert all(len(chunk) <= 1024 and bytes(chunk).endswith(b"\n") for _, _, chunk in chunks)
    assert [lines for _, lines, chunk in chunks] == [bytes(c).count(b"\n") for _, _, c in chunks]
    assert [first for first, _, _ in chunks] == [
        1 + sum(lines for _, lines, _ in chunks[:i]) for i in range(len(chunks))
    ]


def test_csv_is_read_in_blocks(tmp_path, monkeypatch):
    block_sizes = []
    open_csv = payload_formats.pcsv.open_csv

    def spy(path, read_options=None, **options):
        block_sizes.append(read_options.block_size)
        return open_csv(path, read_options=read_options, **options)

    monkeypatch.setattr(payload_formats.pcsv, "open_csv", spy)
    profile = profile_csv(tmp_path, "a\n" + "1\n" * 1000, block_size=512)

    assert profile.row_count == 1000
    assert block_sizes and set(block_sizes) == {512}


def test_a_few_unreadable_values_do_not_change_a_fields_type(tmp_path):
    """One "N/A" among the amounts is an outlier to quarantine, not a new (string) type;
    past TYPE_CONFORMANCE the field honestly becomes a string."""
    from lake_assets.ingestion.value_types import TYPE_CONFORMANCE

    lines = [{"amount": 12.5, "when": "2026-03-02T10:00:00Z"} for _ in range(99)]
    lines.append({"amount": "N/A", "when": "later"})
    path = tmp_path / "mixed.json"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    fields = {f.name: f for f in profile_file(path, "json").fields}
    assert (fields["amount"].type, fields["amount"].type_outliers) == ("double", 1)
    assert (fields["when"].type, fields["when"].type_outliers) == ("timestamp", 1)
    assert fields["when"].dates == ("2026-03-02",)

    mostly_text = int(len(lines) * (1 - TYPE_CONFORMANCE)) + 1
    for line in lines[:mostly_text]:
        line["amount"] = "N/A"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    amount = profile_file(path, "json").field("amount")
    assert amount.type == "string" and amount.type_outliers == 0


def test_csv_columns_keep_their_type_despite_an_outlier(tmp_path):
    path = tmp_path / "scores.csv"
    path.write_text("score\n" + "".join(f"{i}\n" for i in range(60)) + "unknown\n")
    score = profile_file(path, "csv").field("score")
    assert (score.type, score.type_outliers, score.null_count) == ("integer", 1, 0)
