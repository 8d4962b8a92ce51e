"""`lake_token(col)`: the keyed HMAC the lake provides to its SQL, the one transformation that
relieves a column of its source's restriction while keeping rows linkable (safe.py).

The key is managed, never in config, a plan or a log: the plan names where it is
(`token_key_source`), and the job reads it when it runs, from the environment variable
LAKE_TOKEN_KEY locally or the AWS Secrets Manager secret LAKE_TOKEN_SECRET_ID names on aws.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping
from typing import Any

from lake_assets.access.safe import TOKEN_FUNCTION

KEY_ENV, SECRET_ENV = "LAKE_TOKEN_KEY", "LAKE_TOKEN_SECRET_ID"


class MissingTokenKey(LookupError):
    """The SQL uses lake_token and the key is not where the plan says it is."""


def token(value: Any, key: bytes) -> str | None:
    """HMAC-SHA256 of the value's text under `key`, in hex; null stays null."""
    if value is None:
        return None
    return hmac.new(key, str(value).encode(), hashlib.sha256).hexdigest()


def token_key_source(environ: Mapping[str, str] = os.environ) -> dict:
    """Where the job finds the key: a Secrets Manager secret id when one is set, else the
    environment variable."""
    if environ.get(SECRET_ENV):
        return {"aws_secret_id": environ[SECRET_ENV]}
    return {"env": KEY_ENV}


def token_key(source: Mapping[str, str], environ: Mapping[str, str] = os.environ) -> bytes:
    if "env" in source:
        key = environ.get(source["env"])
        if not key:
            raise MissingTokenKey(
                f"{TOKEN_FUNCTION} needs its key: environment variable {source['env']} is not set"
            )
        return key.encode()
    # Imported here: a local run never needs boto3.
    import boto3

    secrets = boto3.client("secretsmanager")
    try:
        secret = secrets.get_secret_value(SecretId=source["aws_secret_id"])
    except secrets.exceptions.ResourceNotFoundException as error:
        # Terraform declares the secret, the security team puts its value (terraform/secrets.tf).
        raise MissingTokenKey(
            f"{TOKEN_FUNCTION} needs its key: secret {source['aws_secret_id']} has no value "
            "(put one with `aws secretsmanager put-secret-value`, see terraform/secrets.tf)"
        ) from error
    return secret["SecretString"].encode()


def register_lake_token(session, source: Mapping[str, str]) -> None:
    """Make `lake_token(col)` callable in `session`'s SQL (the gold jobs' sessions)."""
    key = token_key(source)
    session.udf.register(TOKEN_FUNCTION, lambda value: token(value, key), "string")
