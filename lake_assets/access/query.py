"""`lake query --as PROFILE [--as-of TIME] "SELECT ..."`: read the lake as a subject profile
would, through its masked views only (service.py builds them over the catalog's current
partitions in DuckDB, or over each partition's version of TIME).
The query is Trino SQL, as on Athena, and names datasets as the catalog does."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

from lake_assets.instants import parse_instant, utc_now


def render_rows(columns: Sequence[str], rows: Sequence[tuple]) -> str:
    """An aligned text table, nulls shown as NULL, and the row count."""
    cells = [list(columns)] + [["NULL" if v is None else str(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join([*(line.rstrip() for line in lines), f"({len(rows)} rows)"])


def cmd_query(args, settings, resources_for: Callable[[Any], Any]) -> int:
    import duckdb

    from lake_assets.access.service import MaskedViews

    stores = resources_for(settings)
    views = MaskedViews(settings, stores)
    as_of = None if args.as_of is None else parse_instant(args.as_of)
    try:
        columns, rows = views.query(
            args.profile, args.sql, utc_now(), stores["access_audit"], as_of=as_of
        )
    except duckdb.Error as error:  # the query's own mistake, e.g. a column its views lack
        print(f"lake: error: {str(error).splitlines()[0]}", file=sys.stderr)
        return 2
    print(render_rows(columns, rows))
    return 0


def add_query_commands(
    subparsers: argparse._SubParsersAction, resources_for: Callable[[Any], Any]
) -> None:
    """Register `query --as PROFILE SQL`."""
    p = subparsers.add_parser(
        "query", help="query the lake as a subject profile, through its masked views"
    )
    p.add_argument("--as", dest="profile", required=True, help="a profile of config/access")
    p.add_argument(
        "--as-of",
        metavar="TIME",
        help="read every partition at the version readers saw at TIME (ISO 8601; UTC without an "
        "offset), within LAKE_RETENTION_DAYS",
    )
    p.add_argument("sql", help="a SELECT in Trino SQL naming datasets, e.g. customers")
    p.set_defaults(run=lambda args, settings: cmd_query(args, settings, resources_for))
