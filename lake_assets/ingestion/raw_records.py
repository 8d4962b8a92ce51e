"""Raw payloads as records in Spark, counted exactly as the profiler counts them.

What a record is, per payload layout (profiling.py reads the same bytes the same way):
- JSON lines: each line that is not blank; a line that is not one JSON object (an array, a
  scalar, `null`, junk) is one malformed record, never expanded into several rows.
- JSON array: each element of the one array; an element that is not an object is malformed.
- JSON lines that profiling found all to be objects (`PlannedInput.objects_only`): read by
  Spark's own JSON reader, which frames such lines exactly as above and skips the text pass
  (ADR-0123): the same parser, so the same values, a fifth of promotion's time; it stops at
  a line it cannot parse, and promotion then reads the files as text (ADR-0180).
- CSV: each record after the header, RFC 4180 style: a quoted value may hold newlines, and a
  quote inside one is doubled.
Spark's own JSON reader expands arrays into rows and its CSV reader splits quoted newlines by
default: either makes the two counts differ and the audit refuse the partition for good.

Field names come from payloads, so no name is ever parsed as an expression: JSON fields are
taken with getField from a parsed struct, CSV columns by their position in the header.

A record's file is `input_file_name()` where Hadoop's text, JSON and CSV readers read it, not
`_metadata.file_path`: the metadata column costs a copy of every row it joins (a tenth of
promotion's time; ADR-0180). Both report the path percent-encoded; the binary reader's `path`
(custom readers, arrays, other encodings) is plain (`reports_encoded_paths`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lake_assets.ingestion.curated_columns import CORRUPT, FILE_PATH
from lake_assets.ingestion.promotion_plan import PlannedInput
from lake_assets.pipelines.hooks import record_texts
from lake_assets.runtime.columns import valid_utf8

_TEXT = "_record_text"
_OBJECT = "_record_is_object"
_PARSED = "_record_parsed"
# Blank as the profiler's bytes.strip() sees it: Java's \s is the same six ASCII characters, but
# its $ also matches before a final U+0085, U+2028 or U+2029, which makes such a line blank here
# and a malformed record to the profiler; \z is the end of the text alone.
_BLANK = r"^\s*\z"
# Jackson, Spark's JSON parser, takes 'single-quoted' names and text by default; the profiler's
# parsers (pyarrow, json.loads) do not, and what they find malformed must be malformed here:
# a Python dict's repr logged as a line would otherwise be published as a record.
_STRICT = {"allowSingleQuotes": "false"}
_PARSE = {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT, **_STRICT}
# How Spark (3.5 and 4.x) names the failure of a FAILFAST read at a line it cannot parse.
MALFORMED_ON_FAST_PATH = "MALFORMED_RECORD_IN_PARSING"


def read_records(spark: SparkSession, group: PlannedInput, reader=None) -> DataFrame:
    """One row per record of the group's files: each delivered field of `group.column_map`
    as text under its canonical column, CORRUPT (a malformed record's text) and FILE_PATH.
    A `custom` group is read by the pipeline's `reader` hook, as the profiler read it."""
    if group.format == "csv":
        return _csv_records(spark, group)
    if group.format == "custom":
        return _json_records(_custom_texts(spark, group, reader), group)
    if group.objects_only:
        return _object_lines(spark, group)
    return _json_records(_json_texts(spark, group), group)


def reports_encoded_paths(group: PlannedInput) -> bool:
    """Whether `read_records` takes the group's files from Hadoop's text, JSON or CSV readers,
    which report a path percent-encoded, rather than from its binary reader, which reports it
    plain (custom readers, JSON arrays, encodings other than UTF-8)."""
    return group.format == "csv" or _utf8_lines(group)


def _utf8_lines(group: PlannedInput) -> bool:
    """Whether the group's files are JSON lines in UTF-8, which Spark's text reader reads."""
    return group.format == "json" and not group.json_array and group.encoding == "UTF-8"


def _custom_texts(spark: SparkSession, group: PlannedInput, reader) -> DataFrame:
    """(record text, file path): each record the reader returns for a file's bytes, as the JSON
    text the profiler profiled (hooks.record_texts). A Python UDF: Spark 3.5 and 4 alike."""
    if reader is None:
        raise ValueError(f"{group.keys[0]}...: format custom needs the pipeline's reader hook")
    encoding = group.encoding

    def texts(content):
        return record_texts(reader, bytes(content), encoding)

    files = spark.read.format("binaryFile").load(list(group.uris))
    records = F.udf(texts, T.ArrayType(T.StringType()))(F.col("content"))
    return files.select(F.explode(records).alias(_TEXT), F.col("path").alias(FILE_PATH))


# --- JSON --------------------------------------------------------------------------------------


def _json_texts(spark: SparkSession, group: PlannedInput) -> DataFrame:
    """(record text, file path): a line or an array element each; null for a null element."""
    uris = list(group.uris)
    if _utf8_lines(group):
        lines = spark.read.option("lineSep", "\n").text(uris)
        return lines.select(
            F.col("value").alias(_TEXT), F.input_file_name().alias(FILE_PATH)
        ).filter(_not_blank(F.col(_TEXT)))
    # Read whole: an array is one document, and Spark's text reader knows only UTF-8.
    documents = (
        spark.read.format("binaryFile")
        .load(uris)
        .select(
            F.regexp_replace(F.decode("content", group.encoding), "^\ufeff", "").alias("doc"),
            F.col("path").alias(FILE_PATH),
        )
    )
    if group.json_array:
        # As text, so that an element that is not an object stays one (malformed) record.
        elements = F.explode_outer(F.from_json("doc", "array<string>"))
        return documents.select(elements.alias(_TEXT), FILE_PATH)
    lines = documents.select(F.explode(F.split("doc", "\n")).alias(_TEXT), FILE_PATH)
    return lines.filter(_not_blank(F.col(_TEXT)))


# A regular expression runs on a copy of the text decoded to Java's strings, so the checks of
# every record first ask what a record's line almost always is: one that starts with "{" (an
# Or does not evaluate its right side when its left is true). Rows and reasons are the same.
def _not_blank(text: Column) -> Column:
    return text.startswith("{") | ~text.rlike(_BLANK)


def _without_bom(text: Column) -> Column:
    return F.when(text.startswith("\ufeff"), F.regexp_replace(text, "^\ufeff", "")).otherwise(text)


def _is_object(text: Column) -> Column:
    return text.startswith("{") | text.rlike(r"^\s*\{")


def _one_value(text: Column) -> Column:
    """Whether the text holds one JSON value and nothing after it. from_json reads the first
    value and ignores what follows (`{..} {..}`, `{..} x`: the second record would be lost), so
    the text is read again as the first element of an array with a second one after it: one
    value makes two elements; anything after it (a value, a stray comma) makes another number
    or no JSON at all. A text with a "]" could close that array itself (`{..}, {..}]`: two
    elements, both its own); there, one more element after it must make one more. The same
    parser and options as from_json, so a value it accepts (NaN, say) is one value here too.
    Only where every OR before it is false: a malformed text costs nothing more."""

    def elements(after: str) -> Column:
        wrapped = F.concat(F.lit("["), text, F.lit(after))
        return F.size(F.from_json(wrapped, "array<string>", _PARSE))

    one = (elements(",0]") == 2) & (~text.contains("]") | (elements(",0,0]") == 3))
    return F.coalesce(one, F.lit(False))


def _json_records(texts: DataFrame, group: PlannedInput) -> DataFrame:
    names = list(group.column_map)
    keys = _KeyTree(names, group)
    schema = _text_schema(keys.tree).add(CORRUPT, T.StringType())
    text = _without_bom(F.col(_TEXT))
    # Parsed in a projection of its own: every field below reads the parsed record, and inlined
    # into each of them from_json would run once per field (Spark keeps a costly expression
    # that is used more than once in its own projection rather than copy it).
    parsed = texts.select(
        F.col(_TEXT),
        F.col(FILE_PATH),
        _is_object(text).alias(_OBJECT),
        F.from_json(text, schema, _PARSE).alias(_PARSED),
    )
    # Only an object is a record: from_json reads arrays and scalars differently across versions.
    malformed = (
        F.col(_TEXT).isNull() | ~F.col(_OBJECT) | F.col(_PARSED).getField(CORRUPT).isNotNull()
    )
    if not group.json_array:  # an array's element is one value by construction
        malformed = malformed | ~_one_value(text)
    if _utf8_lines(group):  # decoded from another encoding or by a reader: valid text
        # Spark's text reader keeps a line's bytes as they are, and its JSON parser reads a bad
        # sequence as U+FFFD: published with a character its file never held (ADR-0183).
        malformed = malformed | ~valid_utf8(F.col(_TEXT))
    record = F.when(~malformed, F.col(_PARSED))
    reparsed = keys.reparsed(F.when(~malformed, text)) if keys.runs_below_a_value else None
    return parsed.select(
        *[
            _or_nothing(_json_field(record, name, keys, group, reparsed)).alias(
                group.column_map[name]
            )
            for name in names
        ],
        F.when(malformed, F.coalesce(F.col(_TEXT), F.lit("null"))).alias(CORRUPT),
        F.col(FILE_PATH),
    )


def _object_lines(spark: SparkSession, group: PlannedInput) -> DataFrame:
    """`_json_records` of JSON-lines files in which profiling found no line that is not one
    object. Spark's JSON reader parses each line with the parser from_json uses there, and for
    such a file it frames records alike: a blank line is none, a byte-order mark or CRLF is
    skipped. It cannot tell an array line from the records it expands it into, which is why
    only these files come here. Nor does it keep a line's text unless asked (the corrupt-record
    column, a sixth of the read's time), so it is asked to stop instead (FAILFAST): were a line
    malformed after all (the profiler and Spark disagreeing), the job fails with
    MALFORMED_ON_FAST_PATH and promotion reads the files as text (ADR-0180)."""
    names = list(group.column_map)
    keys = _KeyTree(names, group)
    if keys.runs_below_a_value:  # read from a record's text, which this reader does not keep
        return _json_records(_json_texts(spark, group), group)
    schema = _text_schema(keys.tree)
    # Columns renamed by position, then the struct named by alias: no field name is parsed.
    positional = [f"_c{i}" for i in range(len(schema.fields))]
    record = F.struct(
        *[F.col(c).alias(f.name) for c, f in zip(positional, schema.fields, strict=True)]
    )
    values = {name: _json_field(record, name, keys, group) for name in names}
    if all(value is None for value in values.values()):
        # Spark's reader refuses a read of no column at all: no field to read.
        return _json_records(_json_texts(spark, group), group)
    read = (
        spark.read.schema(schema)
        .options(mode="FAILFAST", lineSep="\n", **_STRICT)
        .json(list(group.uris))
    )
    frame = read.select("*", F.input_file_name()).toDF(*positional, FILE_PATH)
    return frame.select(
        *[_or_nothing(values[name]).alias(group.column_map[name]) for name in names],
        F.lit(None).cast("string").alias(CORRUPT),
        F.col(FILE_PATH),
    )


def _key_paths(name: str, group: PlannedInput) -> list[tuple[str, ...]]:
    """The keys a dotted profile name stands for, whichever the record has being read: nested
    at every dot, the one key of that name ("ref.no", ADR-0029), and the sequences profiling
    recorded where the name tells neither ({"merchant": {"site.id": ..}}, ADR-0186)."""
    ways = [tuple(name.split(".")), *map(tuple, group.key_paths.get(name, ())), (name,)]
    return list(dict.fromkeys(ways))


class _KeyTree:
    """The key paths of a group's profile names (`_key_paths`) as the parse schema's tree of
    nested objects, in which a leaf is None. A key that one record holds a value at and
    another an object ({"a": 1}, {"a": {"b": 2}}) is a leaf: read as text, it holds the
    object's JSON. A path that runs on below it is read from the record's text parsed again
    with that key as an object (`reparsed`), which gives nothing where the record holds a
    value there, or a text that merely looks like an object (ADR-0189)."""

    def __init__(self, names: list[str], group: PlannedInput):
        self.paths = [path for name in names for path in _key_paths(name, group)]
        self.values = set(self.paths)
        self.tree = _tree(self.paths)
        self.runs_below_a_value = any(self.value_above(path) for path in self.paths)

    def value_above(self, path: tuple[str, ...]) -> int:
        """How many of the path's keys lead to the last key above its end that a profiled
        field holds a value at; 0 for none."""
        return max((d for d in range(1, len(path)) if path[:d] in self.values), default=0)

    def reparsed(self, text: Column) -> Callable[[tuple[str, ...]], tuple[Column, dict]]:
        """For a key path's first keys (`prefix`), the value there in the record's `text`
        parsed with each of them an object, and the tree of the keys below it."""

        @functools.cache
        def at(prefix: tuple[str, ...]) -> tuple[Column, dict]:
            n = len(prefix)
            below = _tree([p[n:] for p in self.paths if len(p) > n and p[:n] == prefix])
            schema = _text_schema(below)
            for key in reversed(prefix):
                schema = T.StructType([T.StructField(key, schema, True)])
            value = F.from_json(text, schema, _STRICT)
            for key in prefix:
                value = value.getField(key)
            return value, below

        return at


def _tree(paths: list[tuple[str, ...]]) -> dict:
    """`paths` as nested objects; a key that a path ends at is a leaf (None) for every path."""
    values, tree = set(paths), {}
    for path in paths:
        node = tree
        for depth, part in enumerate(path, start=1):
            if path[:depth] in values:
                node[part] = None
                break
            node = node.setdefault(part, {})
    return tree


def _text_schema(tree: dict) -> T.StructType:
    return T.StructType(
        [
            T.StructField(name, T.StringType() if child is None else _text_schema(child), True)
            for name, child in tree.items()
        ]
    )


def _json_field(
    record: Column, name: str, keys: _KeyTree, group: PlannedInput, reparsed=None
) -> Column | None:
    """The field's value in the parsed record, by whichever of its key paths the record has;
    below a key read as a value, in the record's text parsed again (`_KeyTree.reparsed`)."""
    ways = []
    for path in _key_paths(name, group):
        node, value, rest = keys.tree, record, path
        if above := keys.value_above(path):
            if reparsed is None:
                continue
            (value, node), rest = reparsed(path[:above]), path[above:]
        for part in rest:
            if not isinstance(node, dict) or part not in node:
                break
            node, value = node[part], value.getField(part)
        else:
            if node is None:
                ways.append(value)
    if not ways:  # an object that never held a value of its own: nothing to read
        return None
    return F.coalesce(*ways) if len(ways) > 1 else ways[0]


def _or_nothing(value: Column | None) -> Column:
    return F.lit(None).cast("string") if value is None else value


# --- CSV ---------------------------------------------------------------------------------------


def _csv_records(spark: SparkSession, group: PlannedInput) -> DataFrame:
    frame = (
        spark.read.option("header", True)
        .option("multiLine", True)  # quoted newlines stay inside their record
        .option("escape", '"')  # a doubled quote is a quote, as in RFC 4180 and pyarrow
        .option("encoding", group.encoding)
        .option("mode", "PERMISSIVE")
        .option("inferSchema", False)
        .csv(list(group.uris))
    )
    header = frame.columns
    frame = frame.withColumn(FILE_PATH, F.input_file_name())
    frame = frame.toDF(*[f"_c{i}" for i in range(len(header))], FILE_PATH)
    position = {name: i for i, name in reversed(list(enumerate(header)))}
    return frame.select(
        *[
            (
                F.col(f"_c{position[name]}") if name in position else F.lit(None).cast("string")
            ).alias(column)
            for name, column in group.column_map.items()
        ],
        F.lit(None).cast("string").alias(CORRUPT),
        F.col(FILE_PATH),
    )
