"""Applying a day of order changes to `silver_orders`: the orchestrator's side, Dagster-free.

Plan: the day's published order_events partition is resolved through the catalog; the order
dates its changes touch are read from its `order_date` column alone (pyarrow, no Spark); the
current version of each of those slices is resolved to its files. The Spark job (orders.py)
merges and writes the slices that changed into the run's folder. Publish: each changed slice is
audited (its rows read back) and switched with the version it was planned from as the expected
one, so a writer that published the slice meanwhile is refused, never overwritten. Slices the
day does not touch are never read, written or published.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from lake_assets.ingestion.publish import PartialPublish
from lake_assets.silver.orders import ORDER_COLUMNS, ORDERS_DATASET, current_orders
from lake_assets.tables.locations import published_location, published_root
from lake_assets.tables.publish import publish, version_of
from lake_assets.tables.reader import (
    published_uris,
    read_published,
    read_version_arrow,
    resolve_published,
)
from resources.catalog import PartitionCatalog, PublishedPartition, StalePublish
from resources.storage import LakeStorage

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

CHANGES_DATASET = "order_events"
JOB = "orders_merge"


class OrdersAuditFailed(RuntimeError):
    """What the job wrote for a slice does not hold the rows it computed; nothing published."""


@dataclass(frozen=True)
class OrdersMergePlan:
    """One day's merge: the job's plan, and the version of each touched slice it read."""

    day: str
    run_id: str
    read: dict[str, str]  # order date -> version read ("" for a slice not yet published)
    changes: dict[str, int]  # order date -> changes of the day; "none": without an order date
    job_plan: dict

    @property
    def order_dates(self) -> list[str]:
        return sorted(self.read)


def changes_per_order_date(storage: LakeStorage, changes: PublishedPartition) -> dict[str, int]:
    """How many of a published order_events version's changes fall on each order date; those
    without one (no slice to merge into: the job leaves them out) under "none"."""
    dates = read_version_arrow(storage, changes, ["order_date"]).column("order_date")
    return dict(
        sorted(Counter(str(d) if d is not None else "none" for d in dates.to_pylist()).items())
    )


def plan_orders_merge(
    catalog: PartitionCatalog, storage: LakeStorage, day: str, run_id: str
) -> OrdersMergePlan:
    """The merge of change day `day` into the current state, written under run `run_id`."""
    changes = catalog.current(CHANGES_DATASET, day)
    if changes is None:
        raise LookupError(f"{CHANGES_DATASET}[{day}] is not published: no changes to apply")
    counted = changes_per_order_date(storage, changes)
    slices = {d: catalog.current(ORDERS_DATASET, d) for d in counted if d != "none"}
    return OrdersMergePlan(
        day=day,
        run_id=run_id,
        read={d: version_of(v) for d, v in slices.items()},
        changes=counted,
        job_plan={
            "changes": resolve_published(catalog, storage, CHANGES_DATASET, [day]),
            "slices": {d: published_uris(storage, v) if v else [] for d, v in slices.items()},
            "output_uri": storage.uri(published_root(ORDERS_DATASET, run_id)),
        },
    )


def changed_slices(result: Mapping) -> list[str]:
    """The order dates whose slice the job rewrote (a change won there)."""
    return sorted(d for d, s in result["slices"].items() if s["applied"])


def audit_orders(result: Mapping) -> list[str]:
    """Every reason the job's output must not be published; empty when it reconciles."""
    return [
        f"{ORDERS_DATASET}[{d}]: computed {s['rows']} rows, read back {s.get('rows_written')}"
        for d, s in sorted(result["slices"].items())
        if s["applied"] and s.get("rows_written") != s["rows"]
    ]


def publish_orders(
    catalog: PartitionCatalog,
    storage: LakeStorage,
    planned: OrdersMergePlan,
    result: Mapping,
    details: Mapping | None = None,
) -> list[PublishedPartition]:
    """Publish every slice the job rewrote, each expected at the version the plan read; returns
    the published entries. A refused slice (a concurrent writer) stops the publish with a
    PartialPublish naming what was published: re-running the day re-plans from the current
    versions, and the seq rule makes the merge of what is already applied a no-op."""
    problems = audit_orders(result)
    if problems:
        raise OrdersAuditFailed("; ".join(problems) + "; nothing published")
    changed = changed_slices(result)
    published: list[PublishedPartition] = []
    for number, day in enumerate(changed):
        written = result["slices"][day]
        entry = PublishedPartition(
            dataset=ORDERS_DATASET,
            partition=day,
            location=published_location(ORDERS_DATASET, planned.run_id, day),
            run_id=planned.run_id,
            published_at=datetime.now(UTC).isoformat(),
            row_count=written["rows"],
            schema_version="derived",
            columns=ORDER_COLUMNS,
        )
        try:
            publish(catalog, storage, entry, written["files"], planned.read[day], details)
        except StalePublish as error:
            done = [p.partition for p in published]
            raise PartialPublish(ORDERS_DATASET, done, day, changed[number + 1 :], error) from error
        published.append(entry)
    return published


def read_current_orders(
    spark: SparkSession,
    catalog: PartitionCatalog,
    storage: LakeStorage,
    order_dates: list[str] | None = None,
) -> DataFrame:
    """The orders as readers see them (no tombstones), optionally only some order dates."""
    return current_orders(read_published(spark, catalog, storage, ORDERS_DATASET, order_dates))
