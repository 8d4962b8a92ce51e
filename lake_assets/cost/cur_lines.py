"""The building blocks of generated CUR 2.0 bills (cur_data.py, cur_services.py, own_bill.py):
the world's teams, datasets and list prices, columns of line items built from numpy and pyarrow
arrays at once, tag maps, long-form driver tables, and the known answers a generator accumulates
as it bills. Pure: no I/O."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime
from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lake_assets.cost.model import CUR_COLUMNS, SHARED, UNALLOCATED, Driver, check_month

REGION, ACCOUNT = "eu-west-1", "000000000000"
# The teams of the generated worlds; a tag naming any other team is wrong.
TEAMS = ("payments-data", "risk-analytics", "customer-data", "fraud-ml", "data-platform")
# (team, pipeline, dataset) of the datasets the world's runs write.
DATASETS = (
    ("payments-data", "card_transactions", "card_transactions"),
    ("payments-data", "order_events", "order_events"),
    ("risk-analytics", "fx_rates", "fx_rates"),
    ("risk-analytics", "credit_risk", "exposures"),
    ("customer-data", "customers", "customers"),
    ("customer-data", "crm_contacts", "crm_contacts"),
    ("fraud-ml", "fraud_scoring", "fraud_features"),
    ("fraud-ml", "fraud_scoring", "fraud_scores"),
)
# List prices (eu-west-1) in nano-dollars per whole unit the generators bill, so every line
# costs a whole number of nano-dollars.
PLATFORM_TAGS = {
    "user_team": "data-platform",
    "user_pipeline": "platform",
    "user_environment": "prod",
}
EMR = "ElasticMapReduce"
EMR_USAGE = (  # usage type, amount per unit the generator bills, nanos per unit (list price)
    ("EU-EMR-SERVERLESS-vCPUHours", 1e-3, 52_624),  # $0.052624 per vCPU-hour
    ("EU-EMR-SERVERLESS-MemoryGBHours", 1e-2, 57_785),  # $0.0057785 per GB-hour
    ("EU-EMR-SERVERLESS-StorageGBHours", 1e-3, 111),  # $0.000111 per GB-hour
)
S3_CLASSES = (  # usage type, driver measure, nanos per GB-month
    ("EU-TimedStorage-ByteHrs", "storage_bytes_standard", 23_000_000),
    ("EU-TimedStorage-SIA-ByteHrs", "storage_bytes_standard_ia", 12_500_000),
    ("EU-TimedStorage-GlacierByteHrs", "storage_bytes_glacier", 3_600_000),
)
TIER1_NANOS, TIER2_NANOS = 5_000, 400  # $0.005 per 1,000 PUT/LIST, $0.0004 per 1,000 GET
ATHENA_NANOS_PER_MB = 5_000  # $5 per TB scanned
GIB, MIB = 2**30, 2**20
CURATED, RAW, LOGS = (f"lake-{zone}-{ACCOUNT}" for zone in ("curated", "raw", "logs"))
WORKGROUP_ARN = f"arn:aws:athena:{REGION}:{ACCOUNT}:workgroup/"
TIMESTAMP = pa.timestamp("ms", tz="UTC")
DRIVER_COLUMNS = tuple(Driver.__dataclass_fields__)


def month_hours(month: str) -> tuple[datetime, int]:
    """The month's first instant (UTC) and its number of hours."""
    year, number = map(int, check_month(month).split("-"))
    return datetime(year, number, 1, tzinfo=UTC), calendar.monthrange(year, number)[1] * 24


@lru_cache(maxsize=16)
def hour_labels(month: str) -> pa.Array:
    """The month's hours as drivers name them, "YYYY-MM-DDTHH"; index = hour of the month."""
    start, hours = month_hours(month)
    seconds = int(start.timestamp()) + np.arange(hours, dtype=np.int64) * 3600
    return pc.strftime(pa.array(seconds, pa.timestamp("s", tz="UTC")), "%Y-%m-%dT%H")


def _column(value, rows: int) -> pa.Array:
    """A string column: the array itself, or a scalar repeated."""
    if isinstance(value, pa.ChunkedArray):
        return value.combine_chunks()
    if isinstance(value, pa.Array):
        return value
    return pa.repeat(pa.scalar(value, pa.string()), rows)


def tag_maps(rows: int, entries: dict, present: np.ndarray | None = None) -> pa.MapArray:
    """`rows` tag maps with the keys of `entries` (a value per row, or one for all); a row
    where `present` is False gets an empty map (an untagged resource)."""
    present = np.ones(rows, bool) if present is None else present
    width = len(entries)
    counts = np.where(present, width, 0)
    offsets = pa.array(np.concatenate([[0], np.cumsum(counts)]).astype(np.int32))
    if not width:
        return pa.MapArray.from_arrays(
            offsets, pa.array([], pa.string()), pa.array([], pa.string())
        )
    keep = np.repeat(present, width)
    keys = pa.array(list(entries), pa.string()).take(
        pa.array(np.tile(np.arange(width), rows)[keep])
    )
    values = pa.concat_arrays([_column(v, rows) for v in entries.values()])
    # row-major: row r's entries are value columns 0..width-1 at r
    order = (np.arange(width)[None, :] * rows + np.arange(rows)[:, None]).ravel()[keep]
    return pa.MapArray.from_arrays(offsets, keys, values.take(pa.array(order)))


