"""The code location's image (deploy/dagster/Dockerfile), checked statically: no Docker engine
runs on these machines, so what can be read from the file and the repository is checked here
(`make checkov` scans it too); what only a build and a start would show is listed in the ADR on
the production instance."""

from __future__ import annotations

import fnmatch
import importlib.metadata
import importlib.util
import json
import re
import shlex
import socket
import threading
import tomllib
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path, PurePosixPath

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

REPO = Path(__file__).resolve().parents[1]
DOCKERFILE = REPO / "deploy" / "dagster" / "Dockerfile"
RENDERED_INSTANCE = "deploy/dagster/dagster.yaml"  # `lake platform instance --out` writes it
DAGSTER_HOME = "/opt/dagster/home"


def instructions(path: Path = DOCKERFILE) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order: comments dropped, continued lines joined."""
    joined, pending = [], ""
    for line in path.read_text().splitlines():
        if line.lstrip().startswith("#") and not pending.strip():
            continue
        if line.lstrip().startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        joined.append(pending + line)
        pending = ""
    found = []
    for text in joined:
        if text.strip():
            keyword, _, arguments = text.strip().partition(" ")
            found.append((keyword.upper(), arguments.strip()))
    return found


def of(keyword: str) -> list[str]:
    return [arguments for k, arguments in instructions() if k == keyword]


def words(arguments: str) -> list[str]:
    """An instruction's words, JSON (exec) form or shell form."""
    return json.loads(arguments) if arguments.startswith("[") else shlex.split(arguments)


def copies() -> list[tuple[list[str], str, list[str]]]:
    """(sources, destination, flags) of every COPY."""
    found = []
    for arguments in of("COPY"):
        parts = words(arguments)
        flags = [p for p in parts if p.startswith("--")]
        paths = [p for p in parts if not p.startswith("--")]
        found.append((paths[:-1], paths[-1], flags))
    return found


def workdir() -> PurePosixPath:
    [path] = of("WORKDIR")
    return PurePosixPath(path)


def copied_to() -> dict[str, PurePosixPath]:
    """Each COPY source -> where it lands in the image."""
    placed = {}
    for sources, destination, _ in copies():
        target = PurePosixPath(destination)
        target = target if target.is_absolute() else workdir() / target
        for source in sources:
            placed[source] = target / source if destination.endswith("/") else target
    return placed


def _segments_match(pattern: list[str], path: list[str]) -> bool:
    if not pattern:
        return not path
    if pattern[0] == "**":
        return any(_segments_match(pattern[1:], path[i:]) for i in range(len(path) + 1))
    return (
        bool(path)
        and fnmatch.fnmatchcase(path[0], pattern[0])
        and _segments_match(pattern[1:], path[1:])
    )


