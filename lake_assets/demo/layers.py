"""The demo's silver and gold: every day built through the layers, then the silver failure an
operator meets and repairs, following docs/runbooks/restore-silver-from-bronze.md.

The failure: the FX vendor re-sends a business day with the USD rate's decimal point moved (42.1
MYR to the dollar): the latest whose rate no later day of the window carries forward, so one
silver day fails whatever weekday the demo runs on (medallion_data.staged_days). Bronze publishes it (its plausibility range only warns), silver's
treasury band blocks the day, and gold keeps the version it had, row for row. The vendor then
re-sends the correct file, and the runbook's commands rebuild silver and gold."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

from lake_assets.cli.runs import materialize_partitions, report_run
from lake_assets.demo.medallion_data import staged_days
from lake_assets.ingestion.asset_keys import curated_key_of
from lake_assets.ingestion.intake import land_payload
from lake_assets.layers.cli import build_layers, layers_summary
from lake_assets.layers.definitions import DERIVED_TABLES
from lake_assets.settings import Settings

SHIFTED = "USD"  # the currency whose rate the vendor sends ten times too high
WATCHED = "gold_fact_card_spend"  # the gold table the demo shows unchanged while held


def _fx_files(incoming: Path) -> list[Path]:
    return sorted(incoming.glob("*/fx_rates_*.csv"))


def resent_fx(original: Path, folder: Path, factor: float) -> Path:
    """The vendor's re-sent file for the same day: every rate as it was, USD times `factor`."""
    with original.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        if row["base_currency"] == SHIFTED:
            row["rate"] = f"{float(row['rate']) * factor:.6g}"
    # A re-sent file lists the currencies in another order: a correction with the original's
    # very bytes would be recorded as a duplicate of it and never promoted.
    rows.reverse()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / original.name
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def play_layers(settings: Settings, resources: dict, instance, start: date, last: date) -> int:
    first, final = start.isoformat(), last.isoformat()
    built = dict(resources=resources, instance=instance)
    print(f"\nbuilding silver and gold {first}..{final}, one run per layer")
    if build_layers(settings, DERIVED_TABLES, first, final, **built):
        return 1

    # The latest day whose rate no later day carries: one silver day fails (demo_start).
    day = max(staged_days(start, (last - start).days + 1)).isoformat()
    [staged] = [f for f in _fx_files(settings.lake_root / "_incoming") if f.parent.name == day]
    catalog = resources["catalog"]
    before = catalog.current(WATCHED, day)
    print(
        f"\n--- the FX vendor re-sends {day} with the {SHIFTED} rate's decimal point moved"
        f"\n{WATCHED}[{day}] before: {before.row_count} rows, run {before.run_id[:8]}"
    )
    bad = resent_fx(staged, settings.lake_root / "_incoming" / "resent-bad", 10)
    if _land_and_promote(settings, resources, instance, bad, day):
        return 1
    print("silver's gate holds the day; gold is held back and keeps what it had:")
    held = build_layers(settings, DERIVED_TABLES, day, final, **built)
    after = catalog.current(WATCHED, day)
    kept = (after.run_id, after.row_count) == (before.run_id, before.row_count)
    print(
        f"{WATCHED}[{day}] while held: {after.row_count} rows, run {after.run_id[:8]} "
        + ("(unchanged)" if kept else "(CHANGED: the gate did not hold)")
    )
    if not held or not kept:
        return 1

    print(
        "\n--- repaired as docs/runbooks/restore-silver-from-bronze.md says: the vendor re-sends "
        f"the day, then\n  lake ingest --source fx_rates --ingest-date {day} <file>\n"
        f"  lake promote --source fx_rates --date {day}\n"
        f"  lake build silver gold --date {day} --to {final}"
    )
    good = resent_fx(staged, settings.lake_root / "_incoming" / "resent-good", 1)
    if _land_and_promote(settings, resources, instance, good, day):
        return 1
    if build_layers(settings, DERIVED_TABLES, day, final, **built):
        return 1
    print("\n".join(layers_summary(resources, instance)))
    return 0


def _land_and_promote(settings, resources, instance, path: Path, day: str) -> int:
    land_payload(resources["storage"], settings.source("fx_rates"), path, day)
    return report_run(
        materialize_partitions(
            settings, [curated_key_of("fx_rates")], day, resources=resources, instance=instance
        )
    )
