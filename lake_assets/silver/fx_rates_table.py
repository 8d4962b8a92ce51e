"""`silver/fx_rates` declared as a derived table (lake_assets/layers): the calendar of
config/silver/fx_rates.yaml, reading the curated fx_rates published in the window a rate may
be carried over (and one day more, so a gap's error names the last rate)."""

from __future__ import annotations

from lake_assets.layers.model import DerivedTable, LayerInput, PlanInputs
from lake_assets.lineage.model import derived_from
from lake_assets.silver.conformance import load_fx_calendar
from lake_assets.silver.fx_rates_schema import FX_COLUMNS, window_start
from lake_assets.tables.reader import resolve_published

CALENDAR = load_fx_calendar()
# No rate file on weekends and holidays: the day's own partition is optional, its window read.
RATES = LayerInput("fx_rates", ("curated", "fx_rates"), False, CALENDAR.max_gap_days + 1)


def _fx_plan(inputs: PlanInputs) -> dict:
    first = window_start(inputs.partition, RATES.lookback_days)
    window = [
        p.partition
        for p in inputs.catalog.partitions("fx_rates")
        if first <= p.partition <= inputs.partition
    ]
    return {
        "rates": (
            resolve_published(inputs.catalog, inputs.storage, "fx_rates", window)
            if window
            else None
        ),
        "currencies": list(CALENDAR.currencies),
        "quote_currency": CALENDAR.quote_currency,
        "max_gap_days": CALENDAR.max_gap_days,
    }


SILVER_FX_RATES = DerivedTable(
    dataset="silver_fx_rates",
    asset=("silver", "fx_rates"),
    job="silver_fx_rates",
    inputs=(RATES,),
    columns=FX_COLUMNS,
    description="Every configured currency on every calendar day: the day's published rate, or "
    "the last one carried forward (carried_forward, source_rate_date) over at most "
    "max_gap_days (config/silver/fx_rates.yaml); a longer gap fails the day.",
    column_lineage={
        "rate_date": derived_from("fx_rates.rate_date", transformation="TRANSFORMATION"),
        "base_currency": derived_from("fx_rates.base_currency"),
        "quote_currency": derived_from("fx_rates.quote_currency"),
        "rate": derived_from("fx_rates.rate"),
        "carried_forward": derived_from("fx_rates.rate_date", transformation="TRANSFORMATION"),
        "source_rate_date": derived_from("fx_rates.rate_date"),
    },
    plan_extra=_fx_plan,
)
