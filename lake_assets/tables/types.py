"""The lake's field type lattice: what a profiled value can be and which changes are widenings.

Types are deliberately few. A registry compares schemas across files written by systems we do
not control, so the lattice only distinguishes what changes how a consumer must read a value.
"""

from __future__ import annotations

import re
from typing import Literal

FieldType = Literal["null", "boolean", "integer", "double", "date", "timestamp", "string", "json"]
FIELD_TYPES: tuple[FieldType, ...] = (
    "null",
    "boolean",
    "integer",
    "double",
    "date",
    "timestamp",
    "string",
    "json",
)

# Lossless promotions a reader of the wider type applies to data of the narrower type.
_WIDENS_TO: dict[str, frozenset[str]] = {
    "integer": frozenset({"double"}),
    "date": frozenset({"timestamp"}),
}


# "null" is a field no payload has given a value yet (a header-only file, a key null in every
# record): no evidence of a type, so the first values set one without a breaking change. Its
# column holds only nulls, which every type represents (ADR-0031).
UNTYPED = "null"


def is_widening(old: str, new: str) -> bool:
    """True when every value of `old` is representable, losslessly, as `new`."""
    if old == UNTYPED:
        return new != UNTYPED
    return new in _WIDENS_TO.get(old, frozenset())


def is_narrowing(old: str, new: str) -> bool:
    return is_widening(new, old)


def widest(a: str, b: str) -> str:
    """The type that holds values of both, or "string" when neither promotes to the other."""
    if a == b or is_widening(b, a):
        return a
    if is_widening(a, b):
        return b
    return "string"


# How each engine stores a field type. "null" (no values yet) and "json" (kept as its text)
# are strings everywhere: a nullable string loses nothing.
SPARK_TYPES = {
    "null": "string",
    "boolean": "boolean",
    "integer": "bigint",
    "double": "double",
    "date": "date",
    "timestamp": "timestamp",
    "string": "string",
    "json": "string",
    # Not a profiled type: a column a source delivers as a map (the CUR's resource_tags),
    # kept as one so readers look keys up rather than parse text.
    "map<string,string>": "map<string,string>",
    # Not profiled either: the cost ledger's driver values and its exact dollars.
    "map<string,double>": "map<string,double>",
    "decimal(38,9)": "decimal(38,9)",
}
# Glue (Hive DDL) names each of these types as Spark does; one table, named for each reader.
GLUE_TYPES = SPARK_TYPES
# pyarrow type aliases (pyarrow.type_for_alias), for readers outside Spark.
ARROW_TYPES = {
    "null": "string",
    "boolean": "bool",
    "integer": "int64",
    "double": "double",
    "date": "date32",
    "timestamp": "timestamp[us, tz=UTC]",
    "string": "string",
    "json": "string",
}


def field_type_of_spark(spark_type: str) -> str:
    """The field type of a Spark column type (its simpleString); a type outside the lattice
    (a struct, an array) is kept as Spark names it."""
    for field, spark in SPARK_TYPES.items():
        if spark == spark_type and field not in ("null", "json"):
            return field
    return spark_type


def arrow_type(kind: str):
    """The pyarrow type of a field type, including the ledger's decimal and map types."""
    import pyarrow as pa  # only where a frame is built from or read as Arrow

    if kind in ARROW_TYPES:
        return pa.type_for_alias(ARROW_TYPES[kind])
    if decimal := re.fullmatch(r"decimal\((\d+),(\d+)\)", kind):
        return pa.decimal128(int(decimal[1]), int(decimal[2]))
    if mapping := re.fullmatch(r"map<(\w+),(\w+)>", kind):
        return pa.map_(arrow_type(mapping[1]), arrow_type(mapping[2]))
    raise ValueError(f"no Arrow type for the field type {kind!r}")


def field_type_of_arrow(kind) -> str:
    """The field type of a pyarrow type (a Parquet file's column read outside Spark); a type
    outside the lattice is kept as pyarrow names it."""
    import pyarrow as pa  # only where Parquet is read outside Spark

    if pa.types.is_dictionary(kind):
        return field_type_of_arrow(kind.value_type)
    if pa.types.is_map(kind):
        return f"map<{field_type_of_arrow(kind.key_type)},{field_type_of_arrow(kind.item_type)}>"
    for test, name in (
        (pa.types.is_string, "string"),
        (pa.types.is_large_string, "string"),
        (pa.types.is_floating, "double"),
        (pa.types.is_integer, "integer"),
        (pa.types.is_decimal, "decimal"),
        (pa.types.is_timestamp, "timestamp"),
        (pa.types.is_date, "date"),
        (pa.types.is_boolean, "boolean"),
    ):
        if test(kind):
            return name
    return str(kind)
