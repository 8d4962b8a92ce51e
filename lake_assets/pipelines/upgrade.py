"""`lake generate [--upgrade [--force|--merge]]`: bring the generated files up to date, never
silently over a hand edit.

A file whose body still hashes to its stamp is rewritten; a hand-edited one is refused with the
diff between what would be written and what is on disk (move the edit into a hook, or decide:
`--force` overwrites it and prints what was discarded; `--merge` merges three-way, as Copier's
update does). Files from an older template version are only rewritten under `--upgrade`, so
moving a pipeline to a new template is a step someone takes and reviews.

The base of a three-way merge is the file as it was generated. We cannot render an old template
again, but generated files are committed and the stamp records the content hash of the pristine
body: the newest revision in git whose body hashes to it is the base. `git merge-file` merges the
hand edit onto the new render and marks conflicts; the result keeps the new stamp, so it stays
EDITED BY HAND until the edit becomes a hook (and, its new pristine body never committed, a
second merge falls back to refusal).
"""

from __future__ import annotations

import difflib
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from lake_assets.pipelines import render
from lake_assets.pipelines.generate import FileState, Survey, remove_orphans, write
from lake_assets.pipelines.stamp import HEADER_LINES, body_of, digest, read_stamp

Mode = Literal["refuse", "force", "merge"]
Say = Callable[[str], None]


def regenerate(
    found: Survey, *, upgrade: bool = False, mode: Mode = "refuse", say: Say = print
) -> int:
    """Write what may be written and refuse the rest, saying why; 0, or 1 if anything was held."""
    writable = found.of("new", "changed") + (found.of("outdated") if upgrade else [])
    held = 0
    for file in found.of("outdated") if not upgrade else []:
        template = read_stamp(file.on_disk).generation.template_version
        say(
            f"OUTDATED TEMPLATE  {file.path.as_posix()}: template {template}, current "
            f"{render.TEMPLATE_VERSION}; `lake generate --upgrade` rewrites it"
        )
        held += 1
    for file in found.of("edited"):
        resolved = _resolve_edit(found.root, file, mode if upgrade else "refuse", say)
        if resolved is None:
            held += 1
        else:
            writable.append(resolved)
            held += resolved.state == "edited"  # merged with conflicts: written, still held
    written = write(found.root, writable)
    removed = remove_orphans(found.root, found.of("orphan"))
    for file in found.of("orphan"):
        if file.path not in removed:
            say(f"ORPHANED (edited)  {file.path.as_posix()}: no spec renders it; remove it by hand")
            held += 1
    for path in written:
        say(f"wrote    {path.as_posix()}")
    for path in removed:
        say(f"removed  {path.as_posix()}")
    unchanged = len(found.of("same"))
    say(
        f"lake generate: {len(written)} written, {len(removed)} removed, {unchanged} unchanged"
        + (f", {held} held back" if held else "")
    )
    return 1 if held else 0


def _resolve_edit(root: Path, file: FileState, mode: Mode, say: Say) -> FileState | None:
    """What to write over a hand-edited file under `mode`: None refuses."""
    path = file.path.as_posix()
    new_body, disk_body = body_of(file.rendered), body_of(file.on_disk)
    if mode == "force":
        say(f"FORCED             {path}: the hand edit below was discarded")
        say(_diff(new_body, disk_body, f"{path} (written)", f"{path} (discarded)"))
        return FileState(file.pipeline, file.path, "changed", file.rendered, file.on_disk)
    if mode == "merge":
        stamp = read_stamp(file.on_disk)
        base = pristine_base(root, file.path, stamp.content_hash) if stamp else None
        if base is not None:
            merged, conflicts = merge(disk_body, base, new_body, render.TEMPLATE_VERSION)
            header = "".join(file.rendered.splitlines(keepends=True)[:HEADER_LINES])
            what = f"{conflicts} conflict(s) marked: resolve them" if conflicts else "merged"
            say(
                f"MERGED             {path}: {what}; it stays EDITED BY HAND until the edit is a hook"
            )
            state = "edited" if conflicts else "changed"
            return FileState(file.pipeline, file.path, state, header + merged, file.on_disk)
        say(f"NO MERGE BASE      {path}: no revision in git holds it as generated")
    say(
        f"EDITED BY HAND     {path}: not overwritten. Move the edit into a hook "
        "(lake_assets/pipelines/hooks.py), or rerun with --upgrade --force (discard it) or "
        "--upgrade --merge (three-way). What would be written, against the file on disk:"
    )
    say(
        _diff(
            new_body, disk_body, f"{path} (template {render.TEMPLATE_VERSION})", f"{path} (on disk)"
        )
    )
    return None


def _diff(old: str, new: str, old_label: str, new_label: str) -> str:
    lines = difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True), old_label, new_label
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines).rstrip("\n")


def pristine_base(root: Path, path: Path, content_hash: str) -> str | None:
    """The body of `path` as generated: from the newest revision in git whose body hashes to
    the stamp's content hash (None outside git, or when none does)."""
    log = _git(root, "log", "--format=%H", "-n", "200", "--", path.as_posix())
    for revision in log.split() if log else []:
        text = _git(root, "show", f"{revision}:./{path.as_posix()}")
        if text is not None and digest(body_of(text)) == content_hash:
            return body_of(text)
    return None


def merge(on_disk: str, base: str, generated: str, template_version: int) -> tuple[str, int]:
    """`git merge-file` of the hand edit (base -> on disk) onto the new render; the merged text
    (conflicts marked, diff3 style) and the number of conflicts."""
    with tempfile.TemporaryDirectory() as folder:
        files = []
        for name, text in (("on_disk", on_disk), ("base", base), ("generated", generated)):
            files.append(Path(folder) / name)
            files[-1].write_text(text, encoding="utf-8")
        labels = ["on disk", "as generated", f"template {template_version}"]
        result = subprocess.run(
            ["git", "merge-file", "-p", "--diff3"]
            + [arg for label in labels for arg in ("-L", label)]
            + [str(f) for f in files],
            capture_output=True,
            text=True,
        )
    if result.returncode < 0 or result.returncode > 127:
        raise RuntimeError(f"git merge-file failed: {result.stderr.strip()}")
    return result.stdout, result.returncode


def _git(root: Path, *args: str) -> str | None:
    result = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
    return result.stdout if result.returncode == 0 else None
