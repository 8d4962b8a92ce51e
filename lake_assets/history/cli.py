"""`lake scd apply|as-of`: apply snapshots to a source's history and query it bi-temporally."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any


def _keys(values: list[str], key_columns: tuple[str, ...]) -> dict[str, str]:
    """`--key C00001` for a one-column key, `--key column=value` for each part of a wider one."""
    keys = {}
    for value in values:
        column, sep, wanted = value.partition("=")
        if not sep:
            if len(key_columns) != 1:
                raise ValueError(f"the key has columns {', '.join(key_columns)}: pass COLUMN=VALUE")
            column, wanted = key_columns[0], value
        if column not in key_columns:
            raise ValueError(f"{column} is not a key column ({', '.join(key_columns)})")
        keys[column] = wanted
    return keys


def history_source(settings, dataset: str):
    """The declared source `dataset`, which must keep a history."""
    source = settings.source(dataset)
    if source.history is None:
        raise ValueError(f"{dataset} keeps no history (history: in config/sources.yaml)")
    return source


def cmd_scd_as_of(args, settings, resources_for: Callable[[Any], dict]) -> int:
    from lake_assets.history.apply import history_as_of
    from lake_assets.history.merge import BITEMPORAL_COLUMNS

    source = history_source(settings, args.dataset)
    # "Now" is read before the history is: a version switched in after this instant is
    # committed later than it, so the answer as of this instant never changes.
    known_at = args.known_at or datetime.now(UTC).isoformat()
    res = resources_for(settings)
    found = history_as_of(
        res["spark_runner"].bound(),
        res["catalog"],
        res["storage"],
        source,
        args.valid_at,
        known_at,
        _keys(args.key, source.history.keys),
    )
    print(f"{args.dataset} as true on {args.valid_at}, as known at {known_at}: {len(found)} rows")
    if found:
        order = [c for c in found[0] if c not in BITEMPORAL_COLUMNS] + list(BITEMPORAL_COLUMNS)
        print("\t".join(order))
        for row in found:
            print("\t".join("" if row[c] is None else str(row[c]) for c in order))
    return 0


def cmd_scd_apply(args, settings) -> int:
    from lake_assets.cli.runs import materialize_partitions, report_run
    from lake_assets.history.assets import history_key_of

    history_source(settings, args.dataset)
    result = materialize_partitions(settings, [history_key_of(args.dataset)], args.date, args.to)
    for summary in applied_summaries(result):
        print(summary)
    return report_run(result)


def applied_summaries(result) -> list[str]:
    """What each history apply of a run did, once: Dagster copies a range run's metadata onto
    every partition it materialized."""
    events = result.get_asset_materialization_events()
    return list(dict.fromkeys(e.materialization.metadata["summary"].value for e in events))


def add_scd_commands(
    subparsers: argparse._SubParsersAction, resources_for: Callable[[Any], dict]
) -> None:
    """Register `scd apply DATASET --date D [--to D2]` and
    `scd as-of DATASET --valid-at X [--known-at Y] [--key K ...]`."""
    scd = subparsers.add_parser("scd", help="bi-temporal history (SCD2)").add_subparsers(
        dest="scd_command", required=True
    )
    p = scd.add_parser("apply", help="apply published snapshots to the history (one run)")
    p.add_argument("dataset", help="a source with history, e.g. customers")
    p.add_argument("--date", required=True, help="snapshot date YYYY-MM-DD")
    p.add_argument("--to", help="last snapshot date of a range")
    p.set_defaults(run=cmd_scd_apply)
    p = scd.add_parser("as-of", help="what was true on a date, as known at a time")
    p.add_argument("dataset", help="a source with history, e.g. customers")
    p.add_argument("--valid-at", required=True, type=date.fromisoformat, help="YYYY-MM-DD")
    p.add_argument("--known-at", help="ISO time (UTC if no offset); default now")
    p.add_argument("--key", action="append", default=[], help="VALUE or COLUMN=VALUE")
    p.set_defaults(run=lambda args, settings: cmd_scd_as_of(args, settings, resources_for))
