"""Odd but valid payloads (issue 9, items 3, 7, 8 and encodings): names from data, records the
profiler and Spark must count alike, operator decisions on one raw object, empty files and
declared encodings. Each test drives a temporary lake as an operator would."""

from __future__ import annotations

import json
from dataclasses import replace
from urllib.parse import unquote

import pytest
from lake_harness import card, failure_message

from lake_assets.cli.main import main as lake_main
from lake_assets.settings import load_sources

CARDS = "card_transactions"
CUSTOMERS = "customers"


def _lines(records) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def _customers_csv(day: str, ids, header="customer_id,name,segment,snapshot_date") -> str:
    rows = "".join(f"C{n:05d},Name {n},retail,{day}\n" for n in ids)
    return f"{header}\n{rows}"


def _lake_cli(lake, monkeypatch, *argv) -> int:
    monkeypatch.setenv("LAKE_ROOT", str(lake.root))
    monkeypatch.setenv("LAKE_CONTRACTS_DIR", str(lake.settings.contracts_dir))
    return lake_main(list(argv))


# --- item 3: names from payloads ----------------------------------------------------------------


def test_field_names_with_backticks_dots_and_spaces_promote_and_read_back(lake, spark):
    day = "2026-03-02"
    odd = [
        {
            **card(n, day),
            "memo`x": f"m{n}",
            "ref.no": f"R{n}",
            "branch code": f"B{n}",
            # Keys holding a dot below the top, and a dotted key holding an object: the profile
            # names each "merchant.site.id", "app.v1.build", as it would nested objects.
            "merchant": {"name": "Grab", "site.id": f"S{n}"},
            "app.v1": {"build": f"b{n}"},
        }
        for n in range(4)
    ]
    lake.deliver(CARDS, day, "odd-keys.json", _lines(odd))
    header = "customer_id,`nick`,home town,name.first,segment,snapshot_date"
    lake.deliver(
        CUSTOMERS,
        day,
        "odd-header.csv",
        f"{header}\nC00001,cat,Ipoh,Ann,retail,{day}\nC00002,dog,KL,Bob,retail,{day}\n",
    )
    for source in (CARDS, CUSTOMERS):
        assert lake.profile(source, day).success
        result = lake.promote(source, day)
        assert result.success, failure_message(result)

    cards = {r["transaction_id"]: r for r in lake.rows(spark, CARDS).collect()}
    assert len(cards) == 4
    assert cards["TXN-00002"]["memo_x"] == "m2"
    assert cards["TXN-00002"]["ref__no"] == "R2"  # a literal dotted key reads like a nested one
    assert cards["TXN-00002"]["branch_code"] == "B2"
    assert cards["TXN-00002"]["merchant__site__id"] == "S2"  # was null: read as merchant.site
    assert cards["TXN-00002"]["app__v1__build"] == "b2"
    customers = {r["customer_id"]: r for r in lake.rows(spark, CUSTOMERS).collect()}
    assert customers["C00002"]["_nick_"] == "dog"
    assert customers["C00002"]["home_town"] == "KL"
    assert customers["C00002"]["name__first"] == "Bob"
    # Published columns are plain identifiers, so every SQL engine and Glue takes them as they are.
    columns = lake.catalog.current(CUSTOMERS, day).columns
    assert all(c.replace("_", "").isalnum() for c in columns)


