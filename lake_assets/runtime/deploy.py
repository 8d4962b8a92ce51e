"""`lake deploy`: the code an EMR Serverless job runs, built here and uploaded to the place the
runner submits it from (ADR-0044).

Three objects at fixed keys under CODE_PREFIX in the lake bucket:
- ENTRY_SCRIPT_KEY: lake_assets/runtime/entry.py as it is, the job's entry point;
- PACKAGE_KEY: this project's wheel, byte for byte. A wheel is a zip with the packages at its
  root, which is what `--py-files` takes; Spark puts only .zip, .egg and .jar files on the
  executors' path, hence the name;
- MANIFEST_KEY: version, sha256 and size of both, the EMR release and the runtime image tag,
  and the generation (template version, spec hash) of each generated pipeline the package holds
  (`pipelines`, read by the pipelines' drift check), written last, so a half-finished deploy
  never looks complete.

Python 3.11 and the third-party wheels (pyarrow, pydantic-core, ...) are not uploaded: they are in
the job runtime image built from deploy/emr/ (Dockerfile and requirements.txt), whose tag the
manifest records. The wheel is built reproducibly (fixed timestamps, the installed build backend,
no index), so deploying the same sources again uploads nothing.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from lake_assets.pipelines.drift import LOADED_FILE, generation_in, stamp_record
from lake_assets.pipelines.stamp import read_stamp

if TYPE_CHECKING:
    from resources.storage import LakeStorage

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ENTRY_SCRIPT = Path("lake_assets/runtime/entry.py")
RUNTIME_IMAGE_DIR = Path("deploy/emr")

CODE_PREFIX = "_code/"
ENTRY_SCRIPT_KEY = CODE_PREFIX + "entry.py"
PACKAGE_KEY = CODE_PREFIX + "lakehouse.zip"
MANIFEST_KEY = CODE_PREFIX + "deploy.json"
# The Spark job of a generated pipeline is `pipeline.<name>` (runtime/jobs.py).
PIPELINE_JOB_PREFIX = "pipeline."

# The EMR Serverless release of the application (terraform: emr_release_label; the Dockerfile's
# base image) and the Python the job code runs on there; tests/test_deploy.py keeps them equal.
EMR_RELEASE = "emr-7.12.0"
JOB_PYTHON = "3.11"

# Zip entries carry this time instead of the files' mtimes, so equal sources give equal bytes.
_REPRODUCIBLE_EPOCH = "315532800"  # 1980-01-01, the earliest time a zip entry can hold


class DeployError(RuntimeError):
    """The code could not be built; the message says what to install or fix."""


class CodeNotDeployed(FileNotFoundError):
    """A job's code is missing under CODE_PREFIX; nothing was submitted."""

    def __init__(self, job: str, problems: list[str]):
        self.job, self.problems = job, problems
        super().__init__(
            f"refusing to submit the Spark job {job!r}: its code is not deployed "
            f"({'; '.join(problems)}). Run `lake deploy` to build and upload it."
        )


@dataclass(frozen=True)
class Artifact:
    """One object of a deploy: its name in the manifest, its key, what it was made from."""

    name: str
    key: str
    source: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def record(self) -> dict:
        return {
            "key": self.key,
            "source": self.source,
            "sha256": self.sha256,
            "bytes": len(self.data),
        }


@dataclass
class DeployReport:
    """What a deploy did, object by object (keys)."""

    version: str
    image_tag: str
    uploaded: list[Artifact] = field(default_factory=list)
    unchanged: list[Artifact] = field(default_factory=list)

    def lines(self, storage: LakeStorage) -> list[str]:
        def line(verb: str, artifact: Artifact) -> str:
            return (
                f"{verb} {storage.uri(artifact.key)} ({artifact.source}, {len(artifact.data):,} "
                f"bytes, sha256 {artifact.sha256[:12]})"
            )

        lines = [line("uploaded", a) for a in self.uploaded]
        lines += [line("unchanged", a) for a in self.unchanged]
        if not self.uploaded:
            lines.append(
                f"nothing uploaded: {storage.uri(CODE_PREFIX)} already holds lakehouse "
                f"{self.version} as built from these sources"
            )
        lines.append(
            f"job runtime image tag: {self.image_tag} (build {RUNTIME_IMAGE_DIR}/Dockerfile, push "
            "it to the job_runtime_repository_url output, set terraform's emr_runtime_image_tag)"
        )
        return lines


