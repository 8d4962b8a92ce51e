"""boto3 clients, and the DynamoDB helpers every store on DynamoDB shares."""

from __future__ import annotations

import json
import os
import threading
from decimal import Decimal
from typing import Any

import boto3
from boto3.dynamodb.types import TypeSerializer
from botocore.config import Config
from botocore.exceptions import ClientError


def _client(
    service: str, endpoint_url: str | None, region: str, credentials: dict | None = None
) -> Any:
    # Retries: botocore's standard mode, AWS_MAX_ATTEMPTS attempts in all (its own variable;
    # six, five of them retries, unless set); what outlasts them fails the step, which is tried
    # again if it was transient (ADR-0156). `credentials` (boto3 Session keywords): another
    # role's, else the process's own.
    attempts = int(os.environ.get("AWS_MAX_ATTEMPTS") or 6)
    return _session(credentials).client(
        service,
        region_name=region,
        endpoint_url=endpoint_url,
        config=Config(retries={"mode": "standard", "total_max_attempts": attempts}),
    )


_per_thread = threading.local()
SESSIONS_PER_THREAD = 8  # the process's own and an assumed role's or two (glue_views.py)


def _session(credentials: dict | None) -> boto3.session.Session:
    """This thread's boto3 session for `credentials`, under the AWS settings the process has now.

    A session per thread: boto3's sessions are not safe to share across the threads Dagster runs
    sensors and ops in, while the clients they make are. Not a session per client: a new one
    parses botocore's service models again and resolves the credentials again, about 170 ms a
    client against 5 ms (S3) to 40 ms (Glue) from a session that has them (ADR-0192). Keyed by
    every AWS_ variable too, so a session never serves after the environment it read changes."""
    key = (
        tuple(sorted((credentials or {}).items())),
        tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("AWS_"))),
    )
    sessions: dict = _per_thread.__dict__.setdefault("sessions", {})
    if key not in sessions:
        if len(sessions) >= SESSIONS_PER_THREAD:
            sessions.pop(next(iter(sessions)))  # the oldest: an expired role's, most likely
        sessions[key] = boto3.session.Session(**(credentials or {}))
    return sessions[key]


class AssumedRole:
    """Clients that act as another role: its credentials asked of STS once (an hour's worth,
    STS's default, far longer than the work done with them). `name` says which of the lake's
    roles it is (Terraform's name for it, e.g. "view_definer"); the session is named after it,
    so CloudTrail shows `lake-<name>` behind each call."""

    def __init__(self, role_arn: str, name: str, *, endpoint_url: str | None, region: str):
        self.role_arn, self.name = role_arn, name
        self.endpoint_url, self.region = endpoint_url, region
        sts = _client("sts", endpoint_url, region)
        granted = sts.assume_role(RoleArn=role_arn, RoleSessionName=f"lake-{name}")
        credentials = granted["Credentials"]
        self._credentials = {
            "aws_access_key_id": credentials["AccessKeyId"],
            "aws_secret_access_key": credentials["SecretAccessKey"],
            "aws_session_token": credentials["SessionToken"],
        }

    def client(self, service: str) -> Any:
        return _client(service, self.endpoint_url, self.region, self._credentials)


def ensure_table(dynamo: Any, table: str, *keys: str) -> None:
    """Create an on-demand table keyed by `keys` (hash, then optional range; all strings)
    unless it exists, and wait until it is usable. Terraform creates them in production."""
    try:
        dynamo.create_table(
            TableName=table,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in keys],
            KeySchema=[
                {"AttributeName": k, "KeyType": kind}
                for k, kind in zip(keys, ("HASH", "RANGE"), strict=False)
            ],
        )
    except dynamo.exceptions.ResourceInUseException:
        pass
    dynamo.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 2})


class DynamoTable:
    """A store kept in one DynamoDB table keyed by KEYS (hash, then optional range)."""

    KEYS: tuple[str, ...] = ()

    def __init__(self, table: str, *, endpoint_url: str | None, region: str):
        self.table = table
        self._dynamo = _client("dynamodb", endpoint_url, region)

    @classmethod
    def create_table(cls, table: str, *, endpoint_url: str | None, region: str, **options):
        """Create the table (on-demand capacity) unless it exists, and wait until usable."""
        store = cls(table, endpoint_url=endpoint_url, region=region, **options)
        ensure_table(store._dynamo, table, *cls.KEYS)
        return store


def _error_code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


_serialize = TypeSerializer().serialize


def _attribute(value: Any) -> dict:
    """A DynamoDB attribute value; boto3 refuses floats, so numbers travel as Decimal."""
    return _serialize(json.loads(json.dumps(value), parse_float=Decimal))
