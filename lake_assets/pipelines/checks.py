"""The drift check of a generated pipeline: one non-blocking asset check on its curated asset,
WARN when anything differs from the repository's generation of it (drift.py says what)."""

from __future__ import annotations

from pathlib import Path

from dagster import (
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    ResourceParam,
    asset_check,
)
from dagster._core.definitions.data_version import CODE_VERSION_TAG

from lake_assets.ingestion.asset_keys import curated_key_of
from lake_assets.pipelines.drift import compare, read_repository, summary
from lake_assets.pipelines.stamp import Generation
from resources.pipeline_stamps import PipelineStamps

DRIFT_CHECK = "generated_code_current"


def current_spec_hash(spec: Path) -> str | None:
    """The hash of the spec as it is now (its contract references are relative to its folder);
    None when the spec is gone."""
    # Imported when the check runs, never when the code location loads (which reads no specs).
    from lake_assets.pipelines.spec import load_spec, spec_hash

    return spec_hash(load_spec(spec), spec.parent) if spec.is_file() else None


def current_template_version() -> int:
    # render.py imports Jinja2: only when the check runs.
    from lake_assets.pipelines.render import TEMPLATE_VERSION

    return TEMPLATE_VERSION


def build_drift_check(name: str, loaded: Generation, root: Path) -> AssetChecksDefinition:
    """The check of pipeline `name`, whose generation the code location loaded as `loaded`;
    `root` holds its spec (pipelines/) and its generated files (lake_pipelines/, terraform/)."""
    key = curated_key_of(name)

    @asset_check(
        asset=key,
        name=DRIFT_CHECK,
        blocking=False,
        description=(
            f"{name} runs and deploys the code generated from pipelines/{name}.yaml with the "
            "current templates (repository, code location, Glue table, code manifest, "
            "Terraform stamp, latest materialization)."
        ),
    )
    def generated_code_current(
        context, pipeline_stamps: ResourceParam[PipelineStamps]
    ) -> AssetCheckResult:
        spec = current_spec_hash(root / "pipelines" / f"{name}.yaml")
        repository = read_repository(root, name, spec, current_template_version())
        event = context.instance.get_latest_materialization_event(key)
        materialization = event.asset_materialization if event else None
        last = materialization.tags.get(CODE_VERSION_TAG) if materialization else None
        findings = compare(repository, loaded, pipeline_stamps.deployed(name), last)
        current = repository.generation
        return AssetCheckResult(
            passed=not findings,
            severity=AssetCheckSeverity.WARN,
            description=summary(findings),
            metadata={
                "code_version": current.code_version if current else "not generated",
                "findings": "\n".join(finding.line() for finding in findings) or "none",
                "kinds": sorted({finding.kind for finding in findings}),
            },
        )

    return generated_code_current
