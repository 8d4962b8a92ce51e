"""The registry asset's check: no BREAKING schema version awaits approval; it blocks promotion.
(A contract's rules are checks of the curated asset: contracts/checks.py.)"""

from dagster import AssetCheckResult, AssetCheckSeverity, MetadataValue

from lake_assets.ingestion.asset_keys import registry_key_of
from lake_assets.ingestion.schema_registry import (
    approval_command,
    blocking_version,
    describe_diff,
)

SCHEMA_CHECK = "schema_compatible"


def schema_check_result(source_id: str, versions) -> AssetCheckResult:
    blocking = blocking_version(versions)
    if blocking is None:
        return AssetCheckResult(
            asset_key=registry_key_of(source_id),
            check_name=SCHEMA_CHECK,
            passed=True,
            metadata={"versions": len(versions)},
        )
    return AssetCheckResult(
        asset_key=registry_key_of(source_id),
        check_name=SCHEMA_CHECK,
        passed=False,
        severity=AssetCheckSeverity.ERROR,
        description=f"{blocking.version} is BREAKING: {'; '.join(blocking.violations)}",
        metadata={
            "version": blocking.version,
            "violations": MetadataValue.json(blocking.violations),
            "changes": MetadataValue.md(
                "\n".join(f"- `{line}`" for line in describe_diff(blocking.field_diff))
            ),
            "approve_with": approval_command(blocking),
        },
    )
