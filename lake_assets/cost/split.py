"""Largest-remainder splitting of nano-dollar pools in Spark: the rule of model.split_exactly,
over every pool of a frame at once, with integer arithmetic so the result does not depend on
the order Spark sums in.

Weights become whole micro-units first (`weight_units`), so a pool's total weight is an exact
sum whatever the partitioning; each share is then floor(nanos * weight / total) in decimal(38,0)
(exact), and the nanos the floors leave over go one each to the largest remainders, ties by the
recipient's key. The shares of a pool therefore sum to its nanos exactly, and a re-run gives the
same shares.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

# Driver values are weighed in micro-units: exact sums, and finer than any driver is measured.
UNITS_PER_VALUE = 10**6
WHOLE = "decimal(38,0)"


def weight_units(value: Column) -> Column:
    """A driver value (double) as whole micro-units, rounded half-up once, per value."""
    return F.round(value.cast("decimal(38,9)") * F.lit(UNITS_PER_VALUE)).cast(WHOLE)


def units_as_value(units: Column) -> Column:
    """Micro-units back as the driver value they stand for (for people: the ledger's drivers)."""
    return (units.cast(WHOLE) / F.lit(UNITS_PER_VALUE)).cast("double")


def split_pools(frame: DataFrame, pool: list[str], key: str, nanos: str, units: str) -> DataFrame:
    """`frame`, one row per (pool, recipient): the pool's `nanos` (the same on each of its
    rows), the recipient's `key` (the tie-break) and its weight in `units` (> 0), with `share`,
    the recipient's nanos; the shares of each pool sum to its nanos."""
    whole = Window.partitionBy(*pool)
    split = (
        frame.withColumn("_total", F.sum(F.col(units).cast(WHOLE)).over(whole))
        .withColumn("_scaled", F.col(nanos).cast(WHOLE) * F.col(units).cast(WHOLE))
        # `div` truncates toward zero: a negative pool (a credit) is floored below.
        .withColumn("_floor", F.expr("_scaled div _total"))
        .withColumn("_rest", F.col("_scaled") - F.col("_floor").cast(WHOLE) * F.col("_total"))
        .withColumn(
            "_floor", F.when(F.col("_rest") < 0, F.col("_floor") - 1).otherwise(F.col("_floor"))
        )
        .withColumn(
            "_rest",
            F.when(F.col("_rest") < 0, F.col("_rest") + F.col("_total")).otherwise(F.col("_rest")),
        )
    )
    largest_first = Window.partitionBy(*pool).orderBy(F.col("_rest").desc(), F.col(key).asc())
    return (
        split.withColumn("_left", F.col(nanos) - F.sum("_floor").over(whole))
        .withColumn("_place", F.row_number().over(largest_first))
        .withColumn(
            "share",
            (F.col("_floor") + F.when(F.col("_place") <= F.col("_left"), 1).otherwise(0)).cast(
                "bigint"
            ),
        )
        .drop("_total", "_scaled", "_floor", "_rest", "_left", "_place")
    )