def test_a_key_holding_a_value_in_one_record_and_an_object_in_another_publishes_both(lake, spark):
    """{"note": "x"} beside {"note": {"by": ..}}: the object's keys are published under their
    own columns (they were null), at any depth and whatever the keys are (" by" and "*" are
    not keys to Spark's JSON path), a text that only looks like an object gives them nothing,
    and an object where the type is a number is quarantined naming the field (ADR-0189)."""
    day = "2026-03-02"
    records = [
        {**card(0, day), "note": "x", "points": 1},
        {**card(1, day), "note": {"by": "ops", "tag": {"id": "T1"}}, "points": 2},
        {**card(2, day), "note": '{"by": "not a key"}'},
        {**card(3, day), "points": {"earned": 3}},
        {**card(4, day), "note": {" by": "lead", "*": "star", "tag": "plain"}},
    ]
    lake.deliver(CARDS, day, "shapes.json", _lines(records))
    assert lake.profile(CARDS, day).success
    result = lake.promote(CARDS, day)
    assert result.success, failure_message(result)

    rows = {r["transaction_id"]: r.asDict() for r in lake.rows(spark, CARDS).collect()}
    columns = ("note", "note__by", "note__tag", "note__tag__id", "note___by", "note___", "points")
    published = {txn: tuple(row[c] for c in columns) for txn, row in rows.items()}
    assert published == {
        "TXN-00000": ("x", None, None, None, None, None, 1),
        "TXN-00001": ('{"by":"ops","tag":{"id":"T1"}}', "ops", '{"id":"T1"}', "T1", None, None, 2),
        "TXN-00002": ('{"by": "not a key"}', None, None, None, None, None, None),
        "TXN-00004": (
            '{" by":"lead","*":"star","tag":"plain"}',
            None,
            "plain",
            None,
            "lead",
            "star",
            None,
        ),
    }
    assert all(row["points__earned"] is None for row in rows.values())
    quarantined = spark.read.parquet(lake.storage.uri(f"quarantine/{CARDS}/")).collect()
    assert [
        (q["transaction_id"], q["_reject_reasons"], q["points__earned"]) for q in quarantined
    ] == [("TXN-00003", 'points: cannot read {"earned":3} as integer', 3)]


# --- item 7: what a record is ---------------------------------------------------------------------

CARD_LINES = [card(n, "2026-03-02") for n in range(3)]
ODD_SHAPES = {
    # name: (source, file name, content, rows published, rows quarantined)
    "a JSON line that is an array": (
        CARDS,
        "array-line.json",
        _lines(CARD_LINES) + json.dumps(CARD_LINES[:2]) + "\n",
        3,
        1,
    ),
    "a pretty-printed JSON array": (CARDS, "pretty.json", json.dumps(CARD_LINES, indent=2), 3, 0),
    "a JSON array with a non-object element": (
        CARDS,
        "mixed-array.json",
        json.dumps([*CARD_LINES, 5]),
        3,
        1,
    ),
    "JSON lines with a BOM, a blank line, a null line and CRLF": (
        CARDS,
        "crlf.json",
        "\ufeff"
        + _lines(CARD_LINES[:1]).replace("\n", "\r\n")
        + "\n  \nnull\n"
        + _lines(CARD_LINES[1:]),
        3,
        1,
    ),
    "a CSV with a quoted newline and a doubled quote": (
        CUSTOMERS,
        "multiline.csv",
        'customer_id,name,segment,snapshot_date\nC00001,"Lee\nAh ""Boy""",retail,2026-03-02\n'
        "C00002,Tan,retail,2026-03-02\n",
        2,
        0,
    ),
}


@pytest.mark.parametrize("shape", list(ODD_SHAPES))
def test_valid_odd_files_publish_with_profiler_and_spark_agreeing(lake, spark, shape):
    source, name, content, published, quarantined = ODD_SHAPES[shape]
    day = "2026-03-02"
    lake.deliver(source, day, name, content)
    assert lake.profile(source, day).success
    [record] = lake.registry.raw_files(source)
    assert record.status == "PROFILED"
    assert record.row_count + record.malformed_rows == published + quarantined
    result = lake.promote(source, day)
    assert result.success, failure_message(result)
    assert lake.catalog.current(source, day).row_count == published
    if shape.startswith("a CSV"):
        names = {r["customer_id"]: r["name"] for r in lake.rows(spark, source).collect()}
        assert names["C00001"] == 'Lee\nAh "Boy"'


