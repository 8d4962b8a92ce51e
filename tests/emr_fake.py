"""EMR Serverless played on this machine, in front of the moto server.

moto records EMR Serverless calls but runs nothing (a job run is SUCCESS the moment it is
started) and has no GetDashboardForJobRun. `FakeEmrServerless` is an HTTP endpoint that
forwards every AWS call to moto unchanged and plays the service in three of them:

- StartJobRun: forwarded to moto, which records the run as the client sent it; then the run is
  executed: the entry point is fetched from S3 and run as `python <entry point>` in a
  subprocess whose environment holds the `spark.emr-serverless.driverEnv.*` variables of
  sparkSubmitParameters (Pipes' bootstrap parameters) and whose Spark gets the other `--conf`s.
  The job's own S3 client talks to moto (AWS_ENDPOINT_URL), so Pipes' context and messages
  round-trip through S3 as they do on AWS.
- GetJobRun: moto's answer with the run's state: SUBMITTED, RUNNING, then SUCCESS, or FAILED
  with EMR's state details when the driver exits non-zero; once the run is over, what EMR bills
  it (`billedResourceUtilization`: vCPUHour, memoryGBHour, storageGBHour) and its
  `totalExecutionDurationSeconds`, which moto does not give: the fake bills the driver's time as
  EMR bills a worker of its default size (WORKER), with EMR's one-minute minimum.
- GetDashboardForJobRun: a URL, as EMR answers.

Spark's own reads and writes: local Spark has no s3:// filesystem (no hadoop-aws jars), so each
run gets a local mirror of every bucket: copied to `<run>/s3/<bucket>/` before the job (Pipes'
prefix excepted), resolved by the entry point through LAKE_S3_MIRROR
(lake_assets/runtime/entry.py), and what the job wrote, changed or removed is copied back after
(Hadoop's local `.crc` side files excepted: S3 has none). Nothing else is emulated: anything the
parameters name on S3 for Spark to fetch (`--py-files`, archives, jars) is not fetched, and
PYSPARK_PYTHON is the fake's `python`; the job imports this checkout, as deployed code would be.

To test a job on EMR Serverless, take the `emr_lake` fixture (tests/conftest.py): an `EmrLake`,
driven like the local `Lake` (deliver, profile, promote, `materialize(keys, first, last)`,
`rows`, `local_copy()` to read any zone), whose `emr.runs` record each job run (request,
driver environment, state, driver log). A `lake` command's job runs on it with
`emr_lake.spark_runner.run_standalone(job, plan)` (resources/spark_runner.py).
"""

from __future__ import annotations

import http.client
import json
import math
import os
import re
import shlex
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import aws_calls
import boto3
from aws_lake import REGION, open_aws_lake
from dagster import DagsterInstance
from lake_harness import Lake

import lake_assets
from lake_assets.runtime.deploy import deploy_code
from lake_assets.runtime.entry import S3_MIRROR_ENV
from lake_assets.tables.reader import read_published
from resources.spark_runner import PIPES_PREFIX
from resources.storage import LocalStorage

PROJECT_ROOT = Path(lake_assets.__file__).resolve().parents[1]
DRIVER_ENV = "spark.emr-serverless.driverEnv."
# The fake's "capacity": a small local Spark, as the shared test session has.
SPARK_DEFAULTS = (
    "--master local[2] --conf spark.sql.shuffle.partitions=2 --conf spark.ui.enabled=false"
)
_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/aws4_request")
_JOB_RUNS = re.compile(r"^/applications/([^/]+)/jobruns(?:/([^/?]+)(/dashboard)?)?/?(?:\?.*)?$")
# What the fake bills a run as: one worker of EMR Serverless' default size, whose 20 GB of disk
# are free (EMR bills storage over 20 GB a worker).
WORKER = {"vcpu": 4, "memory_gb": 16}
BILLED_MINIMUM_SECONDS = 60
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade"}


