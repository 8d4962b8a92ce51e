"""AWS clients: the aws profile's resources built as every `lake` command, Dagster run and sensor
tick builds them, with this thread's boto3 session (resources/aws/clients.py, ADR-0192) against
a new session per client, as before it.

`build_resources` on the aws profile makes a client per store and calls nothing, so no server
is needed: the endpoint is a closed port. The two are alternated in one process, after one
untimed build of each (imports, and the first session's models). CPU seconds of this process,
not wall time: the work is all Python. `rows` is not used.
"""

from __future__ import annotations

import contextlib
import os
import time
from unittest import mock

import boto3

from benchmarks.timing import Runs, print_table

REPEATS = 10
BASELINE, SUBJECT = "session per client", "session per thread"
AWS_ENV = {
    "LAKE_PROFILE": "aws",
    "LAKE_AWS_ENDPOINT_URL": "http://127.0.0.1:9",  # never called
    "LAKE_ALERT_TOPIC_ARN": "arn:aws:sns:eu-west-1:123456789012:lake-alerts",
    "LAKE_EMR_APPLICATION_ID": "00benchmark",
    "LAKE_EMR_EXECUTION_ROLE_ARN": "arn:aws:iam::123456789012:role/lake-job",
    "AWS_ACCESS_KEY_ID": "benchmark",
    "AWS_SECRET_ACCESS_KEY": "benchmark",
    "AWS_DEFAULT_REGION": "eu-west-1",
}


def _fresh_session(credentials: dict | None) -> boto3.session.Session:
    return boto3.session.Session(**(credentials or {}))


def run(rows: int) -> str:
    del rows
    from lake_assets.settings import load_settings
    from resources import build_resources

    print("\n[aws_clients] build_resources on the aws profile", flush=True)
    cases = {
        BASELINE: lambda: mock.patch("resources.aws.clients._session", _fresh_session),
        SUBJECT: contextlib.nullcontext,
    }
    runs = {name: Runs() for name in cases}
    with mock.patch.dict(os.environ, AWS_ENV):
        settings = load_settings()
        for round_number in range(-1, REPEATS):  # round -1 warms up, untimed
            for name, around in cases.items():
                with around():
                    start = time.process_time()
                    built = build_resources(settings)
                    seconds = time.process_time() - start
                if round_number >= 0:
                    runs[name].seconds.append(seconds)
                    runs[name].result = len(built)
    print_table(
        "AWS resources (median CPU seconds of a build, alternated)",
        ["case", "median s", "runs s", "resources"],
        [[name, r.median, r.spread(), r.result] for name, r in runs.items()],
    )
    ratio = runs[SUBJECT].median / runs[BASELINE].median
    return f"aws_clients: {ratio:.2f} x a session per client (lower is better)"
