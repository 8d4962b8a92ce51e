"""The masked views in the asset graph: one unpartitioned asset, `access/masked_views`, for every
(dataset, profile), since one policy change can change the views of every dataset and they are
decided together in well under a second; its blocking check executes the views before they are
registered, so a view that would show a masked column in clear never reaches Glue. Thin wiring:
the work is in service.py."""

from collections import Counter

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    DataVersion,
    MaterializeResult,
    MetadataValue,
    ResourceParam,
    asset,
)

from lake_assets.access.service import MaskedViews
from lake_assets.instants import utc_now
from lake_assets.runtime.retries import retried_when_transient
from lake_assets.settings import Settings
from resources.catalog import PartitionCatalog
from resources.classification_store import ClassificationStore
from resources.storage import LakeStorage

MASKED_VIEWS_KEY = AssetKey(["access", "masked_views"])
NO_CLEAR_READS = "no_profile_reads_a_masked_column_in_clear"


@asset(
    key=MASKED_VIEWS_KEY,
    group_name="access",
    description=(
        "A view per dataset and subject profile that applies the access policies' column "
        "treatments and row filters (Athena views in Glue on aws; built per query locally)."
    ),
    check_specs=[
        AssetCheckSpec(
            NO_CLEAR_READS,
            asset=MASKED_VIEWS_KEY,
            blocking=True,
            description="Executes every view: none shows a masked or denied column in clear.",
        )
    ],
    kinds={"sql"},
)
@retried_when_transient
def masked_views(
    context: AssetExecutionContext,
    settings: ResourceParam[Settings],
    storage: ResourceParam[LakeStorage],
    catalog: ResourceParam[PartitionCatalog],
    classification: ResourceParam[ClassificationStore],
) -> MaterializeResult:
    service = MaskedViews(
        settings, {"storage": storage, "catalog": catalog, "classification": classification}
    )
    plan = service.plan(utc_now())
    leaks = service.leaks(plan)
    # A leaking set is not registered: the views already in Glue stay until the next build.
    registered = {} if leaks else service.register(plan)
    return MaterializeResult(
        data_version=DataVersion(plan.fingerprint),
        metadata={
            "fingerprint": plan.fingerprint,
            "views": len(plan.views),
            "views_per_profile": MetadataValue.json(
                dict(sorted(Counter(v.profile for v in plan.views).items()))
            ),
            "withheld": MetadataValue.json(
                {f"{v.name}.{column}": why for v in plan.views for column, why in v.withheld}
            ),
            "registered": MetadataValue.json(registered),
        },
        check_results=[
            AssetCheckResult(
                check_name=NO_CLEAR_READS,
                passed=not leaks,
                severity=AssetCheckSeverity.ERROR,
                metadata={"leaks": MetadataValue.json([str(leak) for leak in leaks])},
                description="\n".join(str(leak) for leak in leaks) or None,
            )
        ],
    )
