"""CUR 2.0 deliveries as AWS Data Exports write them, and their manifests. Pure: bytes in,
bytes out; the caller puts them in S3 or a folder.

An export writes, under `<S3 prefix>/<export>/` (locations.CUR_EXPORT_PREFIX),
`data/BILLING_PERIOD=YYYY-MM/<export>-00001.snappy.parquet` (more files for a big month) and
`metadata/BILLING_PERIOD=YYYY-MM/<export>-Manifest.json`,
overwriting the month's files at each delivery (Overwrite: OVERWRITE_REPORT). Each delivery, a
restatement included, is one execution with its own id; the manifest names it, the month and
the data files. The manifest's `totals` (the sums of the cost columns) are ours: a real export
has none, and the CUR source's contract compares them only when present.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from lake_assets.cost.model import check_month
from lake_assets.tables.locations import CUR_EXPORT

MANIFEST_SUFFIX = "-Manifest.json"
COST_COLUMNS = ("line_item_unblended_cost", "line_item_net_unblended_cost")


@dataclass(frozen=True)
class DeliveryManifest:
    """What a delivery's manifest says: its execution (delivery) id, month and data files
    (keys relative to the export's prefix), and the cost totals when the sender gave them."""

    delivery_id: str
    month: str
    export: str
    delivered_at: str  # ISO instant, UTC
    data_files: tuple[str, ...]
    rows: int | None = None
    totals: dict[str, float] | None = None

    def to_json(self) -> str:
        return json.dumps(
            {
                "executionId": self.delivery_id,
                "exportName": self.export,
                "billingPeriod": self.month,
                "deliveryTime": self.delivered_at,
                "dataFiles": list(self.data_files),
                **({"rowCount": self.rows} if self.rows is not None else {}),
                **({"totals": self.totals} if self.totals is not None else {}),
            },
            indent=2,
        )


def data_key(export: str, month: str, part: int = 1) -> str:
    return f"data/BILLING_PERIOD={check_month(month)}/{export}-{part:05d}.snappy.parquet"


def manifest_key(export: str, month: str) -> str:
    return f"metadata/BILLING_PERIOD={check_month(month)}/{export}{MANIFEST_SUFFIX}"


def _under_export(name: str, export: str, month: str, where: str) -> str:
    """A data file as its key under the export's prefix (`data/BILLING_PERIOD=<month>/...`):
    AWS's manifests name each file by its whole URI (s3://<bucket>/<prefix>/<export>/data/...),
    ours (and older tests') by that key already. A URI of another export or month is refused."""
    if "://" not in name:
        return name
    folder = f"/{export}/data/BILLING_PERIOD={month}/"
    start = name.find(folder)
    if start < 0:
        raise ValueError(f"{where}: data file {name!r} is not under the export's {folder[1:]}")
    return name[start + len(f"/{export}/") :]


def read_manifest(text: str | bytes, where: str = "manifest") -> DeliveryManifest:
    """A delivery manifest; a missing field is a ValueError naming `where` and the field."""
    try:
        body = json.loads(text)
        month, export = check_month(body["billingPeriod"]), str(body["exportName"])
        return DeliveryManifest(
            delivery_id=str(body["executionId"]),
            month=month,
            export=export,
            delivered_at=str(body["deliveryTime"]),
            data_files=tuple(
                _under_export(name, export, month, where) for name in body["dataFiles"]
            ),
            rows=body.get("rowCount"),
            totals=body.get("totals"),
        )
    except KeyError as missing:
        raise ValueError(f"{where}: the delivery manifest has no {missing}") from None
    except (json.JSONDecodeError, TypeError) as bad:
        raise ValueError(f"{where}: not a delivery manifest ({bad})") from None


def delivery_objects(
    cur: pa.Table,
    month: str,
    delivery_id: str,
    delivered_at: str,
    export: str = CUR_EXPORT,
    rows_per_file: int = 5_000_000,
    totals: bool = True,
    files_at: str | None = None,
) -> dict[str, bytes]:
    """A delivery's objects, keyed relative to the export's prefix: the Parquet data files
    (Snappy) and the manifest, which is written last by whoever stores them. The manifest names
    each data file by its key, or, with `files_at` (the export's prefix as a URI, ending in
    "/"), by its whole URI, as AWS's manifests do."""
    objects = {}
    for part, start in enumerate(range(0, max(cur.num_rows, 1), rows_per_file), start=1):
        sink = io.BytesIO()
        pq.write_table(cur.slice(start, rows_per_file), sink, compression="snappy")
        objects[data_key(export, month, part)] = sink.getvalue()
    sums = {c: pc.sum(cur[c]).as_py() or 0.0 for c in COST_COLUMNS if c in cur.column_names}
    manifest = DeliveryManifest(
        delivery_id,
        month,
        export,
        delivered_at,
        tuple(f"{files_at or ''}{key}" for key in objects),
        cur.num_rows,
        sums if totals else None,
    )
    objects[manifest_key(export, month)] = manifest.to_json().encode()
    return objects