def numbered(prefix: str, numbers: np.ndarray, width: int) -> pa.StringArray:
    """`prefix` + each number zero-padded to `width` digits, built as Arrow buffers at once
    (casting ten million integers to text and joining them takes seconds)."""
    rest = np.asarray(numbers, np.int64).copy()
    head = np.frombuffer(prefix.encode(), np.uint8)
    chars = np.empty((len(rest), len(head) + width), np.uint8)
    chars[:, : len(head)] = head
    for position in range(chars.shape[1] - 1, len(head) - 1, -1):  # one pass per digit
        rest, digit = np.divmod(rest, 10)
        chars[:, position] = digit + 48
    offsets = np.arange(len(rest) + 1, dtype=np.int32) * chars.shape[1]
    return pa.StringArray.from_buffers(len(rest), pa.py_buffer(offsets), pa.py_buffer(chars))


def team_of_tags(tags: dict | None) -> str | None:
    return (tags or {}).get("user_team")


def drivers_table(month, kind, key, resource, hour, team, pipeline, dataset, measures, origin):
    """Long-form driver rows (one column per model.Driver field): one row per key and measure;
    a scalar argument holds for every key."""
    rows = len(key)
    parts = []
    for measure, values in measures.items():
        parts.append(
            pa.table(
                {
                    "month": _column(month, rows),
                    "kind": _column(kind, rows),
                    "key": _column(key, rows),
                    "resource": _column(resource, rows),
                    "hour": _column(hour, rows),
                    "team": _column(team, rows),
                    "pipeline": _column(pipeline, rows),
                    "dataset": _column(dataset, rows),
                    "measure": _column(measure, rows),
                    "value": pa.array(np.asarray(values, np.float64)),
                    "origin": _column(origin, rows),
                }
            )
        )
    return pa.concat_tables(parts).select(list(DRIVER_COLUMNS))


class Bill:
    """A month's line items as they are generated, and the nanos each (team, category) is owed."""

    CODES = (*TEAMS, SHARED, UNALLOCATED)

    def __init__(self, month: str, seed: int):
        self.month, self.seed = month, seed
        self.start, self.hours = month_hours(month)
        self.parts: list[pa.Table] = []
        self.owed: dict[tuple[str, str], float] = {}
        self.slack: dict[str, int] = {}

    def code(self, team: str) -> int:
        return self.CODES.index(team)

    def team_codes(self, teams: pa.Array) -> np.ndarray:
        """Each team's code; a team that does not exist is unallocated."""
        found = pc.index_in(teams, pa.array(self.CODES))
        return pc.fill_null(found, self.code(UNALLOCATED)).to_numpy()

    def static_tags(self, rows: int, tags: dict | None) -> pa.MapArray:
        return tag_maps(rows, tags or {})

    def lines(self, product, resource, usage_type, hour, span_hours, amount, nanos, tags, op=""):
        """Line items starting at hour-of-month `hour` for `span_hours` (1 or 24); a scalar
        argument holds for every line. `nanos` is each line's cost, whole nano-dollars."""
        rows = len(nanos)
        start = int(self.start.timestamp()) * 1000
        begins = np.broadcast_to(start + np.asarray(hour, np.int64) * 3_600_000, rows)
        cost = pa.array(np.asarray(nanos, np.int64) / 1e9)
        self.parts.append(
            pa.table(
                {
                    "bill_billing_period_start_date": pa.repeat(pa.scalar(start, TIMESTAMP), rows),
                    "line_item_usage_start_date": pa.array(begins, TIMESTAMP),
                    "line_item_usage_end_date": pa.array(
                        begins + span_hours * 3_600_000, TIMESTAMP
                    ),
                    "line_item_line_item_type": _column("Usage", rows),
                    "line_item_product_code": _column(product, rows),
                    "line_item_resource_id": _column(resource, rows),
                    "line_item_usage_type": _column(usage_type, rows),
                    "line_item_operation": _column(op, rows),
                    "line_item_usage_amount": pa.array(
                        np.broadcast_to(np.asarray(amount, np.float64), rows)
                    ),
                    "line_item_unblended_cost": cost,
                    "line_item_net_unblended_cost": cost,
                    "resource_tags": tags,
                }
            )
        )

    def daily_storage(self, bucket: str, usage_type: str, gb_month: float, price: int, tags):
        """A month of storage in `bucket` as S3 bills it: a line a day, each a day's share of
        the month's GB at `price` nanos per GB-month; returns the lines' nanos."""
        days = self.hours // 24
        nanos = np.full(days, round(gb_month * price / days))
        self.lines(
            "AmazonS3",
            bucket,
            usage_type,
            np.arange(days) * 24,
            24,
            np.full(days, gb_month / days),
            nanos,
            self.static_tags(days, tags),
            op="StandardStorage",
        )
        return nanos

    def owe(self, category: str, team_nanos: dict[str, float], split_lines: int = 0) -> None:
        for team, nanos in team_nanos.items():
            if nanos:
                self.owed[team, category] = self.owed.get((team, category), 0.0) + nanos
        self.slack[category] = self.slack.get(category, 0) + split_lines

    def owe_codes(self, category, codes: np.ndarray, nanos: np.ndarray, split_lines: int = 0):
        """Nanos owed per line or share, by team code."""
        per_team = np.bincount(codes, np.asarray(nanos, np.float64), len(self.CODES))
        self.owe(
            category, {t: float(n) for t, n in zip(self.CODES, per_team, strict=True)}, split_lines
        )

    def answers(self) -> dict[tuple[str, str], int]:
        return {key: round(nanos) for key, nanos in sorted(self.owed.items())}

    def table(self) -> pa.Table:
        cur = pa.concat_tables(self.parts)
        ids = numbered(f"{self.month}-{self.seed}-", np.arange(len(cur)), 10)
        return cur.add_column(0, "identity_line_item_id", ids).select(list(CUR_COLUMNS))
