"""The Dagster webserver as a user opens it: `dagster-webserver` started as its own process on
127.0.0.1 over the project's code location, reading the same DAGSTER_HOME the lake's runs were
recorded in, and queried through its GraphQL API over HTTP (the API its pages are drawn from).
With `dev=True` it is what `make dev` starts: `dagster dev -w workspace.yaml` from the project's
folder, the webserver with the daemon (sensors, schedules, the run queue) and a code server.

Usage: build a `Lake(root, instance=persistent_instance(home))`, run what the test needs, then
`with Webserver(home, lake.env) as web: web.query(...)`."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from dagster import DagsterInstance

STARTUP_SECONDS = 180  # loading the code location imports Dagster, PySpark and the project
PROJECT = Path(__file__).resolve().parents[1]  # where workspace.yaml is, and `make dev` runs


def persistent_instance(home: Path) -> DagsterInstance:
    """A DagsterInstance stored under `home` (SQLite), which a webserver started on the same
    home reads; telemetry off so nothing is printed or sent."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return DagsterInstance.from_config(str(home))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Webserver:
    """`dagster-webserver -m lake_assets.definitions` on a free port, or with `dev=True`
    `dagster dev -w workspace.yaml` (what `make dev` runs); `query` posts GraphQL."""

    def __init__(self, home: Path, env: dict[str, str], dev: bool = False):
        self.home, self.env, self.dev, self.port = home, env, dev, _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def _command(self) -> list[str]:
        bin_dir = Path(sys.executable).parent
        served = ["-h", "127.0.0.1", "-p", str(self.port)]
        if self.dev:
            return [str(bin_dir / "dagster"), "dev", "-w", "workspace.yaml", *served]
        return [str(bin_dir / "dagster-webserver"), "-m", "lake_assets.definitions", *served]

    def __enter__(self) -> Webserver:
        log = open(self.home / "webserver.log", "wb")  # noqa: SIM115 - closed with the process
        self.process = subprocess.Popen(
            self._command(),
            cwd=PROJECT,
            env={**os.environ, **self.env, "DAGSTER_HOME": str(self.home)},
            stdout=log,
            stderr=subprocess.STDOUT,
            # Its own process group: `dagster dev` starts the daemon, the webserver, a code server
            # and each run's process, and all of them are stopped with it.
            start_new_session=True,
        )
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"webserver exited: {self.log()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/server_info", timeout=5):
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(1)
        else:
            raise RuntimeError(f"webserver did not answer in {STARTUP_SECONDS}s: {self.log()}")
        self._wait_for_code_location()
        return self

    def _wait_for_code_location(self) -> None:
        query = """{ workspaceOrError { ... on Workspace { locationEntries {
            name locationOrLoadError { __typename ... on PythonError { message } } } } } }"""
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            entries = self.query(query)["workspaceOrError"]["locationEntries"]
            loaded = [e["locationOrLoadError"] for e in entries if e["locationOrLoadError"]]
            if loaded and loaded[0]["__typename"] == "PythonError":
                raise RuntimeError(f"code location failed to load: {loaded[0]['message']}")
            if loaded and loaded[0]["__typename"] == "RepositoryLocation":
                return
            time.sleep(1)
        raise RuntimeError("the code location did not load")

    def query(self, query: str, variables: dict | None = None) -> dict:
        """The `data` of a GraphQL query; GraphQL errors raise with their messages."""
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(
            f"{self.url}/graphql", body, {"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                answer = json.load(response)
        except urllib.error.HTTPError as error:  # a query the schema refuses: say why
            raise AssertionError(f"GraphQL {error.code}: {error.read().decode()}") from None
        if answer.get("errors"):
            raise AssertionError(f"GraphQL errors: {answer['errors']}")
        return answer["data"]

    def log(self) -> str:
        return (self.home / "webserver.log").read_text(errors="replace")

    def __exit__(self, *exc) -> None:
        if self.process is None:
            return
        group = self.process.pid  # the group's id: the process leads its own session
        _signal_group(group, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        _signal_group(group, signal.SIGKILL)  # whatever did not stop in time
        self.process.wait()


def _signal_group(group: int, sig: signal.Signals) -> None:
    try:
        os.killpg(group, sig)
    except ProcessLookupError:  # every process of the group has ended
        pass
