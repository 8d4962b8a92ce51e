"""Drift of a generated pipeline (pure, no Dagster): the repository's generation of it compared
with the spec and templates as they are now, with what the code location loaded, with the stamps
on what is deployed and with the code_version of its latest materialization.

Every comparison reads stamps (and, for a deleted file, the list of paths a generation holds),
never renders a template: the asset check (checks.py) runs it hourly in the code location, where
Jinja and the hooks are not imported. `lake generate --check` is the full comparison (it
renders); this one is what can be seen from headers, stamps and paths.

A finding names the artifact that drifted, what the repository calls for (`expected`) and what
the artifact carries (`found`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from lake_assets.pipelines.stamp import (
    GENERATED_DIRS,
    NOT_GENERATED,
    Generation,
    Stamp,
    body_of,
    digest,
    pipeline_paths,
    read_stamp,
)

# The file whose stamp the code location reads into SourceConfig.generation.
LOADED_FILE = "lake_pipelines/{name}/source.yaml"

# How a deployed artifact records its generation: these keys in a JSON record (the code
# manifest's `pipelines` section, the Terraform stamp object) and, with GLUE_PREFIX, as Glue
# table Parameters (which are flat strings).
STAMP_KEYS = ("template_version", "spec_hash")
GLUE_PREFIX = "lake_pipeline."
# The object the pipeline's Terraform module writes (body: the JSON record), in the lake bucket.
TERRAFORM_STAMP_KEY = "_pipelines/{name}.json"

OUTDATED_TEMPLATE = "OUTDATED_TEMPLATE"  # a file generated from an older template version
SPEC_CHANGED = "SPEC_CHANGED"  # the spec (or its contract) changed since generation
EDITED_BY_HAND = "EDITED_BY_HAND"  # a file's body no longer matches its header
MISSING = "MISSING"  # a file the pipeline's generation holds is absent
NOT_DEPLOYED = "NOT_DEPLOYED"  # a deployed artifact carries no stamp of the pipeline
DEPLOYED_OUTDATED = "DEPLOYED_OUTDATED"  # a deployed artifact carries another generation
RUNS_OUTDATED = "RUNS_OUTDATED"  # the latest materialization ran another code_version
LOADED_OUTDATED = "LOADED_OUTDATED"  # the code location loaded another generation: restart it


@dataclass(frozen=True)
class Finding:
    kind: str
    artifact: str
    expected: str
    found: str

    def line(self) -> str:
        return f"{self.kind} {self.artifact}: {self.found}, expected {self.expected}"


@dataclass(frozen=True)
class GeneratedFile:
    path: str  # relative to the repository's root
    stamp: Stamp | None
    body_hash: str

    @property
    def edited(self) -> bool:
        return self.stamp is None or self.stamp.content_hash != self.body_hash


@dataclass(frozen=True)
class DeployedStamp:
    """The generation one deployed artifact carries; None when it carries none (absent, or
    created without `lake deploy --config`)."""

    artifact: str  # "glue table lakehouse_curated.p", "s3://lake/_code/deploy.json", ...
    generation: Generation | None


@dataclass(frozen=True)
class Repository:
    """A pipeline as the repository holds it now."""

    name: str
    files: tuple[GeneratedFile, ...]
    spec_hash: str | None  # of pipelines/<name>.yaml as it is now; None: the spec is gone
    template_version: int  # of the templates as they are now
    missing: tuple[str, ...] = ()  # the files generated for it (pipeline_paths) that are absent

    @property
    def generation(self) -> Generation | None:
        """What the generated files were made from: the stamp the code location loads."""
        loaded = LOADED_FILE.format(name=self.name)
        stamps = [f.stamp for f in self.files if f.path == loaded and f.stamp]
        return stamps[0].generation if stamps else None


def read_repository(
    root: Path, name: str, spec_hash: str | None, template_version: int
) -> Repository:
    """The stamps and body hashes of `name`'s generated files under `root`, and which of the
    files generated for it are absent."""
    files = []
    for folder in GENERATED_DIRS:
        for path in sorted((root / folder / name).rglob("*")):
            if path.is_file() and not set(path.relative_to(root).parts) & NOT_GENERATED:
                text = path.read_text(encoding="utf-8")
                files.append(
                    GeneratedFile(
                        path.relative_to(root).as_posix(), read_stamp(text), digest(body_of(text))
                    )
                )
    # A deleted file leaves no stamp to compare: only the list of what is generated shows it.
    present = {file.path for file in files}
    missing = tuple(
        path.as_posix() for path in pipeline_paths(name) if path.as_posix() not in present
    )
    return Repository(name, tuple(files), spec_hash, template_version, missing)


def stamp_record(generation: Generation) -> dict:
    """The JSON record of a generation on a deployed artifact."""
    return {"template_version": generation.template_version, "spec_hash": generation.spec_hash}


def glue_parameters(generation: Generation) -> dict[str, str]:
    return {GLUE_PREFIX + key: str(value) for key, value in stamp_record(generation).items()}


def generation_in(record: Mapping | None, prefix: str = "") -> Generation | None:
    """The generation a record carries (keys STAMP_KEYS after `prefix`), None if it carries
    none or a malformed one."""
    if not isinstance(record, Mapping):
        return None
    try:
        version, spec = (record[prefix + key] for key in STAMP_KEYS)
        return Generation(int(version), str(spec))
    except (KeyError, TypeError, ValueError):
        return None


def repository_findings(repository: Repository) -> list[Finding]:
    """The repository against the spec and the templates as they are now, and against itself:
    every file of the pipeline's generation present, each body as its stamp records."""
    findings = [
        Finding(MISSING, path, "the file `lake generate` renders", "absent")
        for path in repository.missing
    ]
    for file in repository.files:
        if file.stamp is None:
            findings.append(Finding(EDITED_BY_HAND, file.path, "a lake-generated header", "none"))
            continue
        if file.edited:
            findings.append(
                Finding(
                    EDITED_BY_HAND,
                    file.path,
                    f"content {file.stamp.content_hash}",
                    f"content {file.body_hash}",
                )
            )
        if file.stamp.generation.template_version != repository.template_version:
            findings.append(
                Finding(
                    OUTDATED_TEMPLATE,
                    file.path,
                    f"template {repository.template_version}",
                    f"template {file.stamp.generation.template_version}",
                )
            )
    generated = {f.stamp.generation.spec_hash for f in repository.files if f.stamp}
    for spec in sorted(generated - {repository.spec_hash}):
        findings.append(
            Finding(
                SPEC_CHANGED,
                f"pipelines/{repository.name}.yaml",
                f"spec {repository.spec_hash}" if repository.spec_hash else "no spec",
                f"generated from spec {spec}",
            )
        )
    return findings


