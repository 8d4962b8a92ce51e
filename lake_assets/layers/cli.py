"""`lake build`: build derived tables (silver, gold) for a day or a range, one run per layer in
layer order, printing each partition's outcome as the run records it: published with its rows
in and out, or held with the reason."""

from __future__ import annotations

import argparse

from lake_assets.cli.runs import (
    date_argument,
    materialize_partitions,
    partition_progress,
    report_run,
)
from lake_assets.settings import Settings


def selected_tables(names: list[str]):
    """Tables named by layer (`silver`) or asset (`gold/kpi_daily`), in declaration order."""
    from lake_assets.layers.definitions import DERIVED_TABLES

    known = {"/".join(t.asset) for t in DERIVED_TABLES} | {t.layer for t in DERIVED_TABLES}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(
            f"no derived table or layer {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    return [t for t in DERIVED_TABLES if t.layer in names or "/".join(t.asset) in names]


def outcome_line(metadata: dict) -> str:
    if metadata.get("blocked_by"):
        return "held: " + "; ".join(metadata["blocked_by"])
    rows_in = ", ".join(f"{d} {n}" for d, n in sorted(metadata.get("rows_in", {}).items()))
    return f"published {metadata['rows_out']} rows <- {rows_in}"


def _printer(name: str):
    return lambda partition, metadata: print(
        f"  {name} {partition}: {outcome_line(metadata)}", flush=True
    )


def _each(listeners):
    def listen(entry) -> None:
        for listener in listeners:
            listener(entry)

    return listen


def build_layers(
    settings: Settings, tables, first: str, last: str, resources=None, instance=None
) -> int:
    """Build `tables` for first..last, one run per layer in layer order, printing each
    partition's outcome as the run records it; 1 when a partition was held or a step failed."""
    from dagster import AssetKey

    status = 0
    for layer in dict.fromkeys(t.layer for t in tables):
        keys = [AssetKey(list(t.asset)) for t in tables if t.layer == layer]
        span = first if last == first else f"{first}..{last}"
        print(f"{layer}: building {', '.join(k.to_user_string() for k in keys)} {span}", flush=True)
        listeners = [partition_progress(key, _printer(key.to_user_string())) for key in keys]
        result = materialize_partitions(
            settings,
            keys,
            first,
            last,
            resources=resources,
            instance=instance,
            on_event=_each(listeners),
        )
        status = max(status, report_run(result))
    return status


def cmd_build(args, settings: Settings) -> int:
    return build_layers(settings, selected_tables(args.tables), args.date, args.to or args.date)


def add_layer_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "build", help="build derived tables (silver, gold) for a day or a range, layer by layer"
    )
    p.add_argument("tables", nargs="+", help="layers (silver, gold) or tables (gold/kpi_daily)")
    p.add_argument("--date", required=True, type=date_argument, help="first day YYYY-MM-DD")
    p.add_argument("--to", type=date_argument, help="last day of a range")
    p.set_defaults(run=cmd_build, checks_config=True)


def layers_summary(resources: dict, instance=None) -> list[str]:
    """`lake status`'s lines for the derived layers; a partition is held when its last
    materialization (in the Dagster instance the commands share) names what blocked it."""
    from dagster import AssetKey

    from lake_assets.cli.runs import dagster_instance
    from lake_assets.events.attempts import last_attempt
    from lake_assets.layers.definitions import DERIVED_TABLES
    from lake_assets.layers.status import layer_lines

    if not DERIVED_TABLES:
        return []
    instance = instance or dagster_instance()
    catalog = resources["catalog"]
    held = {}
    for table in DERIVED_TABLES:
        key = AssetKey(list(table.asset))
        # Published, or attempted: a held partition has a materialization naming its reason.
        days = {p.partition for p in catalog.partitions(table.dataset)}
        days |= set(instance.get_materialized_partitions(key))
        for day in sorted(days):
            if blocked := last_attempt(instance, key, day).blocked:
                held[(table.dataset, day)] = blocked
    return layer_lines(DERIVED_TABLES, catalog, resources["storage"], held)
