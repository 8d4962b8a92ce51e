"""`lake scd apply|status|as-of`: apply snapshots to a source's history, see where it stands, and
query it bi-temporally."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import date
from functools import partial
from typing import Any

from lake_assets.instants import parse_instant, utc_now


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
        raise ValueError(f"{dataset} keeps no history (history: in pipelines/{dataset}.yaml)")
    return source


def cmd_scd_as_of(args, settings, resources_for: Callable[[Any], dict]) -> int:
    from lake_assets.history.apply import as_of_by_job, as_of_plan, history_dataset
    from lake_assets.history.columns import BITEMPORAL_COLUMNS

    source = history_source(settings, args.dataset)
    # "Now" is read before the history is: a version switched in after this instant is
    # committed later than it, so the answer as of this instant never changes.
    known_at = args.known_at or utc_now()
    res = resources_for(settings)
    keys = _keys(args.key, source.history.keys)
    plan = as_of_plan(res["catalog"], res["storage"], source, args.valid_at, known_at, keys)
    if settings.profile == "local":
        # The files are on this machine: pyarrow answers in well under a second, where starting
        # Spark alone takes ten (ADR: point queries without Spark).
        from lake_assets.history.point_query import as_of_rows

        found = as_of_rows(plan)
    else:
        print(f"{args.dataset}: running the history_as_of job on the runner ...", file=sys.stderr)
        # Here, not above: a local point query loads neither Dagster nor PySpark.
        from lake_assets.cli.runs import command_charge

        charge = command_charge(settings, history_dataset(source.source_id))
        run = partial(res["spark_runner"].run_standalone, charge=charge)
        found = as_of_by_job(run, res["storage"], plan)
    print(
        f"{args.dataset} as true on {args.valid_at}, as known at {plan['known_at']}: "
        f"{len(found)} rows"
    )
    if found:
        order = [c for c in found[0] if c not in BITEMPORAL_COLUMNS] + list(BITEMPORAL_COLUMNS)
        print("\t".join(order))
        for row in found:
            print("\t".join("" if row[c] is None else str(row[c]) for c in order))
    return 0


def _instant_argument(value: str):
    """`--known-at`: a time, read as everywhere (instants.parse_instant); a user's word that is
    not one is refused, naming the flag and the value, instead of matching nothing."""
    try:
        return parse_instant(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _date_argument(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date: give YYYY-MM-DD") from None


# What an apply did with one snapshot, by the plan's list it is in (the history's metadata).
SNAPSHOT_OUTCOMES = {
    "appended": "applied (new)",
    "corrected": "applied (a correction)",
    "resequenced": "applied (late: resequenced)",
    "unchanged": "unchanged: applied already",
}


def snapshot_outcome(day: str, metadata: dict) -> str:
    """One snapshot's outcome from what the run recorded on its date: a materialization names
    the plan's lists; an apply with nothing to apply records an observation without them."""
    found = [outcome for key, outcome in SNAPSHOT_OUTCOMES.items() if day in metadata.get(key, ())]
    return found[0] if found else "nothing to apply"


def cmd_scd_apply(args, settings) -> int:
    from lake_assets.cli.runs import materialize_partitions, partition_progress, report_run
    from lake_assets.history.assets import history_key_of

    history_source(settings, args.dataset)
    key, last = history_key_of(args.dataset), args.to or args.date
    days = (date.fromisoformat(last) - date.fromisoformat(args.date)).days + 1
    progress = None
    if days > 1:  # a range: what it covers first, then each snapshot as the run records it
        print(
            f"{args.dataset}: applying {args.date}..{last} ({days} snapshots, one run)", flush=True
        )
        said = []

        def say(day: str, metadata: dict) -> None:
            said.append(day)
            outcome = snapshot_outcome(day, metadata)
            print(f"[{len(said)}/{days}] {args.dataset} {day}: {outcome}", flush=True)

        progress = partition_progress(key, say)
    result = materialize_partitions(settings, [key], args.date, args.to, on_event=progress)
    for summary in applied_summaries(result):
        print(summary)
    return report_run(result)


def cmd_scd_status(args, settings, resources_for: Callable[[Any], dict]) -> int:
    from lake_assets.history.status import history_status

    sources = (
        [history_source(settings, args.dataset)]
        if args.dataset
        else [s for _, s in sorted(settings.sources.items()) if s.history]
    )
    res = resources_for(settings)
    for source in sources:
        print("\n".join(history_status(res["catalog"], res["storage"], source).lines()))
    return 0


def applied_summaries(result) -> list[str]:
    """What each history apply of a run did, once: Dagster copies a range run's metadata onto
    every partition it materialized (an apply that changed nothing is an observation)."""
    recorded = [e.materialization for e in result.get_asset_materialization_events()] + [
        e.event_specific_data.asset_observation for e in result.get_asset_observation_events()
    ]
    return list(dict.fromkeys(event.metadata["summary"].value for event in recorded))


def add_scd_commands(
    subparsers: argparse._SubParsersAction, resources_for: Callable[[Any], dict]
) -> None:
    """Register `scd apply DATASET --date D [--to D2]`, `scd status [DATASET]` and
    `scd as-of DATASET --valid-at X [--known-at Y] [--key K ...]`."""
    scd = subparsers.add_parser("scd", help="bi-temporal history (SCD2)").add_subparsers(
        dest="scd_command", required=True
    )
    p = scd.add_parser("apply", help="apply published snapshots to the history (one run)")
    p.add_argument("dataset", help="a source with history, e.g. customers")
    p.add_argument("--date", required=True, help="snapshot date YYYY-MM-DD")
    p.add_argument("--to", help="last snapshot date of a range")
    p.set_defaults(run=cmd_scd_apply, checks_config=True)
    p = scd.add_parser("status", help="applied and pending snapshots, and the last apply")
    p.add_argument("dataset", nargs="?", help="a source with history (default: every one)")
    p.set_defaults(run=lambda args, settings: cmd_scd_status(args, settings, resources_for))
    p = scd.add_parser("as-of", help="what was true on a date, as known at a time")
    p.add_argument("dataset", help="a source with history, e.g. customers")
    p.add_argument("--valid-at", required=True, type=_date_argument, help="YYYY-MM-DD")
    p.add_argument(
        "--known-at",
        type=_instant_argument,
        help="ISO 8601 date or time, UTC if no offset (e.g. 2026-03-05T12:00+01:00); default now",
    )
    p.add_argument("--key", action="append", default=[], help="VALUE or COLUMN=VALUE")
    p.set_defaults(run=lambda args, settings: cmd_scd_as_of(args, settings, resources_for))