AGREEMENT_SHAPES = [
    # (format, encoding, bytes): every odd shape we know; profiler and Spark must count alike.
    *[("json", "UTF-8", content.encode()) for _, _, content, _, _ in list(ODD_SHAPES.values())[:4]],
    ("json", "UTF-8", b'{"a": 1}\n{"a": {"b": [1, 2]}}\n{}\n"text"\n{"a": 2'),  # no final newline
    ("json", "UTF-8", b'{"a": 1} {"a": 2}\n[]\n[{"a": 3}]\n'),
    # More than one value on a line, which pyarrow reads as several rows and Spark's parsers
    # as the first alone: each such line one malformed record (NaN stays a value).
    ("json", "UTF-8", b'{"a": 1} {"a": 2}\n{"a": 3}{"a": 4}\n\n \r\n{"a": 5}\r{"a": 6}\n{"a": 7}'),
    ("json", "UTF-8", b'{"a": 1} {"a": 2}\n\n\n{"a": 3}\n'),  # fewer rows than lines
    ("json", "UTF-8", b'{"a": 1}\r\n{"a": 2} {"a": 3}\r\n\r\n'),  # as many: a blank last line
    ("json", "UTF-8", b'{"a": 1}, {"a": 2}]\n{"a": 3}\n{"a": 4},0] {"a": 5}\n'),  # "]" closes
    (
        "json",
        "UTF-8",
        b'{"a": 1} {"a": 2}\n{"a": 7}, {"a": 8}\n{"a": 9}]\n{"a": 10} x\n{"a": NaN}\n\n{"a": 11}\n',
    ),
    # Lines of Unicode line separators alone (U+0085, U+2028, U+2029), which Java's regular
    # expressions end a line at, and one of ASCII whitespace alone: only the last is blank.
    ("json", "UTF-8", b'{"a": 1}\n\xc2\x85\n\xe2\x80\xa8\n \xe2\x80\xa9\n \x0c\t\n{"a": 2}\n'),
    # Bytes that are not UTF-8 (a lone byte, an overlong NUL, one in a name, an encoded
    # surrogate), which Spark's parser read as U+FFFD; and NULs, from which json.loads of bytes
    # guessed UTF-16: each such line is malformed.
    (
        "json",
        "UTF-8",
        b'{"a": 1}\n{"a": "\xff"}\n{"a": "\xc0\x80"}\n{"\x80": 1}\n{"a": "\xed\xa0\x80"}\n'
        b'{\x00}\x00\n\xef\xbb\xbf{"a": 2}\n',
    ),
    # Single quotes, which Spark's parser takes by default and the profiler's do not.
    ("json", "UTF-8", b'{\'a\': 1}\n{"a": \'x\'}\n{"a": "it\'s"}\n'),
    ("json", "UTF-8", b' \n [\n {"a": 1},\n null, [1], {"a": {"b": 2}}\n ]\n'),
    ("json", "UTF-16", '{"a": "José"}\n{"a": "Ærø"}\n'.encode("utf-16")),
    # Every line an object (the reader of objects_only files): a byte-order mark, CRLF, blank
    # and indented lines, nesting, a dotted key, text, numbers, arrays and nulls as values.
    (
        "json",
        "UTF-8",
        b'\xef\xbb\xbf{"a": "1", "b": {"c": 2}}\r\n\n   \n{"a": 3.50, "b.c": "x", "d": null}\n'
        b'\t{"a": [1, {"e": true}], "b": {"c": {"f": 1}}}\n{"a": "caf\xc3\xa9", "b": 7}',
    ),
    ("json", "UTF-8", b"{}\n\n{}\n"),  # objects without a field: nothing for Spark's reader
    ("csv", "UTF-8", b'a,b\r\n1,2\r\n\r\n3,"x\r\ny"\r\n'),
    ("csv", "UTF-8", b'\xef\xbb\xbfa,b\n1,"say ""hi"""\n,\n'),
    ("csv", "ISO-8859-1", 'a,b\n1,José\n2,"Mü\nller"\n'.encode("latin-1")),
]


@pytest.mark.parametrize(("fmt", "encoding", "content"), AGREEMENT_SHAPES)
def test_profiler_and_spark_count_the_same_records(spark, tmp_path, fmt, encoding, content):
    from lake_assets.ingestion.curated_columns import column_name
    from lake_assets.ingestion.payload_errors import MalformedPayload
    from lake_assets.ingestion.payload_reading import is_json_array, utf8_view
    from lake_assets.ingestion.profiling import profile_file
    from lake_assets.ingestion.promotion_plan import PlannedInput
    from lake_assets.ingestion.raw_records import read_records

    path = tmp_path / f"payload.{fmt}"
    path.write_bytes(content)
    with utf8_view(path, encoding) as text:
        try:
            profile = profile_file(text, fmt)
        except MalformedPayload:
            return  # dead-lettered: never promoted, nothing to agree on
        group = PlannedInput(
            version="v",
            format=fmt,
            uris=(path.as_uri(),),
            keys=("k",),
            column_map={f.name: column_name(f.name) for f in profile.fields},
            json_array=fmt == "json" and is_json_array(text),
            encoding=encoding,
        )
    records = read_records(spark, group)
    assert records.count() == profile.row_count + profile.malformed_rows
    assert records.filter("_corrupt_record IS NOT NULL").count() == profile.malformed_rows
    if (
        fmt == "json"
        and encoding == "UTF-8"
        and not group.json_array
        and not profile.malformed_rows
    ):
        # What the plan does with such a file: Spark's JSON reader, the same rows and values.
        fast = read_records(spark, replace(group, objects_only=True))
        assert sorted(map(tuple, fast.collect())) == sorted(map(tuple, records.collect()))


