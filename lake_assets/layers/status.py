"""`lake status`'s part for the derived layers: per table and day, the rows published and the
rows read from each input to build them (the manifest records both), and the partitions whose
last build was held, with the reason and the version readers still see."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from lake_assets.layers.model import DerivedTable
from lake_assets.tables.manifest import read_manifest
from resources.catalog import PartitionCatalog
from resources.storage import LakeStorage


def layer_lines(
    tables: Sequence[DerivedTable],
    catalog: PartitionCatalog,
    storage: LakeStorage,
    held: Mapping[tuple[str, str], Sequence[str]],
) -> list[str]:
    """`held[(dataset, partition)]` names why a partition's last build did not publish."""
    lines: list[str] = []
    for layer in dict.fromkeys(t.layer for t in tables):
        lines.append(f"\n== {layer} (day: rows out <- rows in per input; run)")
        for table in (t for t in tables if t.layer == layer):
            lines.append(table.dataset)
            published = {p.partition: p for p in catalog.partitions(table.dataset)}
            days = sorted({*published, *(p for d, p in held if d == table.dataset)})
            if not days:
                lines.append("  nothing built yet")
            for day in days:
                version = published.get(day)
                shown = "no published version"
                if version is not None:
                    rows_in = read_manifest(storage, version).get("rows_in", {})
                    inputs = ", ".join(f"{d} {n}" for d, n in sorted(rows_in.items()))
                    shown = f"{version.row_count} rows <- {inputs or 'nothing'}; run {version.run_id[:8]}"
                reasons = held.get((table.dataset, day))
                if reasons:
                    lines.append(f"  {day}: HELD ({'; '.join(reasons)}); readers see: {shown}")
                else:
                    lines.append(f"  {day}: {shown}")
    return lines
