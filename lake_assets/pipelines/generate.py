"""What `lake generate` finds and does: the files on disk compared with what the specs render.

Each generated file is in one state (`survey`):

| state    | on disk                                              | `lake generate`          |
|----------|------------------------------------------------------|--------------------------|
| new      | absent                                               | writes it                |
| same     | byte for byte what the spec renders                  | nothing                  |
| changed  | pristine, generated from another spec (or, under the | rewrites it              |
|          | same spec and template version, by edited templates) |                          |
| outdated | pristine, from another template version              | `--upgrade` rewrites it  |
| edited   | its body no longer hashes to its stamp (a hand edit) | refuses; upgrade.py      |
| orphan   | stamped, but no spec renders it any more             | removes it if pristine   |

Only files whose bytes differ are written, so a rerun writes nothing. `--check` (`findings`) is
the same survey, reported instead of acted on; `make test` runs it.
"""

from __future__ import annotations

import shutil
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from lake_assets.config import ConfigError
from lake_assets.pipelines import render
from lake_assets.pipelines import spec as specs
from lake_assets.pipelines.stamp import (
    GENERATED_DIRS,
    NOT_GENERATED,
    body_of,
    digest,
    edited_by_hand,
    read_stamp,
)

State = Literal["new", "same", "changed", "outdated", "edited", "orphan"]
INDEX = "(index)"


@dataclass(frozen=True)
class FileState:
    pipeline: str  # its pipeline's name, or INDEX
    path: Path  # relative to the repository
    state: State
    rendered: str | None  # None for an orphan
    on_disk: str | None  # None when absent


@dataclass(frozen=True)
class Survey:
    """Every generated file's state."""

    root: Path
    specs_dir: Path
    files: tuple[FileState, ...]

    def of(self, *states: State) -> list[FileState]:
        return [file for file in self.files if file.state in states]


def survey(root: Path, specs_dir: Path, only: Path | None = None) -> Survey:
    """Render every spec of `specs_dir` (or only the spec file `only`, plus the indexes) and
    compare with the files under `root`. Specs and their hooks are validated here (ConfigError)."""
    every = specs.load_specs(specs_dir)
    hashes = {name: specs.spec_hash(spec, specs_dir) for name, spec in every.items()}
    names = sorted(every) if only is None else [_name_of(only, every, specs_dir)]
    rendered: dict[Path, tuple[str, str]] = {}
    for name in names:
        # The job imports its hooks: check them first, so an error names the spec's key.
        specs.check_hooks(every[name], specs_dir / f"{name}.yaml")
        for path, text in render.render_pipeline(
            every[name], name, specs_dir, hashes[name]
        ).items():
            rendered[path] = (name, text)
    for path, text in render.render_index(every, hashes).items():
        rendered[path] = (INDEX, text)
    files = [
        _state(pipeline, path, text, _read(root / path))
        for path, (pipeline, text) in sorted(rendered.items())
    ]
    if only is None:
        files += _orphans(root, set(rendered))
    return Survey(root, specs_dir, tuple(files))


def _name_of(spec: Path, every: Collection[str], specs_dir: Path) -> str:
    """The pipeline of the spec file `spec`: one of those load_specs read, else a ConfigError
    naming it (a `pipelines/x.yml` is never read as a spec, nor taken for an `x.yaml` beside it)."""
    if spec.suffix != ".yaml" or spec.stem not in every:
        raise ConfigError(
            spec,
            "-",
            f"not a spec: a spec is <name>.yaml directly in the specs directory {specs_dir}",
        )
    return spec.stem


def _state(pipeline: str, path: Path, rendered: str, on_disk: str | None) -> FileState:
    if on_disk is None:
        state: State = "new"
    elif on_disk == rendered:
        state = "same"
    elif edited_by_hand(on_disk):
        state = "edited"
    elif read_stamp(on_disk).generation.template_version != render.TEMPLATE_VERSION:
        state = "outdated"
    else:
        state = "changed"
    return FileState(pipeline, path, state, rendered, on_disk)