def ignored_by_dockerignore(path: str) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parent folders wins; a
    `!` pattern lets it through."""
    parts, ignored = path.split("/"), False
    for line in (REPO / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        exception, pattern = line.startswith("!"), line.lstrip("!").strip("/").split("/")
        if any(_segments_match(pattern, parts[:n]) for n in range(1, len(parts) + 1)):
            ignored = not exception
    return ignored


def test_every_copy_source_is_in_the_repository_and_reaches_the_build():
    assert copies(), "the image copies nothing"
    for sources, _, flags in copies():
        assert not any(f.startswith("--from") for f in flags)
        for source in sources:
            assert source == RENDERED_INSTANCE or (REPO / source).exists(), (
                f"COPY {source}: not in the repository"
            )
            assert not ignored_by_dockerignore(source), f"COPY {source}: .dockerignore drops it"
            if (REPO / source).is_dir():  # a file inside reaches the build as well
                inside = next(
                    p for p in (REPO / source).rglob("*.*") if "__pycache__" not in p.parts
                )
                assert not ignored_by_dockerignore(inside.relative_to(REPO).as_posix())


def test_what_a_working_copy_holds_besides_never_reaches_the_build():
    for path in (".venv/bin/python", "lake/raw/x.json", "outputs.json", "terraform/terraform.tfstate",
                 "terraform/.terraform/providers", "terraform/pipelines/fx_rates/.terraform/x",
                 "tests/conftest.py", ".git/config", "lake_assets/__pycache__/x.pyc"):  # fmt: skip
        assert ignored_by_dockerignore(path), path


def test_the_image_holds_what_the_code_reads_beside_its_packages():
    """The code finds its declarations relative to its packages (lake_assets/settings.py
    REPO_ROOT), as in the repository: each lands at the same place under WORKDIR."""
    from lake_assets import settings
    from lake_assets.pipelines.stamp import GENERATED_DIRS

    placed = copied_to()
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    packages = [p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]]
    read_at_runtime = [
        *packages,
        *(p.as_posix() for p in GENERATED_DIRS),
        "pyproject.toml",
        "workspace.yaml",
        "pipelines",  # the specs, which assets link to and the drift check compares
        *(
            Path(value).relative_to(settings.REPO_ROOT).parts[0]
            for name, value in vars(settings).items()
            if name.startswith("DEFAULT_") and isinstance(value, Path)
        ),
    ]
    for name in read_at_runtime:
        covering = [s for s in placed if name == s or name.startswith(s + "/")]
        assert covering, f"{name} is not copied into the image"
        assert placed[covering[0]] == workdir() / covering[0], f"{name} lands elsewhere"

    # The workspace loads a module of a copied package, from WORKDIR (terraform/ecs.tf runs
    # `dagster-webserver -w workspace.yaml` there).
    workspace = yaml.safe_load((REPO / "workspace.yaml").read_text())
    [location] = workspace["load_from"]
    module = location["python_module"]["module_name"]
    assert module.split(".")[0] in packages
    assert location["python_module"]["working_directory"] == "."
    assert re.search(r"pip install [^&]*-e \.", " ".join(of("RUN")))  # where REPO_ROOT is


def test_the_base_image_is_pinned_and_its_python_is_the_projects():
    from lake_assets.runtime.deploy import JOB_PYTHON

    [base] = of("FROM")
    image, _, tag = base.partition(":")
    assert image == "python" and tag and "latest" not in tag
    version = re.fullmatch(r"(\d+\.\d+\.\d+)-slim-\w+", tag)
    assert version, f"FROM {base}: pin a patch release (python:X.Y.Z-slim-<debian>)"
    python = Version(version.group(1))
    requires = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]
    assert python in SpecifierSet(requires)
    minimum = min(Version(s.version) for s in SpecifierSet(requires) if s.operator == ">=")
    # The project's lowest Python, which the EMR job runtime runs too.
    assert f"{python.major}.{python.minor}" == f"{minimum.major}.{minimum.minor}" == JOB_PYTHON


def test_it_runs_as_a_user_that_is_not_root():
    sequence = instructions()
    users = [i for i, (k, _) in enumerate(sequence) if k == "USER"]
    assert users, "no USER: the containers would run as root"
    user = sequence[users[-1]][1].split(":")[0]
    assert user not in ("root", "0")
    last_run = max(i for i, (k, _) in enumerate(sequence) if k == "RUN")
    assert users[-1] > last_run  # nothing after it builds as root
    assert "useradd" in " ".join(of("RUN")) and user in " ".join(of("RUN"))


def _console_scripts_of_the_project() -> dict[str, str]:
    """Console script -> distribution, for every distribution the project's main dependencies
    bring (pyproject.toml, followed through the installed distributions' own requirements)."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pending = [Requirement(r).name for r in project["dependencies"]]
    seen: set[str] = set()
    while pending:
        name = pending.pop()
        if name.lower() in seen:
            continue
        seen.add(name.lower())
        distribution = importlib.metadata.distribution(name)
        for requirement in map(Requirement, distribution.requires or []):
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                pending.append(requirement.name)
    return {
        script.name: script.dist.name
        for script in importlib.metadata.entry_points(group="console_scripts")
        if script.dist is not None and script.dist.name.lower() in seen
    }


def test_its_commands_are_console_scripts_the_project_installs():
    scripts = _console_scripts_of_the_project()
    [cmd] = of("CMD")
    commands = {
        "CMD": words(cmd)[0],
        # The daemon's (terraform/ecs.tf) and the one the health check runs.
        "daemon": "dagster-daemon",
        # A run's: the run launcher starts `<python> -m dagster api execute_run ...`.
        "run": "dagster",
    }
    for role, command in commands.items():
        assert command in scripts, f"{role}: {command} is no console script of the project's"
    assert scripts["dagster-webserver"] == "dagster-webserver"
    assert "dagster-daemon" in (REPO / "deploy" / "dagster" / "healthcheck.py").read_text()


def test_dagster_home_holds_the_rendered_instance_and_no_secret():
    env = " ".join(of("ENV"))
    assert f"DAGSTER_HOME={DAGSTER_HOME}" in env
    assert copied_to()[RENDERED_INSTANCE] == PurePosixPath(DAGSTER_HOME) / "dagster.yaml"
    assert of("HEALTHCHECK"), "no HEALTHCHECK"
    # Credentials come from the environment ECS sets at start, never from the image.
    declared = " ".join(of("ENV") + of("ARG"))
    assert not re.search(r"PASSWORD|SECRET|TOKEN|ACCESS_KEY|DAGSTER_PG_", declared, re.I)
    assert ignored_by_dockerignore("outputs.json")


# --- the health check script -------------------------------------------------------------------


def _healthcheck():
    spec = importlib.util.spec_from_file_location(
        "healthcheck", REPO / "deploy" / "dagster" / "healthcheck.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _ServerInfo(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/server_info" else 404)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def webserver_port():
    server = HTTPServer(("127.0.0.1", 0), _ServerInfo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_health_check_follows_what_the_container_runs(webserver_port):
    check = _healthcheck()
    webserver = [
        "/usr/local/bin/python",
        "/usr/local/bin/dagster-webserver",
        "-w",
        "workspace.yaml",
    ]
    assert check.healthy([*webserver, "-p", str(webserver_port)])
    assert not check.healthy([*webserver, "-p", str(_closed_port())])
    # A run is healthy while its process lives.
    assert check.healthy(["/usr/local/bin/python", "-m", "dagster", "api", "execute_run", "{}"])
    assert check.port_of(["dagster-webserver", "-h", "0.0.0.0"]) == check.WEBSERVER_PORT
