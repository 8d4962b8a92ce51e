"""Column expressions that every Spark a job runs on understands: PySpark 4.x here, 3.5 on
EMR 7.x. A job builds them here when the Python API differs between the two."""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F


def try_cast(column: str, spark_type: str) -> Column:
    """`column` (a name) cast to `spark_type`, null where its value does not fit.

    Spark 3.5's Python API has no `Column.try_cast`; the SQL form is the same cast (TRY mode)
    in both, and unlike a plain cast it does not depend on `spark.sql.ansi.enabled`."""
    return F.expr(f"try_cast(`{column.replace('`', '``')}` AS {spark_type})")


def valid_utf8(text: Column) -> Column:
    """Whether a string's bytes are UTF-8 (Spark's strings may hold any bytes a text reader
    read): `is_valid_utf8` on Spark 4; 3.5 has none, and its decode replaces a bad sequence
    with U+FFFD, so there the bytes must survive a decode and an encode unchanged."""
    if hasattr(F, "is_valid_utf8"):
        return F.is_valid_utf8(text)
    raw = text.cast("binary")
    return F.encode(F.decode(raw, "UTF-8"), "UTF-8") == raw


def array_position(array: Column, value: Column) -> Column:
    """The 1-based position of `value` in `array`, 0 if absent: Spark 3.5's Python API takes
    only a literal value, the SQL function any column."""
    return F.call_function("array_position", array, value)
