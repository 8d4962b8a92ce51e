"""The Dagster webserver as a user opens it: `dagster-webserver` started as its own process on
127.0.0.1 over the project's code location, reading the same DAGSTER_HOME the lake's runs were
recorded in, and queried through its GraphQL API over HTTP (the API its pages are drawn from).

Usage: build a `Lake(root, instance=persistent_instance(home))`, run what the test needs, then
`with Webserver(home, lake.env) as web: web.query(...)`."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from dagster import DagsterInstance

STARTUP_SECONDS = 180  # loading the code location imports Dagster, PySpark and the project


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
    """`dagster-webserver -m lake_assets.definitions` on a free port; `query` posts GraphQL."""

    def __init__(self, home: Path, env: dict[str, str]):
        self.home, self.env, self.port = home, env, _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Webserver:
        log = open(self.home / "webserver.log", "wb")  # noqa: SIM115 - closed with the process
        self.process = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("dagster-webserver")),
                "-m",
                "lake_assets.definitions",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
            ],
            env={**os.environ, **self.env, "DAGSTER_HOME": str(self.home)},
            stdout=log,
            stderr=subprocess.STDOUT,
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
        with urllib.request.urlopen(request, timeout=120) as response:
            answer = json.load(response)
        if answer.get("errors"):
            raise AssertionError(f"GraphQL errors: {answer['errors']}")
        return answer["data"]

    def log(self) -> str:
        return (self.home / "webserver.log").read_text(errors="replace")

    def __exit__(self, *exc) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
