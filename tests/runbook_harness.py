"""Runs a runbook (docs/runbooks/*.md) the way an operator follows it, so a runbook that drifts
from the code fails `make test`.

A runbook's commands are its ```sh blocks, run in order. Each line is a `lake` command (run
in-process, its placeholders `$NAME` filled from the scenario), `# expect: TEXT` (TEXT must be
in the previous command's output), `# expect exit: N` (its exit status; 0 unless said), or
`# expect not: TEXT` (TEXT must not be), `# wait: EVENT` (the operator waits for something no
command does, such as the daemon's next tick; the scenario makes it happen, `waits[EVENT]`), or
any other comment (an operator's note). Nothing else may appear in a block: a runbook gives
exact commands, and the test runs every one of them.

A runbook of several situations (alarm-response.md: one `## ` section per alarm) may be run a
section at a time, each in the situation it is written for (`sections`)."""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

RUNBOOKS = Path(__file__).resolve().parents[1] / "docs" / "runbooks"
BLOCK = re.compile(r"^[ \t]*```sh\n(.*?)^[ \t]*```", re.S | re.M)
SECTION = re.compile(r"^## (.+?)(?: \(`[^`]*`\))?$", re.M)


@dataclass
class Step:
    command: str | None  # None: a wait
    expects: list[str] = field(default_factory=list)
    absent: list[str] = field(default_factory=list)
    exit: int = 0
    wait: str | None = None
    section: str = ""


def _blocks(text: str) -> list[tuple[str, str]]:
    """(section, block) of each ```sh block: the `## ` heading above it (without an alarm's
    name in parentheses), "" before the first."""
    headings = [(m.start(), m.group(1)) for m in SECTION.finditer(text)]
    return [
        (next((title for at, title in reversed(headings) if at < block.start()), ""), block[1])
        for block in BLOCK.finditer(text)
    ]


def runbook_steps(path: Path, sections: Collection[str] | None = None) -> list[Step]:
    """The steps of a runbook, or of its `sections` only."""
    steps: list[Step] = []
    for section, block in _blocks(path.read_text()):
        if sections is not None and section not in sections:
            continue
        for line in block.splitlines():
            line = line.strip()
            if not line:
                continue
            if line.startswith("# expect") and (not steps or steps[-1].command is None):
                raise ValueError(f"{path.name}: {line!r} follows no command")
            if line.startswith("# expect exit:"):
                steps[-1].exit = int(line.split(":", 1)[1])
            elif line.startswith("# expect:"):
                steps[-1].expects.append(line.split(":", 1)[1].strip())
            elif line.startswith("# expect not:"):
                steps[-1].absent.append(line.split(":", 1)[1].strip())
            elif line.startswith("# wait:"):
                steps.append(Step(None, wait=line.split(":", 1)[1].strip(), section=section))
            elif line.startswith("#"):
                continue
            elif line.startswith("lake "):
                steps.append(Step(line, section=section))
            else:
                raise ValueError(f"{path.name}: {line!r} is not a lake command or a comment")
    return steps


def runbook_sections(path: Path) -> list[str]:
    """The sections of a runbook that hold commands, in order."""
    return list(dict.fromkeys(step.section for step in runbook_steps(path)))


def substitute(text: str, variables: dict[str, str]) -> str:
    def value(match: re.Match) -> str:
        name = match.group(1)
        if name not in variables:
            raise KeyError(f"the scenario does not set ${name}")
        return variables[name]

    return re.sub(r"\$\{?([A-Z_]+)\}?", value, text)


def run_runbook(
    name: str,
    variables: dict[str, str],
    env: dict[str, str],
    sections: Collection[str] | None = None,
    waits: Mapping[str, Callable[[], None]] | None = None,
) -> list[str]:
    """Run every command of docs/runbooks/<name>.md (of its `sections` only) with `env` set;
    assert each exit status and expected text; return the outputs. At a `# wait: EVENT`, call
    `waits[EVENT]()`, which makes EVENT happen."""
    from lake_assets.cli.main import main

    steps = runbook_steps(RUNBOOKS / f"{name}.md", sections)
    if sections is not None:
        missing = set(sections) - {step.section for step in steps}
        assert not missing, f"{name}: no commands in sections {sorted(missing)}"
    outputs = []
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        for step in steps:
            if step.command is None:
                if step.wait not in (waits or {}):
                    raise KeyError(f"the scenario does not make {step.wait!r} happen")
                waits[step.wait]()
                continue
            argv = shlex.split(substitute(step.command, variables))
            out = io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                code = main(argv[1:])
            text = out.getvalue()
            outputs.append(text)
            assert code == step.exit, f"{name}: `{' '.join(argv)}` exited {code}:\n{text}"
            for expected in (substitute(e, variables) for e in step.expects):
                assert expected in text, f"{name}: `{' '.join(argv)}` lacks {expected!r}:\n{text}"
            for unwanted in (substitute(e, variables) for e in step.absent):
                assert unwanted not in text, (
                    f"{name}: `{' '.join(argv)}` says {unwanted!r}:\n{text}"
                )
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old
    return outputs