def compare(
    repository: Repository,
    loaded: Generation | None,
    deployed: Sequence[DeployedStamp],
    last_code_version: str | None,
) -> list[Finding]:
    """Everything that differs from the repository's generation of the pipeline: in the
    repository itself, in the code location, on each deployed artifact and on the runs (None:
    nothing materialized yet)."""
    findings = repository_findings(repository)
    current = repository.generation
    expected = current.code_version if current else "not generated"
    if loaded != current:
        found = loaded.code_version if loaded else "not generated"
        findings.append(Finding(LOADED_OUTDATED, "code location", expected, found))
    for stamp in deployed:
        if stamp.generation is None:
            findings.append(Finding(NOT_DEPLOYED, stamp.artifact, expected, "no stamp"))
        elif stamp.generation != current:
            found = stamp.generation.code_version
            findings.append(Finding(DEPLOYED_OUTDATED, stamp.artifact, expected, found))
    if last_code_version is not None and last_code_version != expected:
        artifact = f"curated/{repository.name} latest materialization"
        findings.append(Finding(RUNS_OUTDATED, artifact, expected, last_code_version))
    return findings


def summary(findings: Sequence[Finding]) -> str:
    if not findings:
        return "current: generated from the spec and templates as they are now, as loaded, deployed and run"
    kinds = sorted({finding.kind for finding in findings})
    return f"{len(findings)} finding(s): {', '.join(kinds)}"