@pytest.mark.parametrize(
    ("fmt", "objects_only", "json_array"),
    [("json", False, False), ("json", True, False), ("json", False, True), ("csv", False, False)],
)
def test_every_record_names_the_file_it_came_from(spark, tmp_path, fmt, objects_only, json_array):
    """Each reader of raw_records (text lines, Spark's JSON reader, whole documents, CSV) gives
    every record its own file's path, also where Spark reads several files in one task."""
    from lake_assets.ingestion.curated_columns import FILE_PATH
    from lake_assets.ingestion.promotion_plan import PlannedInput
    from lake_assets.ingestion.raw_records import read_records

    paths = []
    for n in range(3):
        rows = [{"a": str(n), "b": str(i)} for i in range(n + 2)]
        if fmt == "csv":
            text = "a,b\n" + "".join(f"{r['a']},{r['b']}\n" for r in rows)
        elif json_array:
            text = json.dumps(rows)
        else:
            text = "".join(json.dumps(r) + "\n" for r in rows)
        path = tmp_path / f"file-{n}.{fmt}"
        path.write_text(text)
        paths.append(path)
    group = PlannedInput(
        version="v",
        format=fmt,
        uris=tuple(p.as_uri() for p in paths),
        keys=tuple(p.name for p in paths),
        column_map={"a": "a", "b": "b"},
        json_array=json_array,
        objects_only=objects_only,
    )
    records = read_records(spark, group)
    assert records.rdd.getNumPartitions() < len(paths)  # two files, at least, share a task
    named = sorted((r["a"], unquote(r[FILE_PATH].rsplit("/", 1)[-1])) for r in records.collect())
    assert named == sorted((str(n), f"file-{n}.{fmt}") for n in range(3) for _ in range(n + 2))


def test_audit_names_the_file_and_an_operator_sets_it_aside_then_restores_it(
    lake, spark, monkeypatch
):
    day = "2026-03-02"
    lake.deliver_cards(day, range(0, 5), name="good.json")
    lake.deliver_cards(day, range(5, 8), name="disputed.json")
    assert lake.profile(CARDS, day).success
    # A file whose profiled count Spark does not reproduce (a reader disagreement we have not
    # met yet): the audit must name it, and the operator must be able to set it aside.
    disputed = next(r for r in lake.registry.raw_files(CARDS) if r.key.endswith("disputed.json"))
    lake.registry.put_raw_file(replace(disputed, row_count=disputed.row_count + 1))
    failed = lake.promote(CARDS, day)
    assert not failed.success
    message = failure_message(failed)
    assert disputed.key in message and "good.json" not in message
    assert "lake raw set-aside" in message

    assert (
        _lake_cli(lake, monkeypatch, "raw", "set-aside", CARDS, disputed.key, "--reason", "x") == 0
    )
    aside = lake.registry.get_raw_file(CARDS, disputed.key)
    assert aside.status == "SET_ASIDE" and aside.reason == "x"
    assert aside.row_count == 4 and aside.malformed_rows == 0  # counts kept for reconciliation
    assert aside.decisions[-1]["action"] == "set-aside" and aside.decisions[-1]["by"]
    assert lake.storage.exists(disputed.key)  # kept in raw, byte for byte
    result = lake.promote(CARDS, day)
    assert result.success, failure_message(result)
    assert lake.catalog.current(CARDS, day).row_count == 5
    assert any(a.kind == "raw.set_aside" for a in lake.notifier.alerts())

    assert _lake_cli(lake, monkeypatch, "raw", "restore", CARDS, disputed.key) == 0
    restored = lake.registry.get_raw_file(CARDS, disputed.key)
    assert restored.status == "PROFILED" and [d["action"] for d in restored.decisions] == [
        "set-aside",
        "restore",
    ]


