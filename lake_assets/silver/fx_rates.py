"""The Spark job of `silver/fx_rates`: a complete daily calendar of FX rates. Every configured
currency on every calendar day: the day's own published rate, or the last one published before
it carried forward (carried_forward, source_rate_date), but never over more than the calendar's
`max_gap_days`: a longer gap is a failure, not a silent carry."""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from lake_assets.layers.job import write_derived
from lake_assets.silver.fx_rates_schema import FX_COLUMNS, window_start
from lake_assets.tables.frames import conformed, ddl, read_resolved

# What the calendar reads of curated fx_rates.
RATE_COLUMNS = {
    "rate_date": "date",
    "base_currency": "string",
    "quote_currency": "string",
    "rate": "double",
    "_ingested_at": "timestamp",
}


class FxGapTooLong(ValueError):
    """Currencies without a published rate within the calendar's maximum gap: nothing is
    published for the day, so no reader converts at a stale rate."""

    def __init__(self, day: str, max_gap_days: int, last_rates: dict[str, str | None]):
        self.day, self.last_rates = day, last_rates
        named = ", ".join(
            f"{currency} (last rate {last or f'none in the {max_gap_days} days before'})"
            for currency, last in sorted(last_rates.items())
        )
        super().__init__(
            f"silver_fx_rates[{day}]: more than {max_gap_days} days without a published rate "
            f"for {named}; deliver the missing fx_rates days or raise max_gap_days in "
            "config/silver/fx_rates.yaml"
        )


def fx_calendar_rows(
    rates: DataFrame, day: str, currencies: list[str], quote_currency: str, max_gap_days: int
) -> DataFrame:
    """The calendar's rows for `day` from published `rates` (curated fx_rates): per currency the
    latest rate dated on or before `day` (a re-sent day's later ingestion wins). Raises
    FxGapTooLong naming every currency whose latest rate is older than `max_gap_days`."""
    first = window_start(day, max_gap_days)
    candidates = rates.where(
        (F.col("quote_currency") == quote_currency)
        & F.col("base_currency").isin(currencies)
        & F.col("rate_date").between(F.to_date(F.lit(first)), F.to_date(F.lit(day)))
        & F.col("rate").isNotNull()
    )
    newest = Window.partitionBy("base_currency").orderBy(
        F.col("rate_date").desc(), F.col("_ingested_at").desc_nulls_last()
    )
    latest = (
        candidates.withColumn("_newest", F.row_number().over(newest))
        .where("_newest = 1")
        .select("base_currency", "rate", F.col("rate_date").alias("source_rate_date"))
    ).cache()
    found = {r["base_currency"]: str(r["source_rate_date"]) for r in latest.collect()}
    missing = [c for c in currencies if c not in found]
    if missing:
        raise FxGapTooLong(day, max_gap_days, {c: _last_before(rates, c, first) for c in missing})
    rows = latest.select(
        F.to_date(F.lit(day)).alias("rate_date"),
        "base_currency",
        F.lit(quote_currency).alias("quote_currency"),
        "rate",
        (F.col("source_rate_date") < F.to_date(F.lit(day))).alias("carried_forward"),
        "source_rate_date",
    )
    return conformed(rows, FX_COLUMNS).select(*FX_COLUMNS)


def _last_before(rates: DataFrame, currency: str, first: str) -> str | None:
    """The currency's newest rate date before the window, if the rates read hold one."""
    row = (
        rates.where((F.col("base_currency") == currency) & (F.col("rate_date") < F.lit(first)))
        .agg(F.max("rate_date").alias("last"))
        .first()
    )
    return str(row["last"]) if row and row["last"] else None


def silver_fx_rates_job(spark: SparkSession, plan: dict) -> dict:
    """The registered Spark job `silver_fx_rates`. Plan: `partition`; `rates`, the curated
    fx_rates partitions published in the window before it (fx_rates_table.py), or None;
    `currencies`, `quote_currency`, `max_gap_days` (config/silver/fx_rates.yaml). Result:
    write_derived's, with `carried`, the currencies whose rate was carried forward."""
    if plan["rates"]:
        rates = read_resolved(spark, plan["rates"])
    else:
        rates = spark.createDataFrame([], ddl(RATE_COLUMNS))
    rows = fx_calendar_rows(
        rates, plan["partition"], plan["currencies"], plan["quote_currency"], plan["max_gap_days"]
    )
    return write_derived(spark, rows, plan, {"carried": F.col("carried_forward")})
