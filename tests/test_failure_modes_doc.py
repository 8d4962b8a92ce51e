"""docs/failure-modes.md names, for each failure mode of the seeds, the tests that prove it is
handled: every such test must exist, so the document cannot point at a test that was renamed
or removed."""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "failure-modes.md"
REFERENCE = re.compile(r"`(tests/[\w/]+\.py)::(\w+)`")


@cache
def _tests_in(path: str) -> frozenset[str]:
    tree = ast.parse((REPO / path).read_text())
    return frozenset(
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test")
    )


def test_every_test_the_failure_modes_document_names_exists():
    references = REFERENCE.findall(DOC.read_text())
    assert len(references) >= 40, "the document should name the tests of every failure mode"
    missing = [
        f"{path}::{name}"
        for path, name in references
        if not (REPO / path).is_file() or name not in _tests_in(path)
    ]
    assert not missing, f"docs/failure-modes.md names tests that do not exist: {missing}"
