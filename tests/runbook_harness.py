"""Runs a runbook (docs/runbooks/*.md) the way an operator follows it, so a runbook that drifts
from the code fails `make test`.

A runbook's commands are its ```sh blocks, run in order. Each line is a `lake` command (run
in-process, its placeholders `$NAME` filled from the scenario), `# expect: TEXT` (TEXT must be
in the previous command's output), `# expect exit: N` (its exit status; 0 unless said), or
`# expect not: TEXT` (TEXT must not be), or any other comment (an operator's note). Nothing else may appear in a block: a runbook gives
exact commands, and the test runs every one of them."""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

RUNBOOKS = Path(__file__).resolve().parents[1] / "docs" / "runbooks"
BLOCK = re.compile(r"^[ \t]*```sh\n(.*?)^[ \t]*```", re.S | re.M)


@dataclass
class Step:
    command: str
    expects: list[str] = field(default_factory=list)
    absent: list[str] = field(default_factory=list)
    exit: int = 0


def runbook_steps(path: Path) -> list[Step]:
    steps: list[Step] = []
    for block in BLOCK.findall(path.read_text()):
        for line in block.splitlines():
            line = line.strip()
            if not line:
                continue
            if line.startswith("# expect exit:"):
                steps[-1].exit = int(line.split(":", 1)[1])
            elif line.startswith("# expect:"):
                steps[-1].expects.append(line.split(":", 1)[1].strip())
            elif line.startswith("# expect not:"):
                steps[-1].absent.append(line.split(":", 1)[1].strip())
            elif line.startswith("#"):
                continue
            elif line.startswith("lake "):
                steps.append(Step(line))
            else:
                raise ValueError(f"{path.name}: {line!r} is not a lake command or a comment")
    return steps


def substitute(text: str, variables: dict[str, str]) -> str:
    def value(match: re.Match) -> str:
        name = match.group(1)
        if name not in variables:
            raise KeyError(f"the scenario does not set ${name}")
        return variables[name]

    return re.sub(r"\$\{?([A-Z_]+)\}?", value, text)


def run_runbook(name: str, variables: dict[str, str], env: dict[str, str]) -> list[str]:
    """Run every command of docs/runbooks/<name>.md with `env` set; assert each exit status and
    expected text; return the outputs."""
    from lake_assets.cli.main import main

    outputs = []
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        for step in runbook_steps(RUNBOOKS / f"{name}.md"):
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