def test_a_line_of_two_objects_is_one_record_quarantined_with_its_text(lake, spark):
    """pyarrow reads `{..} {..}` as two rows, Spark's parsers the first object alone: such a
    line is one malformed record to both, kept whole with its reason, never a lost second card.
    A blank line that would hide it from the profiler's count makes the audit refuse the file."""
    day = "2026-03-02"
    cards = [json.dumps(card(n, day)) for n in range(5)]
    lake.deliver(
        CARDS, day, "two.json", "\n".join([cards[0], f"{cards[1]} {cards[2]}", *cards[3:]])
    )
    assert lake.profile(CARDS, day).success
    [record] = lake.registry.raw_files(CARDS)
    assert (record.row_count, record.malformed_rows) == (3, 1)
    result = lake.promote(CARDS, day)
    assert result.success, failure_message(result)
    assert lake.catalog.current(CARDS, day).row_count == 3
    quarantined = spark.read.parquet(lake.storage.uri(f"quarantine/{CARDS}/"))
    [bad] = quarantined.collect()
    assert bad["_reject_reasons"].startswith("malformed record")
    assert json.loads(bad["_raw_record"])["_corrupt_record"] == f"{cards[1]} {cards[2]}"

    later = "2026-03-03"
    hidden = [json.dumps(card(n, later)) for n in range(3)]
    lake.deliver(CARDS, later, "hidden.json", f"{hidden[0]} {hidden[1]}\n\n{hidden[2]}\n")
    assert lake.profile(CARDS, later).success
    failed = lake.promote(CARDS, later)
    assert not failed.success and "hidden.json" in failure_message(failed)


def test_a_record_profiled_malformed_is_not_published_where_spark_reads_it_whole(lake, spark):
    """A JSON array's element that is a string holding an object (JSON encoded twice) is
    malformed to the profiler; Spark reads an array's elements as text, so it read the string's
    content as a record. Delivered beside a file where Spark finds one malformed record more
    than profiling (`-Inf`: pyarrow reads it, Jackson does not), the totals agree, yet the
    audit names the file that would publish a record profiling rejected (ADR-0185)."""
    day = "2026-03-02"
    cards = [card(n, day) for n in range(5)]
    lake.deliver(CARDS, day, "twice.json", json.dumps([cards[0], json.dumps(cards[1]), cards[2]]))
    inf = json.dumps(cards[4]).replace('"amount": 12.5', '"amount": -Inf')
    lake.deliver(CARDS, day, "inf.json", f"{json.dumps(cards[3])}\n{inf}\n")
    assert lake.profile(CARDS, day).success
    profiled = {r.key.endswith("twice.json"): r for r in lake.registry.raw_files(CARDS)}
    assert (profiled[True].row_count, profiled[True].malformed_rows) == (2, 1)
    assert (profiled[False].row_count, profiled[False].malformed_rows) == (2, 0)
    failed = lake.promote(CARDS, day)
    assert not failed.success
    message = failure_message(failed)
    assert "Spark found 1 malformed records, profiling 1" in message
    assert "twice.json: Spark found 0 malformed records, profiling 1" in message
    assert "inf.json:" not in message  # one more malformed record is quarantined, not refused


def test_a_csv_whose_lines_end_in_two_ways_is_dead_lettered_and_its_day_publishes(lake, spark):
    """A CSV whose header ends in CRLF and a record in LF was read by Spark as one record, and
    the audit refused the day; one whose header ends in LF kept a CR in a record's last value.
    Profiling now dead-letters the file naming the record, and the day's other file publishes."""
    day = "2026-03-02"
    header = "customer_id,name,segment,snapshot_date"
    mixed = f"{header}\r\nC00001,Ann,retail,{day}\nC00002,Bob,retail,{day}\r\n"
    lake.deliver(CUSTOMERS, day, "mixed.csv", mixed.encode())
    # Windows line endings throughout, the last value a text: read with no CR left in it.
    windows = "".join(
        f"{line}\r\n"
        for line in (
            "customer_id,name,snapshot_date,segment",
            *(f"C0000{n},N{n},{day},retail" for n in (3, 4)),
        )
    )
    lake.deliver(CUSTOMERS, day, "windows.csv", windows)
    assert lake.profile(CUSTOMERS, day).success
    [dead] = [r for r in lake.registry.raw_files(CUSTOMERS) if r.status == "DEAD_LETTER"]
    assert dead.key.endswith("mixed.csv")
    assert dead.reason.startswith(
        "not valid CSV: the file's first line break is CRLF and record 1 ends with LF; "
    )
    result = lake.promote(CUSTOMERS, day)
    assert result.success, failure_message(result)
    rows = {r["customer_id"]: r for r in lake.rows(spark, CUSTOMERS).collect()}
    assert sorted(rows) == ["C00003", "C00004"]
    assert {r["segment"] for r in rows.values()} == {"retail"}


