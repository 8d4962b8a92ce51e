"""The bill the lake's own runs would get (the demo's case): given the drivers its local runs
recorded (application "local"), a CUR 2.0 month whose EMR Serverless lines bill exactly their
vCPU- and GB-hours at list price, plus the application's idle pre-initialised capacity in every
hour it ran, S3 storage per bucket and class, requests per bucket and Athena per workgroup, so
the demo's ledger reflects what actually ran. Pure: drivers in, line items out."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lake_assets.cost.cur_lines import (
    ATHENA_NANOS_PER_MB,
    EMR,
    EMR_USAGE,
    GIB,
    PLATFORM_TAGS,
    S3_CLASSES,
    TIER1_NANOS,
    TIER2_NANOS,
    WORKGROUP_ARN,
    Bill,
    hour_labels,
    tag_maps,
)
from lake_assets.cost.model import emr_application_arn, emr_ids

# The pre-initialised capacity an application keeps warm: idle in every hour it ran (vCPU-h,
# GB-h of the hour).
IDLE_PER_HOUR = (1.0, 4.0)
_PER_HOUR = {"vcpu_seconds": 0, "memory_gb_seconds": 1}


def bill_for_drivers(
    month: str,
    drivers: pa.Table,
    seed: int = 0,
    idle_per_hour: tuple[float, float] = IDLE_PER_HOUR,
    price_factor: float = 1.0,
) -> pa.Table:
    """CUR 2.0 line items (model.CUR_COLUMNS) for `drivers` (model.Driver columns) of `month`:
    `idle_per_hour` the application's idle capacity (vCPU, GB) in each hour it ran, every cost at
    `price_factor` times list price (the demo's runs are too small for cents to show)."""
    bill = Bill(month, seed)
    drivers = drivers.filter(pc.equal(drivers["month"], month))
    hour_index = pc.index_in(drivers["hour"], hour_labels(month))
    drivers = drivers.set_column(
        drivers.schema.get_field_index("hour"), "hour", pc.fill_null(hour_index, 0)
    )
    _emr(bill, drivers, idle_per_hour)
    _storage(bill, drivers)
    _requests(bill, drivers)
    _athena(bill, drivers)
    if not bill.parts:
        raise ValueError(f"no drivers of {month} to bill")
    return _priced(bill.table(), price_factor)


def _sums(drivers: pa.Table, keys: list[str], **where: str | list[str]) -> pa.Table:
    for column, value in where.items():
        chosen = pa.array(value if isinstance(value, list) else [value])
        drivers = drivers.filter(pc.is_in(drivers[column], chosen))
    return (
        drivers.group_by(keys)
        .aggregate([("value", "sum")])
        .sort_by([(k, "ascending") for k in keys])
    )


def _emr(bill: Bill, drivers: pa.Table, idle_per_hour: tuple[float, float]) -> None:
    used = _sums(drivers, ["resource", "hour", "measure"], kind="run", measure=list(_PER_HOUR))
    for resource in pc.unique(used["resource"]).to_pylist():
        # A run recorded on its application names it by id (drivers.py), the bill by ARN.
        ids = emr_ids(resource) or (resource, None)
        is_application = ids[1] is None
        mine = used.filter(pc.equal(used["resource"], resource))
        arn = resource if emr_ids(resource) else emr_application_arn(resource)
        for measure, kind in _PER_HOUR.items():
            rows = mine.filter(pc.equal(mine["measure"], measure))
            hours = rows["hour"].to_numpy()
            amount = rows["value_sum"].to_numpy() / 3600 + idle_per_hour[kind] * is_application
            usage, unit, price = EMR_USAGE[kind]
            bill.lines(
                EMR,
                arn,
                usage,
                hours,
                1,
                amount,
                np.rint(amount / unit * price),
                tag_maps(len(hours), PLATFORM_TAGS),
                op="Application" if is_application else "JobRun",
            )


def _storage(bill: Bill, drivers: pa.Table) -> None:
    measures = {measure: (usage, price) for usage, measure, price in S3_CLASSES}
    stored = _sums(drivers, ["resource", "measure"], kind="storage", measure=list(measures))
    for bucket, measure, size in zip(
        *(stored[c].to_pylist() for c in stored.column_names), strict=True
    ):
        usage, price = measures[measure]
        bill.daily_storage(bucket, usage, size / GIB, price, PLATFORM_TAGS)


def _requests(bill: Bill, drivers: pa.Table) -> None:
    made = _sums(drivers, ["resource"], measure="requests")
    for bucket, requests in zip(*(made[c].to_pylist() for c in made.column_names), strict=True):
        tier1 = round(requests / 5)  # one in five a PUT/LIST, as cur_data bills them
        for usage, count, price, op in (
            ("Requests-Tier1", tier1, TIER1_NANOS, "PutObject"),
            ("Requests-Tier2", round(requests) - tier1, TIER2_NANOS, "GetObject"),
        ):
            if count > 0:
                bill.lines(
                    "AmazonS3",
                    bucket,
                    f"EU-{usage}",
                    [0],
                    bill.hours,
                    [count],
                    [count * price],
                    tag_maps(1, PLATFORM_TAGS),
                    op=op,
                )


def _athena(bill: Bill, drivers: pa.Table) -> None:
    scanned = _sums(drivers, ["resource", "hour"], kind="query", measure="bytes_scanned")
    if not scanned.num_rows:
        return
    mb = scanned["value_sum"].to_numpy() / 1e6
    groups = pc.replace_substring(scanned["resource"], WORKGROUP_ARN, "")
    bill.lines(
        "AmazonAthena",
        scanned["resource"].combine_chunks(),
        "EU-DataScannedInTB",
        scanned["hour"].to_numpy(),
        1,
        mb / 1e6,
        np.rint(mb * ATHENA_NANOS_PER_MB),
        tag_maps(len(mb), {**PLATFORM_TAGS, "user_team": groups.combine_chunks()}),
    )


def _priced(lines: pa.Table, factor: float) -> pa.Table:
    if factor == 1.0:
        return lines
    for column in ("line_item_unblended_cost", "line_item_net_unblended_cost"):
        index = lines.schema.get_field_index(column)
        lines = lines.set_column(index, column, pc.multiply(lines[column], factor))
    return lines
