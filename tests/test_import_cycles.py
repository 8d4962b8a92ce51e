"""No import circle among the modules of lake_assets/ and resources/.

Every import counts, those inside functions too: a function-level import only postpones the
circle to the first call, and whoever lifts it to the top of the module meets it.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("lake_assets", "resources")


def module_files(root: Path, packages: tuple[str, ...] = PACKAGES) -> dict[str, Path]:
    """Dotted module name -> file, for every module under the packages' folders."""
    modules = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def _base(module: str, path: Path, node: ast.ImportFrom) -> str:
    """The module a `from ... import` names, with relative levels resolved."""
    if not node.level:
        return node.module or ""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for _ in range(node.level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{node.module}" if node.module else package


def _known(name: str, modules: dict[str, Path]) -> str | None:
    """`name`, or the longest prefix of it that is one of the modules."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(module: str, modules: dict[str, Path]) -> dict[str, int]:
    """The modules (of `modules`) that `module` imports anywhere in its body, each with the line
    of its first import."""
    path = modules[module]
    found: dict[str, int] = {}
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [_known(alias.name, modules) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _base(module, path, node)
            targets = [
                f"{base}.{alias.name}"
                if f"{base}.{alias.name}" in modules
                else _known(base, modules)
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            if target and target != module:
                found.setdefault(target, node.lineno)
    return found


def import_graph(root: Path = REPO, packages: tuple[str, ...] = PACKAGES) -> dict:
    modules = module_files(root, packages)
    return {module: imports_of(module, modules) for module in modules}


def circles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The groups of modules that import each other, each sorted (Tarjan's strongly connected
    components)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph.get(node, {}):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(groups)


def closed_path(graph: dict[str, dict[str, int]], group: list[str]) -> list[str]:
    """A shortest path from the group's first module back to itself, inside the group."""
    start, members = group[0], set(group)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target in sorted(graph[node]):
                if target == start:
                    return paths[node] + [start]
                if target in members and target not in paths:
                    paths[target] = paths[node] + [target]
                    following.append(target)
        frontier = following
    raise AssertionError(f"no closed path in {group}")


def describe(graph: dict[str, dict[str, int]], group: list[str]) -> str:
    """The group's modules, and one circle through them with the line of each import."""
    path = closed_path(graph, group)
    steps = [f"{a} (line {graph[a][b]}) -> {b}" for a, b in zip(path, path[1:], strict=False)]
    return f"{', '.join(group)}:\n    " + "\n    ".join(steps)


def test_no_import_circle_in_lake_assets_or_resources():
    graph = import_graph()
    assert "lake_assets.cli.main" in graph and "resources.aws.glue" in graph
    found = circles(graph)
    assert not found, "import circles:\n  " + "\n\n  ".join(describe(graph, c) for c in found)


def test_a_circle_through_a_function_level_import_is_found(tmp_path):
    package = tmp_path / "lake_assets"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "cli.py").write_text("from lake_assets.demo import run_demo\n")
    (package / "demo.py").write_text("def run_demo():\n    from . import cli\n\n    return cli\n")
    (package / "apart.py").write_text("import lake_assets.demo\n")

    graph = import_graph(tmp_path, ("lake_assets",))

    assert circles(graph) == [["lake_assets.cli", "lake_assets.demo"]]
    assert describe(graph, ["lake_assets.cli", "lake_assets.demo"]) == (
        "lake_assets.cli, lake_assets.demo:\n"
        "    lake_assets.cli (line 1) -> lake_assets.demo\n"
        "    lake_assets.demo (line 2) -> lake_assets.cli"
    )
