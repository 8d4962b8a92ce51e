"""Audit and publish: the last two steps of write-audit-publish, run by the orchestrator.

The job wrote each partition to a folder unique to its run. Here the result is audited (row
counts reconcile, the written schema is the registry's) and then each partition is published by
switching its catalog pointer. A run that dies before the switch leaves the old version in place.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from lake_assets.ingestion.promotion import PromotionResult, expected_schema
from lake_assets.ingestion.promotion_plan import PromotionPlan
from lake_assets.ingestion.raw_zone import RawFile, partition_location
from resources.catalog import PartitionCatalog, PublishedPartition
from resources.storage import LakeStorage


class AuditFailed(RuntimeError):
    """The written output does not reconcile; nothing of this run was published."""


class PartialPublish(RuntimeError):
    """Publishing stopped part-way through a range; names what was and was not published."""

    def __init__(
        self, dataset: str, published: list[str], failed: str, pending: list[str], error: Exception
    ):
        self.published, self.failed, self.pending = published, failed, pending
        super().__init__(
            f"{dataset}: published {published or 'no partitions'}; publishing {failed} failed "
            f"({error}); not published: {pending}. Re-run the range: publishing is idempotent."
        )


def expected_rows_read(plan: PromotionPlan, raw_files: Sequence[RawFile]) -> int:
    """What profiling counted in the plan's input files: parsed rows plus malformed lines."""
    inputs = set(plan.input_keys)
    return sum(r.row_count + r.malformed_rows for r in raw_files if r.key in inputs)


def audit(plan: PromotionPlan, result: PromotionResult, expected_read: int) -> list[str]:
    """Every reason the result must not be published; empty when it reconciles."""
    problems = []
    if result.rows_read != expected_read:
        problems.append(
            f"read {result.rows_read} rows from the input files, profiling counted {expected_read}"
        )
    for partition in plan.partitions:
        r = result.partitions[partition]
        if r.rows_in != r.rows_published + r.rows_quarantined:
            problems.append(
                f"{partition}: rows in {r.rows_in} != published {r.rows_published} + "
                f"quarantined {r.rows_quarantined}"
            )
        if r.rows_written != r.rows_published:
            problems.append(
                f"{partition}: wrote {r.rows_written} rows, expected {r.rows_published}"
            )
    if result.written_schema and result.written_schema != expected_schema(plan):
        problems.append(
            f"written schema {result.written_schema} differs from the registry's {expected_schema(plan)}"
        )
    return problems


def publish_partitions(
    catalog: PartitionCatalog,
    storage: LakeStorage,
    plan: PromotionPlan,
    result: PromotionResult,
    run_id: str,
    now: datetime | None = None,
) -> list[PublishedPartition]:
    """Switch each partition's pointer to this run's folder, in partition order.

    A manifest beside the data records what the folder holds, so the folder exists (and says
    so) even for a partition whose every row was quarantined.
    """
    now = now or datetime.now(UTC)
    published: list[PublishedPartition] = []
    for index, partition in enumerate(plan.partitions):
        r = result.partitions[partition]
        location = partition_location("curated", plan.dataset, run_id, partition)
        entry = PublishedPartition(
            dataset=plan.dataset,
            partition=partition,
            location=location,
            run_id=run_id,
            published_at=now.isoformat(),
            row_count=r.rows_published,
            schema_version=plan.schema_version,
            columns=dict(plan.columns),
        )
        try:
            storage.put_bytes(
                location + "_manifest.json",
                json.dumps(
                    {
                        **entry.__dict__,
                        "files": r.files,
                        "rows_quarantined": r.rows_quarantined,
                        "inputs": plan.input_keys,
                    },
                    indent=2,
                ).encode(),
            )
            catalog.publish(entry)
        except Exception as error:
            raise PartialPublish(
                plan.dataset,
                [p.partition for p in published],
                partition,
                list(plan.partitions[index + 1 :]),
                error,
            ) from error
        published.append(entry)
    return published


def expire_superseded(
    catalog: PartitionCatalog,
    storage: LakeStorage,
    retention_days: int,
    now: datetime | None = None,
) -> list[str]:
    """Delete partition versions superseded more than `retention_days` ago."""
    now = now or datetime.now(UTC)
    removed = []
    for old in catalog.superseded(older_than=now - timedelta(days=retention_days)):
        storage.delete_prefix(old.location)
        catalog.forget_superseded(old)
        removed.append(old.location)
    return removed
