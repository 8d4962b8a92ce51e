"""How the lake reads and prints an instant, everywhere: the command line, the Python API and
the jobs' results.

One rule: an instant without an offset is UTC, and every instant is printed as ISO 8601 with
its offset, in UTC (`2026-03-05T12:00:00+00:00`). The machine's time zone never takes part, so
the same text or the same `datetime` means the same instant on a laptop in Kuala Lumpur and on
EMR. Stdlib only: Spark jobs import it too.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

EXAMPLE = "2026-03-05T12:00:00+00:00"


def parse_instant(value: datetime | date | str) -> datetime:
    """`value` as an aware UTC datetime: a naive datetime or a text without an offset is UTC, a
    date is its midnight UTC. Anything that is not a time raises ValueError naming it."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(
                f"{value!r} is not a time: give an ISO 8601 date or time, e.g. {EXAMPLE} "
                "(without an offset it is read as UTC)"
            ) from None
    elif not isinstance(value, datetime):
        if not isinstance(value, date):
            raise ValueError(f"{value!r} is not a time")
        value = datetime(value.year, value.month, value.day)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def format_instant(value: datetime | str) -> str:
    """An instant as the lake prints it: ISO 8601 in UTC with its offset."""
    return parse_instant(value).isoformat()


def utc_now() -> datetime:
    return datetime.now(UTC)
