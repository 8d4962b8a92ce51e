"""The tagging check in the graph: `tags_complete`, a non-blocking check on each month of the
curated CUR (asset cost/cur), that lists what the month's tags leave unattributable, escalates
it and reports WARN with the untagged cost, its share and the costliest resources."""

from __future__ import annotations

from datetime import UTC, datetime

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    Definitions,
    MetadataValue,
    ResourceParam,
    asset_check,
)

from lake_assets.cost.cur_assets import CUR_ASSET
from lake_assets.cost.model import cents
from lake_assets.cost.tagging import load_tagging_policy
from lake_assets.cost.tagging_service import escalate_and_notify, month_report
from lake_assets.settings import Settings
from partitions import monthly_partitions
from resources.catalog import PartitionCatalog
from resources.notifier import Notifier
from resources.storage import LakeStorage

TAGGING_CHECK = "tags_complete"
TOP_RESOURCES = 10  # listed in the check's metadata


def tagging_definitions(settings: Settings) -> Definitions:
    policy = load_tagging_policy()

    @asset_check(
        asset=CUR_ASSET,
        name=TAGGING_CHECK,
        # Blocking orders the check before the ledger (Dagster makes the CUR's downstream steps
        # wait for it); it warns, so untagged cost never stops the ledger: that cost is
        # attributed as unallocated, with its reason.
        blocking=True,
        partitions_def=monthly_partitions(settings.partitions_start),
        description=(
            f"Every billed resource carries {', '.join(policy.required_tags)} with a value the "
            "lake knows; what does not is escalated (warning, alert after "
            f"{policy.alert_after_days} days, incident after {policy.incident_after_days})."
        ),
    )
    def tags_complete(
        context,  # unannotated: Dagster reads the annotation, which is a string here
        storage: ResourceParam[LakeStorage],
        catalog: ResourceParam[PartitionCatalog],
        notifier: ResourceParam[Notifier],
    ) -> AssetCheckResult:
        report = month_report(settings, policy, catalog, storage, context.partition_key)
        escalation = escalate_and_notify(
            report, policy, storage, notifier, datetime.now(UTC).date()
        )
        top = report.untagged[:TOP_RESOURCES]
        return AssetCheckResult(
            passed=not report.untagged,
            severity=AssetCheckSeverity.WARN,
            description=report.summary(),
            metadata={
                "untagged_usd": float(cents(report.untagged_nanos)),
                "untagged_nanos": report.untagged_nanos,
                "bill_usd": float(cents(report.bill_nanos)),
                "untagged_share": report.share,
                "untagged_resources": len(report.untagged),
                "top_resources": MetadataValue.md(
                    "\n".join(
                        f"- `{u.resource}`: ${cents(u.cost_nanos)} ({u.share:.2%}), "
                        + "; ".join(p.describe() for p in u.problems)
                        for u in top
                    )
                    or "none"
                ),
                "notified": sorted({notice.level for notice in escalation.notices}),
            },
        )

    return Definitions(asset_checks=[tags_complete])
