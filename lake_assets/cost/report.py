"""The monthly ledger for people: read through the catalog with pyarrow (no Spark), summed by
team, pipeline or dataset, in cents rounded once per printed row so that the printed rows add up
to the printed total (largest remainder on cents, as allocation does on nanos)."""

from __future__ import annotations

from urllib.parse import unquote

import pyarrow.parquet as pq

from lake_assets.cost.model import LEDGER_DATASET, NANOS_PER_USD, cents, check_month
from lake_assets.tables.reader import published_files
from resources.catalog import PartitionCatalog
from resources.storage import LakeStorage

NANOS_PER_CENT = NANOS_PER_USD // 100
GROUPS = {"team": ("team",), "pipeline": ("team", "pipeline"), "dataset": ("team", "dataset")}


def read_ledger(catalog: PartitionCatalog, storage: LakeStorage, month: str) -> list[dict]:
    """The published ledger rows of `month`, each with its team (the file's team=<t>/ folder)."""
    version = catalog.current(LEDGER_DATASET, check_month(month))
    if version is None:
        raise LookupError(f"{LEDGER_DATASET}: no ledger published for {month}; run cost/ledger")
    rows = []
    for key in published_files(storage, version):
        team = unquote(key[len(version.location) :].split("/")[0].removeprefix("team="))
        with storage.local_path(key) as path:
            for row in pq.read_table(path).to_pylist():
                rows.append({**row, "team": team, "drivers": dict(row["drivers"] or {})})
    return rows


def ledger_lines(rows: list[dict], by: str) -> tuple[list[dict], int]:
    """One line per group of `by` (team, pipeline or dataset) with its nanos and its cents, and
    the total in cents: the month's nanos rounded once (half-even), split over the lines by
    largest remainder, ties by the group's name, so the lines' cents add up to the total."""
    keys = GROUPS[by]
    groups: dict[tuple, dict] = {}
    for row in rows:
        name = tuple(row[k] for k in keys)
        group = groups.setdefault(
            name, {**dict(zip(keys, name, strict=True)), "nanos": 0, "rows": []}
        )
        group["nanos"] += row["cost_nanos"]
        group["rows"].append(row)
    total = sum(group["nanos"] for group in groups.values())
    total_cents = int(cents(total) * 100)
    lines = sorted(groups.values(), key=lambda g: tuple(g[k] for k in keys))
    for line in lines:
        line["cents"] = line["nanos"] // NANOS_PER_CENT
    left = total_cents - sum(line["cents"] for line in lines)
    by_remainder = sorted(
        lines, key=lambda g: (-(g["nanos"] % NANOS_PER_CENT), tuple(g[k] for k in keys))
    )
    for line in by_remainder[:left]:
        line["cents"] += 1
    return lines, total_cents