# --- item 8: no rows, no evidence ------------------------------------------------------------------


def test_a_field_with_no_values_keeps_its_type(lake):
    first, second = "2026-03-02", "2026-03-03"
    lake.deliver(CUSTOMERS, first, "full.csv", _customers_csv(first, range(3)))
    lake.deliver(CARDS, first, "cards.json", _lines(card(n, first) for n in range(3)))
    # Header only; and card lines whose amount is null throughout.
    lake.deliver(CUSTOMERS, second, "header-only.csv", _customers_csv(second, []))
    nulls = [{**card(n, second), "amount": None} for n in range(3)]
    lake.deliver(CARDS, second, "null-amounts.json", _lines(nulls))
    for day in (first, second):
        for source in (CUSTOMERS, CARDS):
            assert lake.profile(source, day).success
    for source in (CUSTOMERS, CARDS):
        versions = lake.registry.versions(source)
        assert [v.status for v in versions] == ["ACTIVE"], versions[-1].violations
    assert lake.registry.versions(CARDS)[0].fields["amount"] == "double"


def test_an_empty_snapshot_is_held_until_confirmed(lake, spark, monkeypatch):
    day = "2026-03-02"
    lake.deliver(CUSTOMERS, day, "customers.csv", _customers_csv(day, range(6)))
    assert lake.profile(CUSTOMERS, day).success
    assert lake.promote(CUSTOMERS, day).success
    lake.deliver(CUSTOMERS, day, "customers-resent.csv", _customers_csv(day, []))
    assert lake.profile(CUSTOMERS, day).success
    empty = next(r for r in lake.registry.raw_files(CUSTOMERS) if "resent" in r.key)
    assert empty.status == "HELD_EMPTY"
    assert any(
        a.kind == "snapshot.empty_held" and a.detail["raw_key"] == empty.key
        for a in lake.notifier.alerts()
    )
    result = lake.promote(CUSTOMERS, day)
    assert result.success, failure_message(result)
    assert lake.catalog.current(CUSTOMERS, day).row_count == 6  # not "everyone was deleted"

    assert _lake_cli(lake, monkeypatch, "raw", "confirm-empty", CUSTOMERS, empty.key) == 0
    assert lake.registry.get_raw_file(CUSTOMERS, empty.key).status == "PROFILED"
    result = lake.promote(CUSTOMERS, day)
    assert result.success, failure_message(result)
    assert lake.catalog.current(CUSTOMERS, day).row_count == 0


# --- encodings ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "codec", "declared"),
    [("latin-1", "latin-1", "ISO-8859-1"), ("UTF-16", "utf-16", "UTF-16")],
)
def test_a_declared_encoding_is_read_by_profiler_and_spark(lake, spark, encoding, codec, declared):
    config = lake.root.parent / "sources.yaml"
    config.write_text(
        "sources:\n  customers:\n    format: csv\n    event_time_field: snapshot_date\n"
        f"    delivery: snapshot\n    encoding: {encoding}\n"
        "    history:\n      keys: [customer_id]\n"
    )
    sources = load_sources(config)
    assert sources[CUSTOMERS].encoding == declared
    lake.settings = replace(lake.settings, sources={**lake.settings.sources, **sources})
    day = "2026-03-02"
    text = "customer_id,name,snapshot_date\nC00001,José Müller,2026-03-02\nC00002,Søren Ærø,2026-03-02\n"
    lake.deliver(CUSTOMERS, day, "names.csv", text.encode(codec))
    assert lake.profile(CUSTOMERS, day).success
    [record] = lake.registry.raw_files(CUSTOMERS)
    assert record.status == "PROFILED" and record.row_count == 2
    profile = lake.registry.versions(CUSTOMERS)[0].profiles
    assert profile["snapshot_date"]["type"] == "date"
    result = lake.promote(CUSTOMERS, day)
    assert result.success, failure_message(result)
    names = {r["customer_id"]: r["name"] for r in lake.rows(spark, CUSTOMERS).collect()}
    assert names == {"C00001": "José Müller", "C00002": "Søren Ærø"}


def test_an_unknown_encoding_fails_at_load_naming_file_and_key(tmp_path):
    config = tmp_path / "sources.yaml"
    config.write_text(
        "sources:\n  s:\n    format: csv\n    event_time_field: d\n    encoding: klingon-8\n"
    )
    with pytest.raises(ValueError, match=r"sources\.s\.encoding: unsupported encoding .klingon-8"):
        load_sources(config)
