"""Schema migration: before a promotion publishes under a schema that widened a type, the
published partitions whose files hold the older type are rewritten at the new one, each by
the compaction machinery's write-audit-publish (service.CompactionPass.migrate), with a
lineage run of its own. Files then always hold the types the catalog gives their partition,
so engines reading the files directly (Athena over Glue, Spark, pyarrow, DuckDB) read the
dataset as one table (ADR-0027).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

from dagster import AssetExecutionContext

from lake_assets.compaction.model import CompactionRecord
from lake_assets.compaction.planning import TargetSchema
from lake_assets.compaction.policy import load_policy
from lake_assets.compaction.service import compaction_pass
from lake_assets.ingestion.promotion_plan import PromotionPlan
from lake_assets.settings import Settings


def migrate_published(
    settings: Settings,
    plan: PromotionPlan,
    run_id: str,
    resources: Mapping[str, Any],
    keep: Collection[str],
    progress: Callable[[str], None] = print,
    context: AssetExecutionContext | None = None,
) -> list[CompactionRecord]:
    """Bring every published partition of the plan's dataset, except those in `keep` (which
    the run publishes itself), to the plan's schema; what it rewrote, empty when nothing was
    due. Called before the run publishes, so no partition is published under the new schema
    while another still holds the old types in a file. Its rewrites run on the resources'
    Spark runner in the promotion's step `context`."""
    work = compaction_pass(
        settings, load_policy(settings.compaction_file), run_id, resources, progress, context
    )
    return work.migrate(plan.dataset, TargetSchema(plan.schema_version, plan.columns), keep)
