"""Example hooks, one per kind of fix a feed tends to need (tests/test_pipeline_hooks.py)."""

from __future__ import annotations

# Codes some feeds send for ringgit instead of ISO 4217's.
_CURRENCY_ALIASES = {"RM": "MYR"}


def normalise_currency(record: dict[str, str | None]) -> dict[str, str | None]:
    """record_transform: every currency code (a column named `currency` or `..._currency`)
    trimmed, upper case and in ISO 4217 (" rm" -> "MYR"), before the contract's
    `currency_known` rule would quarantine the row."""
    for column, value in record.items():
        if value is not None and (column == "currency" or column.endswith("_currency")):
            code = value.strip().upper()
            record[column] = _CURRENCY_ALIASES.get(code, code)
    return record


def amount_in_cents(frame):
    """frame_transform: `amount` rounded to whole cents (a feed that sends float noise such as
    12.499999999); adds, drops and retypes nothing."""
    from pyspark.sql import functions as F

    if "amount" not in frame.columns:
        return frame
    return frame.withColumn("amount", F.round("amount", 2))


def key_value_lines(data: bytes, encoding: str):
    """reader (`format: custom`): one record per line of `key=value` pairs split by `;`, as some
    mainframe extracts send them. A line that is not such pairs is returned as it is: the lake
    counts it as one malformed record, in the profiler and in Spark alike."""
    for line in data.decode(encoding).splitlines():
        if not line.strip():
            continue
        pairs = [part.split("=", 1) for part in line.split(";")]
        yield dict(pairs) if all(len(pair) == 2 for pair in pairs) else line
