"""The CUR as a source of the lake: which delivery of a month to publish, what its schema is,
and whether what the job wrote honours the source's contract. Pure: records in, decisions out;
cur_run.py does the I/O, cur_job.py the Spark, cur_assets.py the Dagster wiring.

A month is one partition. AWS delivers a month many times while it is open, and restates it
after it closes; every delivery is a new execution id and a complete copy of the month. So the
month's latest complete delivery (its manifest landed and every data file it names present) is
the month: a newer one replaces the published version (the old one kept as superseded), and the
delivery already published is recognised by its id and not published again.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

import pyarrow as pa

from lake_assets.cost.cur_delivery import COST_COLUMNS, DeliveryManifest
from lake_assets.cost.model import CUR_COLUMNS, OPTIONAL_CUR_COLUMNS
from lake_assets.ingestion.schema_registry import (
    diff_fields,
    fingerprint,
    latest_accepted,
    next_version_id,
)
from lake_assets.ingestion.schema_versions import SchemaVersion
from lake_assets.tables.locations import CUR_SOURCE
from lake_assets.tables.types import field_type_of_arrow

# The curated table: the CUR's columns (split_line_item_* null where a delivery has none), the
# costs as nano-dollars rounded once (model.to_nanos), the UTC hour a line starts in, and the
# delivery it came from.
CURATED_COLUMNS: dict[str, str] = {
    **CUR_COLUMNS,
    **OPTIONAL_CUR_COLUMNS,
    "cost_nanos": "integer",  # of line_item_unblended_cost
    "net_cost_nanos": "integer",  # of line_item_net_unblended_cost
    "usage_hour": "string",  # "YYYY-MM-DDTHH" of line_item_usage_start_date, UTC
    "delivery_id": "string",
}
# What every line must name; resource id and tags may be empty (that is tagging's business).
NON_NULL = (
    "identity_line_item_id",
    "bill_billing_period_start_date",
    "line_item_usage_start_date",
    "line_item_line_item_type",
    "line_item_product_code",
    "line_item_usage_type",
    "line_item_unblended_cost",
    "line_item_net_unblended_cost",
)
# Delivered types the job reads each lake type from (it casts: a decimal cost becomes a double).
_READABLE_AS = {
    "string": {"string"},
    "double": {"double", "integer", "decimal"},
    "timestamp": {"timestamp"},
    "map<string,string>": {"map<string,string>"},
}


class CurSchemaError(ValueError):
    """A delivered CUR file the lake cannot read: names the file, the column and why."""

    def __init__(self, file: str, column: str, reason: str):
        self.file, self.column, self.reason = file, column, reason
        super().__init__(f"CUR file {file}: column {column!r} {reason}")


class CurNotDelivered(LookupError):
    """No complete delivery of the month has landed."""


@dataclass(frozen=True)
class LandedDelivery:
    """A delivery in the raw zone: its manifest, its folder and the keys (relative to the
    folder) found there."""

    manifest: DeliveryManifest
    prefix: str
    present: frozenset[str]
    manifest_key: str

    @property
    def data_keys(self) -> tuple[str, ...]:
        return tuple(self.prefix + name for name in self.manifest.data_files)

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(name for name in self.manifest.data_files if name not in self.present)


@dataclass(frozen=True)
class MonthDecision:
    """What the month's asset does: `publish` the delivery, or leave the month `unchanged`
    (the delivery is the one published)."""

    action: str
    delivery: LandedDelivery
    reason: str


def latest_complete(deliveries: Sequence[LandedDelivery], month: str) -> LandedDelivery | None:
    """The month's newest delivery whose data files have all landed (by delivery time, then
    id, so equal times still choose one)."""
    complete = [d for d in deliveries if d.manifest.month == month and not d.missing]
    return max(
        complete, key=lambda d: (d.manifest.delivered_at, d.manifest.delivery_id), default=None
    )


def decide(
    month: str, deliveries: Sequence[LandedDelivery], published_delivery: str | None
) -> MonthDecision:
    chosen = latest_complete(deliveries, month)
    if chosen is None:
        incomplete = [f"{d.manifest.delivery_id} lacks {', '.join(d.missing)}" for d in deliveries]
        raise CurNotDelivered(
            f"no complete CUR delivery of {month} has landed"
            + (f" ({'; '.join(incomplete)})" if incomplete else "")
        )
    delivery_id = chosen.manifest.delivery_id
    if delivery_id == published_delivery:
        return MonthDecision("unchanged", chosen, f"delivery {delivery_id} is already published")
    reason = (
        f"delivery {delivery_id} restates {month}, replacing {published_delivery}"
        if published_delivery
        else f"delivery {delivery_id} is {month}'s first"
    )
    return MonthDecision("publish", chosen, reason)


def delivery_fields(schemas: Sequence[tuple[str, pa.Schema]]) -> dict[str, str]:
    """The delivery's fields (column -> type) from each data file's schema; every file must
    hold every required column at a readable type, and the files must agree."""
    fields: dict[str, str] | None = None
    for file, schema in schemas:
        found = {f.name: field_type_of_arrow(f.type) for f in schema}
        for column, kind in {**CUR_COLUMNS, **OPTIONAL_CUR_COLUMNS}.items():
            if column not in found:
                if column in CUR_COLUMNS:
                    raise CurSchemaError(file, column, "is missing: the lake requires it")
                continue
            if found[column] not in _READABLE_AS[kind]:
                raise CurSchemaError(
                    file, column, f"is {found[column]}, which the lake cannot read as {kind}"
                )
        if fields is not None and found != fields:
            column = next(
                c for c in sorted(found.keys() | fields.keys()) if found.get(c) != fields.get(c)
            )
            raise CurSchemaError(
                file,
                column,
                f"is {found.get(column, 'absent')} here, {fields.get(column, 'absent')} in "
                f"{schemas[0][0]}: one delivery's files must agree",
            )
        fields = found
    if fields is None:
        raise CurNotDelivered("the delivery names no data file")
    return fields


def schema_version(
    history: Sequence[SchemaVersion], fields: dict[str, str], now: datetime
) -> tuple[SchemaVersion, list[SchemaVersion]]:
    """The registry version of a delivery's fields, and the records to write: a new version
    when the CUR's schema changed (the previous one DEPRECATED), none when it did not. A
    change is never BREAKING here: what the lake cannot read is refused before
    (delivery_fields), and everything else is read by name."""
    printed = fingerprint(fields)
    for existing in history:
        if existing.fingerprint == printed:
            return existing, []
    baseline = latest_accepted(history)
    version = SchemaVersion(
        source_id=CUR_SOURCE,
        version=next_version_id(history, now),
        fields=fields,
        field_diff=diff_fields(baseline.fields if baseline else {}, fields),
        status="ACTIVE",
        compatibility="NONE",
        created_at=now.isoformat(),
        fingerprint=printed,
    )
    changed = [version]
    if baseline is not None and baseline.status == "ACTIVE":
        changed.append(replace(baseline, status="DEPRECATED"))
    return version, changed


@dataclass(frozen=True)
class ContractOutcome:
    passed: bool
    metadata: dict


def contract(written: dict, manifest: DeliveryManifest) -> ContractOutcome:
    """The CUR source's contract on what the job wrote (its `rows`, `nulls` per NON_NULL
    column and `sums` per cost column): rows, non-null required columns, and cost sums equal
    to the manifest's totals when it has them (to a nano-dollar per line: sums of doubles in
    another order)."""
    failures = []
    if written["rows"] <= 0:
        failures.append("no rows")
    if manifest.rows is not None and written["rows"] != manifest.rows:
        failures.append(f"{written['rows']} rows, the manifest says {manifest.rows}")
    failures += [f"{n} null {c}" for c, n in sorted(written["nulls"].items()) if n]
    for column in COST_COLUMNS:
        expected = (manifest.totals or {}).get(column)
        got = written["sums"].get(column) or 0.0
        if expected is not None and not math.isclose(
            got, expected, rel_tol=1e-12, abs_tol=1e-9 * max(written["rows"], 1)
        ):
            failures.append(f"{column} sums to {got!r}, the manifest says {expected!r}")
    return ContractOutcome(
        not failures,
        {
            "rows": written["rows"],
            "failures": failures or "none",
            "sums": written["sums"],
            "manifest_totals": manifest.totals or "absent",
            "delivery": manifest.delivery_id,
        },
    )