def runtime_image_tag(project_root: Path = PROJECT_ROOT) -> str:
    """The tag of the job runtime image: the release and a hash of the folder it is built from, so
    one tag always names one image (the repository's tags are immutable)."""
    digest = hashlib.sha256()
    for name in ("Dockerfile", "requirements.txt"):
        digest.update((project_root / RUNTIME_IMAGE_DIR / name).read_bytes() + b"\0")
    return f"{EMR_RELEASE}-{digest.hexdigest()[:12]}"


def _can_build_wheels_offline() -> bool:
    """setuptools builds wheels by itself from 70.1; before that it needs the `wheel` package."""
    from packaging.version import Version

    try:
        if Version(importlib.metadata.version("setuptools")) >= Version("70.1"):
            return True
        importlib.metadata.version("wheel")
        return True
    except importlib.metadata.PackageNotFoundError:
        return False


def build_wheel(project_root: Path, out_dir: Path) -> Path:
    """This project's wheel, built with the installed build backend and no package index, from a
    clean copy of the sources (no stale build/ folder, no bytecode), with fixed timestamps."""
    if not _can_build_wheels_offline():
        raise DeployError(
            "lake deploy builds the wheel offline with this environment's setuptools, which "
            "cannot build wheels (needs setuptools>=70.1, declared in pyproject.toml): reinstall "
            "the project (`make install`)"
        )
    source = out_dir / "source"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build")
    source.mkdir(parents=True)
    for path in project_root.iterdir():
        if path.is_file() and not path.name.startswith("."):
            shutil.copy2(path, source / path.name)
    for package in _package_folders(project_root):
        shutil.copytree(project_root / package, source / package, ignore=ignore)
    wheels = out_dir / "wheels"
    command = [
        sys.executable, "-m", "pip", "wheel", str(source), "--wheel-dir", str(wheels),
        "--no-deps", "--no-build-isolation", "--no-index", "--quiet",
        "--disable-pip-version-check",
    ]  # fmt: skip
    env = {**os.environ, "SOURCE_DATE_EPOCH": _REPRODUCIBLE_EPOCH, "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise DeployError(f"building the wheel failed:\n{done.stdout}{done.stderr}")
    [wheel] = wheels.glob("*.whl")
    return wheel


def _package_folders(project_root: Path) -> list[str]:
    """The top-level package folders pyproject.toml ships ("lake_assets*" -> "lake_assets")."""
    import tomllib

    project = tomllib.loads((project_root / "pyproject.toml").read_text())
    patterns = project["tool"]["setuptools"]["packages"]["find"]["include"]
    return sorted({pattern.rstrip("*").split(".")[0] for pattern in patterns})


def code_artifacts(project_root: Path, wheel: Path) -> list[Artifact]:
    """The objects a job submission names: its package and its entry point."""
    return [
        Artifact("package", PACKAGE_KEY, wheel.name, wheel.read_bytes()),
        Artifact(
            "entry_point",
            ENTRY_SCRIPT_KEY,
            ENTRY_SCRIPT.as_posix(),
            (project_root / ENTRY_SCRIPT).read_bytes(),
        ),
    ]


def deployed_pipelines(project_root: Path) -> dict[str, dict]:
    """The generation of each generated pipeline in the package: the stamp of its source.yaml
    (the file the code location loads it from)."""
    pipelines = {}
    for path in sorted(project_root.glob(LOADED_FILE.format(name="*"))):
        stamp = read_stamp(path.read_text(encoding="utf-8"))
        if stamp is not None:
            pipelines[path.parent.name] = stamp_record(stamp.generation)
    return pipelines


def deploy_manifest(
    artifacts: list[Artifact], version: str, image_tag: str, pipelines: dict[str, dict]
) -> Artifact:
    """The manifest: deterministic bytes (no time stamp), so an unchanged build rewrites nothing."""
    document = {
        "project": "lakehouse",
        "version": version,
        "emr_release": EMR_RELEASE,
        "python": JOB_PYTHON,
        "runtime_image_tag": image_tag,
        "artifacts": {a.name: a.record() for a in artifacts},
        "pipelines": pipelines,
    }
    data = (json.dumps(document, indent=2, sort_keys=True) + "\n").encode()
    return Artifact("manifest", MANIFEST_KEY, "deploy manifest", data)


def _manifest_bytes(storage: LakeStorage) -> bytes | None:
    try:
        return storage.get_bytes(MANIFEST_KEY)
    except FileNotFoundError:
        return None


def _recorded_artifacts(manifest: bytes | None) -> dict:
    """The manifest's record of each artifact; a manifest that does not parse records nothing."""
    try:
        return json.loads(manifest or b"{}").get("artifacts", {})
    except (ValueError, AttributeError):
        return {}


def upload_code(
    storage: LakeStorage, artifacts: list[Artifact], manifest: Artifact, report: DeployReport
) -> DeployReport:
    """Upload each artifact the deployed manifest does not record as it is, then the manifest."""
    current = _manifest_bytes(storage)
    recorded = _recorded_artifacts(current)
    for artifact in artifacts:
        info = storage.head(artifact.key)
        same = recorded.get(artifact.name, {}).get("sha256") == artifact.sha256
        if same and info is not None and info.size == len(artifact.data):
            report.unchanged.append(artifact)
        else:
            storage.put_bytes(artifact.key, artifact.data)
            report.uploaded.append(artifact)
    if report.uploaded or current != manifest.data:
        storage.put_bytes(manifest.key, manifest.data)
        report.uploaded.append(manifest)
    else:
        report.unchanged.append(manifest)
    return report


def deploy_code(storage: LakeStorage, project_root: Path = PROJECT_ROOT) -> DeployReport:
    """Build the wheel, take the entry script, upload both and the manifest where they differ."""
    with tempfile.TemporaryDirectory(prefix="lake-deploy-") as work:
        wheel = build_wheel(project_root, Path(work))
        artifacts = code_artifacts(project_root, wheel)
    version = wheel.name.split("-")[1]
    image_tag = runtime_image_tag(project_root)
    manifest = deploy_manifest(artifacts, version, image_tag, deployed_pipelines(project_root))
    return upload_code(storage, artifacts, manifest, DeployReport(version, image_tag))


def require_deployed_code(storage: LakeStorage, job: str) -> dict:
    """Raise CodeNotDeployed, naming each missing or half-written object, unless the entry script
    and the package a submission names are there as the deploy manifest recorded them. Returns
    the tags of the job's run (run_tags)."""
    problems = []
    manifest = _manifest_bytes(storage)
    if manifest is None:
        problems.append(f"{storage.uri(MANIFEST_KEY)} is missing")
    recorded = _recorded_artifacts(manifest)
    for name, key in (("entry_point", ENTRY_SCRIPT_KEY), ("package", PACKAGE_KEY)):
        info = storage.head(key)
        expected = recorded.get(name, {}).get("bytes")
        if info is None:
            problems.append(f"{storage.uri(key)} is missing")
        elif expected is not None and info.size != expected:
            problems.append(
                f"{storage.uri(key)} is {info.size} bytes where the deploy manifest says "
                f"{expected} (a deploy is under way or failed)"
            )
    if problems:
        raise CodeNotDeployed(job, problems)
    return run_tags(manifest, job)


def run_tags(manifest: bytes | None, job: str) -> dict[str, str]:
    """The stamps of a generated pipeline's job run (`pipeline.<name>`): the generation of the
    code the manifest records as deployed, which is the code the run executes. None for the
    engine's own jobs."""
    name = job.removeprefix(PIPELINE_JOB_PREFIX)
    if name == job:
        return {}
    try:
        record = json.loads(manifest or b"{}").get("pipelines", {}).get(name)
    except (ValueError, AttributeError):
        record = None
    generation = generation_in(record)
    if generation is None:
        return {"lake_pipeline": name}
    return {
        "lake_pipeline": name,
        "lake_template_version": str(generation.template_version),
        "lake_spec_hash": generation.spec_hash,
    }
