"""Reading a pulled source's changed rows with SQLAlchemy Core, and writing them as the JSON
lines the raw zone keeps.

Rows are read strictly after a position (watermark value, tie-breaker key) and up to an upper
bound, ordered by (watermark, key), in keyset pages: each page starts after the last row of the
one before, so a page boundary inside a run of rows sharing one timestamp loses none of them
and repeats none. The predicate is spelled out (`w > :w OR (w = :w AND k > :k)`) rather than as
a row-value comparison, which not every database has.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa

from lake_assets.instants import format_instant, parse_instant
from lake_assets.pull.model import PullConfig


@dataclass(frozen=True)
class Position:
    """Where a pull stopped: the last row's watermark value (UTC) and tie-breaker key."""

    at: datetime
    key: str | int

    def __str__(self) -> str:
        return f"{format_instant(self.at)}, {self.key}"


def changed_pages(
    connection: sa.Connection, pull: PullConfig, after: Position | None, upper: datetime
) -> Iterator[list[dict]]:
    """The rows changed after `after` (all rows if None) and at or before `upper`, in watermark
    order, in pages of up to `pull.page_size` rows."""
    while True:
        page = [dict(row) for row in connection.execute(_page_query(pull, after, upper)).mappings()]
        if page:
            yield page
        if len(page) < pull.page_size:
            return
        after = position_of(page[-1], pull)


def position_of(row: dict, pull: PullConfig) -> Position:
    return Position(_instant(row, pull.watermark.column), row[pull.watermark.tie_breaker])


def json_lines(rows: Sequence[dict], pull: PullConfig) -> bytes:
    """One JSON object per row, in the rows' column order: JSON text columns nested, the
    watermark an ISO 8601 instant in UTC. The same rows give the same bytes, which is what lets
    the raw zone recognise a file landed twice (lake_assets/ingestion/redelivery.py)."""
    lines = []
    for row in rows:
        record = {}
        for column, value in row.items():
            if column == pull.watermark.column:
                value = format_instant(_instant(row, column))
            elif column in pull.json_columns and isinstance(value, str | bytes):
                try:
                    value = json.loads(value)
                except ValueError:
                    raise ValueError(
                        f"column {column} of {pull.watermark.tie_breaker}="
                        f"{row.get(pull.watermark.tie_breaker)!r} is declared in json_columns "
                        "but does not hold JSON text"
                    ) from None
            record[column] = value
        lines.append(json.dumps(record, ensure_ascii=False, default=_plain) + "\n")
    return "".join(lines).encode()


def _page_query(pull: PullConfig, after: Position | None, upper: datetime) -> sa.Select:
    stamp, key = sa.column(pull.watermark.column), sa.column(pull.watermark.tie_breaker)
    query = (
        sa.select(sa.text("*"))
        .select_from(_source(pull))
        .where(stamp <= _instant_param("upper", upper))
    )
    if after is not None:
        at = _instant_param("after_at", after.at)
        query = query.where(sa.or_(stamp > at, sa.and_(stamp == at, key > after.key)))
    return query.order_by(stamp, key).limit(pull.page_size)


def _source(pull: PullConfig) -> sa.FromClause:
    if pull.query is not None:
        return sa.text(pull.query).columns().subquery("pulled")
    schema, _, name = pull.table.rpartition(".")
    return sa.table(name, schema=schema or None)


def _instant_param(name: str, value: datetime) -> sa.BindParameter:
    # Naive UTC through SQLAlchemy's DateTime: the form its dialects store and compare
    # (SQLite keeps text that sorts as time only in that one format).
    naive = parse_instant(value).replace(tzinfo=None)
    return sa.bindparam(name, naive, type_=sa.DateTime())


def _instant(row: dict, column: str) -> datetime:
    value = row[column]
    try:
        return parse_instant(value)
    except ValueError:
        raise ValueError(f"watermark column {column} holds {value!r}, not a timestamp") from None


def _plain(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.decode()
    raise TypeError(f"a value of type {type(value).__name__} has no JSON form")