def _orphans(root: Path, rendered: set[Path]) -> list[FileState]:
    found = []
    for folder in GENERATED_DIRS:
        for path in sorted((root / folder).rglob("*")):
            relative = path.relative_to(root)
            if not path.is_file() or relative in rendered or NOT_GENERATED & set(path.parts):
                continue
            text = _read(path)
            if text is not None and read_stamp(text) is not None:
                pipeline = (
                    relative.parts[len(folder.parts)]
                    if len(relative.parts) > len(folder.parts) + 1
                    else INDEX
                )
                found.append(FileState(pipeline, relative, "orphan", None, text))
    return found


def _read(path: Path) -> str | None:
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        return ""  # not text: never one of ours, so it reads as edited


def write(root: Path, files: Iterable[FileState]) -> list[Path]:
    """Write each file's rendered text where the bytes differ; the paths written."""
    written = []
    for file in files:
        target = root / file.path
        data = file.rendered.encode("utf-8")
        if target.is_file() and target.read_bytes() == data:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        written.append(file.path)
    return written


def remove_orphans(root: Path, files: Iterable[FileState]) -> list[Path]:
    """Delete pristine orphans (and folders left empty); edited ones are left for a person."""
    removed = []
    for file in files:
        if file.state == "orphan" and not edited_by_hand(file.on_disk):
            (root / file.path).unlink()
            removed.append(file.path)
            for folder in (root / file.path).parents:
                if folder == root or any(p.name != "__pycache__" for p in folder.iterdir()):
                    break
                shutil.rmtree(folder)  # nothing left but Python's byte-code cache
    return removed


# ------------------------------------------------------------------------------------------
# --check
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    kind: str  # OUTDATED TEMPLATE | EDITED BY HAND | SPEC CHANGED | MISSING | ORPHANED | UNVERSIONED EDIT
    pipeline: str
    where: str
    detail: str = ""

    def line(self) -> str:
        return f"{self.kind:<18} {self.pipeline:<20} {self.where:<48} {self.detail}".rstrip()


def findings(found: Survey) -> list[Finding]:
    """Everything `--check` reports: one line per file, one per pipeline whose spec changed."""
    result: list[Finding] = []
    spec_changed: set[str] = set()
    for file in found.files:
        where = file.path.as_posix()
        if file.state == "new":
            result.append(Finding("MISSING", file.pipeline, where))
        elif file.state == "edited":
            stamp = read_stamp(file.on_disk)
            detail = (
                f"content {digest(body_of(file.on_disk))} != header {stamp.content_hash}"
                if stamp
                else "its stamp (the two header lines) was removed or changed"
            )
            result.append(Finding("EDITED BY HAND", file.pipeline, where, detail))
        elif file.state == "outdated":
            template = read_stamp(file.on_disk).generation.template_version
            detail = f"template {template}, current {render.TEMPLATE_VERSION}"
            result.append(Finding("OUTDATED TEMPLATE", file.pipeline, where, detail))
        elif file.state == "orphan":
            detail = f"no {found.specs_dir.name}/{file.pipeline}.yaml renders it"
            result.append(Finding("ORPHANED", file.pipeline, where, detail))
        elif file.state == "changed":
            generated = read_stamp(file.on_disk).generation.spec_hash
            current = read_stamp(file.rendered).generation.spec_hash
            if generated == current:
                detail = f"renders differently under template {render.TEMPLATE_VERSION}: bump TEMPLATE_VERSION"
                result.append(Finding("UNVERSIONED EDIT", file.pipeline, where, detail))
            elif file.pipeline not in spec_changed:
                spec_changed.add(file.pipeline)
                spec_path = (
                    render.spec_path_of(file.pipeline, found.specs_dir)
                    if file.pipeline != INDEX
                    else render.INDEX_SOURCE
                )
                detail = f"spec {current} != generated {generated}"
                result.append(Finding("SPEC CHANGED", file.pipeline, spec_path, detail))
    if render.templates_digest() != render.TEMPLATES_DIGEST:
        result.append(
            Finding(
                "UNVERSIONED EDIT",
                "(templates)",
                "lake_assets/pipelines/templates/",
                f"digest {render.templates_digest()} != TEMPLATES_DIGEST: bump TEMPLATE_VERSION",
            )
        )
    return result