@dataclass
class JobRun:
    """One StartJobRun as the fake received and executed it."""

    id: str
    request: dict  # the StartJobRun body, exactly as the client sent it
    state: str = "SUBMITTED"
    state_details: str = ""
    driver_env: dict[str, str] = field(default_factory=dict)
    spark_args: list[str] = field(default_factory=list)
    exit_code: int | None = None
    folder: Path | None = None
    seconds: int | None = None  # how long the driver ran, once it is over

    @property
    def billed(self) -> dict | None:
        """GetJobRun's billedResourceUtilization of the run, once it is over."""
        if self.seconds is None:
            return None
        hours = max(self.seconds, BILLED_MINIMUM_SECONDS) / 3600
        return {
            "vCPUHour": round(WORKER["vcpu"] * hours, 6),
            "memoryGBHour": round(WORKER["memory_gb"] * hours, 6),
            "storageGBHour": 0.0,
        }

    @property
    def driver_log(self) -> str:
        """The driver's stdout and stderr, as EMR keeps them for a run."""
        return (self.folder / "driver.log").read_text() if self.folder else ""


class FakeEmrServerless:
    """An AWS endpoint (`endpoint`) that is moto plus an EMR Serverless that runs its jobs."""

    def __init__(self, moto_endpoint: str, root: Path, python: str = sys.executable):
        self.moto_endpoint, self.root, self.python = moto_endpoint, root, python
        self.runs: list[JobRun] = []
        self._threads: list[threading.Thread] = []
        self._processes: list[subprocess.Popen] = []
        self.s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name=REGION)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.fake = self
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeEmrServerless:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        for process in self._processes:
            if process.poll() is None:
                process.kill()
        for thread in self._threads:
            thread.join(timeout=60)
        self._server.shutdown()
        self._server.server_close()

    def create_application(self, name: str = "lakehouse", release: str = "emr-7.5.0") -> str:
        client = boto3.client("emr-serverless", endpoint_url=self.endpoint, region_name=REGION)
        return client.create_application(name=name, releaseLabel=release, type="SPARK")[
            "applicationId"
        ]

    # --- the service's part of the HTTP calls -------------------------------------------------

    def answer(self, method: str, path: str, headers: dict, body: bytes):
        """(status, headers, body) for one request: EMR Serverless's own or moto's."""
        match = _JOB_RUNS.match(path) if _service_of(headers) == "emr-serverless" else None
        run_id, dashboard = (match.group(2), match.group(3)) if match else (None, None)
        if match and dashboard:
            return _json(200, {"url": f"{self.endpoint}/dashboard/{run_id}"})
        status, response_headers, payload = self._forward(method, path, headers, body)
        if match and method == "POST" and run_id is None and status == 200:
            self._start(json.loads(payload)["jobRunId"], json.loads(body))
        elif match and method == "GET" and run_id and status == 200:
            run = next((r for r in self.runs if r.id == run_id), None)
            if run is not None:
                answer = json.loads(payload)
                answer["jobRun"].update(state=run.state, stateDetails=run.state_details)
                if run.state in ("SUCCESS", "FAILED") and run.billed is not None:
                    answer["jobRun"].update(
                        billedResourceUtilization=run.billed,
                        totalExecutionDurationSeconds=run.seconds,
                    )
                return _json(200, answer)
        return status, response_headers, payload

    def _forward(self, method: str, path: str, headers: dict, body: bytes):
        address = urlsplit(self.moto_endpoint)
        connection = http.client.HTTPConnection(address.hostname, address.port, timeout=120)
        try:
            kept = {k: v for k, v in headers.items() if k.lower() not in _HOP_BY_HOP}
            if body or "content-length" in {k.lower() for k in kept}:
                kept = {k: v for k, v in kept.items() if k.lower() != "content-length"}
                kept["Content-Length"] = str(len(body))
            connection.request(method, path, body=body, headers=kept)
            response = connection.getresponse()
            payload = response.read()
            return response.status, response.getheaders(), payload
        finally:
            connection.close()

    # --- running a job ------------------------------------------------------------------------

    def _start(self, run_id: str, request: dict) -> None:
        run = JobRun(run_id, request)
        self.runs.append(run)
        thread = threading.Thread(target=self._execute, args=(run,), daemon=True)
        self._threads.append(thread)
        thread.start()

    def _execute(self, run: JobRun) -> None:
        try:
            run.exit_code = self._drive(run)
        except Exception as error:  # ends the run, or the client would poll it for ever
            run.state, run.state_details = "FAILED", f"the job could not run: {error}"
            return
        if run.exit_code == 0:
            run.state = "SUCCESS"
        else:
            run.state, run.state_details = (
                "FAILED",
                "Job failed, please check complete logs in configured logging destination. "
                f"ExitCode: {run.exit_code}.",
            )

    def _drive(self, run: JobRun) -> int:
        """Run the job's driver as EMR would, on a mirror of S3; its exit code."""
        driver = run.request["jobDriver"]["sparkSubmit"]
        run.driver_env, run.spark_args = submit_parameters(driver.get("sparkSubmitParameters", ""))
        run.folder = self.root / run.id
        run.folder.mkdir(parents=True)
        entry = run.folder / "entry.py"
        self.s3.download_file(*_bucket_and_key(driver["entryPoint"]), str(entry))
        run.state = "RUNNING"
        mirror = run.folder / "s3"
        before = self.pull(mirror)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("DAGSTER_PIPES_")},
            **run.driver_env,
            "PYTHONPATH": os.pathsep.join(
                p
                for p in (
                    str(aws_calls.JOB_PROCESS_HOOKS),
                    str(PROJECT_ROOT),
                    os.environ.get("PYTHONPATH"),
                )
                if p
            ),
            aws_calls.JOB_CALLS_ENV: str(run.folder / "aws_calls.json"),
            "AWS_ENDPOINT_URL": self.moto_endpoint,
            "AWS_DEFAULT_REGION": REGION,
            "PYSPARK_SUBMIT_ARGS": shlex.join(
                [*shlex.split(SPARK_DEFAULTS), *run.spark_args, "pyspark-shell"]
            ),
            S3_MIRROR_ENV: str(mirror),
        }
        with (run.folder / "driver.log").open("w") as log:
            process = subprocess.Popen(
                [self.python, str(entry)], env=env, cwd=run.folder, stdout=log, stderr=log
            )
            self._processes.append(process)
            started = time.monotonic()
            exit_code = process.wait()
            seconds = math.ceil(time.monotonic() - started)
        self._push(mirror, before)
        aws_calls.note_job_calls(run.folder / "aws_calls.json")  # the job role's, for IAM
        run.seconds = seconds  # set before the state: a run over is a run billed
        return exit_code

    def pull(self, mirror: Path) -> dict[Path, tuple[int, int]]:
        """Every bucket's objects (Pipes' excepted) copied under `mirror`/<bucket>/, with the
        size and time of each file copied."""
        pulled = {}
        for bucket in (b["Name"] for b in self.s3.list_buckets()["Buckets"]):
            for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                for item in page.get("Contents", []):
                    if item["Key"].startswith(PIPES_PREFIX) or item["Key"].endswith("/"):
                        continue
                    path = mirror / bucket / item["Key"]
                    path.parent.mkdir(parents=True, exist_ok=True)
                    self.s3.download_file(bucket, item["Key"], str(path))
                    pulled[path] = _signature(path)
        return pulled

    def _push(self, mirror: Path, before: dict[Path, tuple[int, int]]) -> None:
        """What the job wrote or changed under `mirror` back to S3; what it removed, removed."""
        for path in sorted(p for p in mirror.rglob("*") if p.is_file()):
            if path.name.endswith(".crc") or before.get(path) == _signature(path):
                continue
            bucket, *key = path.relative_to(mirror).parts
            self.s3.upload_file(str(path), bucket, "/".join(key))
        for path in before:
            if not path.exists():
                bucket, *key = path.relative_to(mirror).parts
                self.s3.delete_object(Bucket=bucket, Key="/".join(key))


