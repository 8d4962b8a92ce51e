"""The columns of `silver_fx_rates` and the window a day's calendar reads: what the job
(fx_rates.py) and the declaration (fx_rates_table.py) share, importable without PySpark or
Dagster."""

from datetime import date

FX_COLUMNS = {
    "rate_date": "date",
    "base_currency": "string",
    "quote_currency": "string",
    "rate": "double",
    "carried_forward": "boolean",
    "source_rate_date": "date",
}


def window_start(day: str, max_gap_days: int) -> str:
    """The first rate date that may still be carried to `day`: the partitions a run reads."""
    return date.fromordinal(date.fromisoformat(day).toordinal() - max_gap_days).isoformat()
