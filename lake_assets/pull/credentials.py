"""The database URL a pull connects with: the configured URL (which holds no password) and the
password from the environment or AWS Secrets Manager. The secret lives only in the URL object
handed to SQLAlchemy; whatever is printed or logged is `shown(url)`, SQLAlchemy's rendering with
the password hidden."""

from __future__ import annotations

import json
from collections.abc import Mapping

from sqlalchemy.engine import URL, make_url

from lake_assets.pull.model import Credentials, PullConfig
from lake_assets.settings import AwsSettings


class MissingCredentials(LookupError):
    """The declared credential is not there; the message names where it was looked for."""


def connection_url(
    pull: PullConfig, environ: Mapping[str, str], aws: AwsSettings | None = None
) -> URL:
    """The pull's URL with its credentials, read now (a rotated secret is picked up by the next
    pull)."""
    url = make_url(pull.url)
    if pull.credentials is None:
        return url
    username, password = _credentials(pull.credentials, environ, aws or AwsSettings())
    return url.set(username=username or url.username, password=password)


def shown(url: URL) -> str:
    """The URL as logs and messages may show it."""
    return url.render_as_string(hide_password=True)


def _credentials(
    declared: Credentials, environ: Mapping[str, str], aws: AwsSettings
) -> tuple[str | None, str]:
    if declared.env is not None:
        password = environ.get(declared.env)
        if not password:
            raise MissingCredentials(f"environment variable {declared.env} is not set")
        return None, password
    return _secret(declared.aws_secret_id, aws)


def _secret(secret_id: str, aws: AwsSettings) -> tuple[str | None, str]:
    # Imported here: a pull with credentials from the environment never needs boto3.
    from botocore.exceptions import ClientError

    from resources.aws.clients import _client

    client = _client("secretsmanager", aws.endpoint_url, aws.region)
    try:
        value = client.get_secret_value(SecretId=secret_id)["SecretString"]
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        raise MissingCredentials(f"AWS Secrets Manager secret {secret_id!r}: {code}") from None
    try:
        document = json.loads(value)
    except ValueError:
        return None, value  # the password itself
    if isinstance(document, dict) and isinstance(document.get("password"), str):
        return document.get("username"), document["password"]
    return None, value