def submit_parameters(parameters: str) -> tuple[dict[str, str], list[str]]:
    """The driver's environment and the spark-submit arguments of `sparkSubmitParameters`,
    without what names S3 for Spark to fetch (local Spark cannot) or picks the interpreter."""
    env, args, words = {}, [], shlex.split(parameters)
    for option, value in zip(words[::2], words[1::2], strict=True):
        name, _, setting = value.partition("=")
        if option == "--conf" and name.startswith(DRIVER_ENV):
            if not name[len(DRIVER_ENV) :].startswith("PYSPARK_"):
                env[name[len(DRIVER_ENV) :]] = setting
        elif not (value.startswith("s3://") or setting.startswith("s3://")):
            args += [option, value]
    return env, args


class _Handler(BaseHTTPRequestHandler):
    def _handle(self) -> None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = b""
            while size := int(self.rfile.readline().split(b";")[0], 16):
                body += self.rfile.read(size)
                self.rfile.readline()
            self.rfile.readline()
        else:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status, headers, payload = self.server.fake.answer(
            self.command, self.path, dict(self.headers.items()), body
        )
        self.send_response(status)
        for name, value in headers:
            if name.lower() not in _HOP_BY_HOP | {"content-length"}:
                self.send_header(name, value)
        length = dict((k.lower(), v) for k, v in headers).get("content-length")
        # A HEAD answer has no body but says how long the object is.
        self.send_header("Content-Length", length if self.command == "HEAD" else str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = _handle

    def log_message(self, *args) -> None:
        pass


def _service_of(headers: dict) -> str | None:
    found = _CREDENTIAL_SCOPE.search(
        next((v for k, v in headers.items() if k.lower() == "authorization"), "")
    )
    return found.group(1) if found else None


def _json(status: int, document: dict):
    return status, [("Content-Type", "application/json")], json.dumps(document).encode()


def _bucket_and_key(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def _signature(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


class EmrLake(Lake):
    """A lake on the `aws` profile (moto) whose Spark jobs run on `FakeEmrServerless`, driven
    like the local `Lake`: deliver, profile, promote, `materialize`, `rows`."""

    def __init__(self, emr: FakeEmrServerless, tmp_path: Path, env: dict[str, str] | None = None):
        no_contracts = tmp_path / "no-contracts"  # the engine alone, as Lake has it
        no_contracts.mkdir(parents=True, exist_ok=True)
        self.emr, self.root, self.env = emr, tmp_path / "lake", {}
        self.settings, self.resources, self.alerts = open_aws_lake(
            emr.endpoint,
            tmp_path,
            {
                "LAKE_EMR_APPLICATION_ID": emr.create_application(),
                # The fake answers at once: polling at AWS's pace would add seconds to each job.
                "LAKE_EMR_POLL_SECONDS": "0.5",
                "LAKE_CONTRACTS_DIR": str(no_contracts),
                **(env or {}),
            },
            environ_out=self.env,  # `lake` commands open this lake with it
        )
        self.instance = DagsterInstance.ephemeral()
        self.deploy()

    def deploy(self) -> None:
        """`lake deploy`'s upload: the runner refuses to submit without it, and the fake runs
        the entry script it uploaded."""
        deploy_code(self.resources["storage"])

    def written_by_aws(self, key: str, body: bytes) -> None:
        """An object an AWS service writes into the lake bucket, through a client of the test's
        own: neither role makes this call (tests/aws_calls.py)."""
        bucket, name = _bucket_and_key(self.storage.uri(key))
        self.emr.s3.put_object(Bucket=bucket, Key=name, Body=body)

    def local_copy(self) -> LocalStorage:
        """A local copy of the lake bucket as it is now, for reading any zone with Spark."""
        copy = self.root / f"copy-{len(list(self.root.glob('copy-*')))}"
        self.emr.pull(copy)
        return LocalStorage(copy / self.settings.aws.bucket)

    def rows(self, spark, source: str, partitions=None):
        """The published rows, read through the catalog from a local copy of the bucket."""
        return read_published(spark, self.catalog, self.local_copy(), source, partitions)
