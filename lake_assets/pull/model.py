"""The `source.pull:` block of a pipeline spec (pipelines/<source>.yaml): where a pulled source's rows come from
and how far each pull reads. Validated with the rest of the file (lake_assets/config.py), so a
mistake names the file, the key and the reason. Imports no SQLAlchemy: every `lake` command
reads this file, and most of them never connect to a database."""

from __future__ import annotations

import re
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, model_validator
from pydantic.dataclasses import dataclass as declared

from lake_assets.circuit import Breaker
from lake_assets.config import NO_UNKNOWN_KEYS, WholeNumber, keyed

# SQLAlchemy's URL grammar: dialect[+driver]://[user[:password]@][host][:port]/[database][?...]
_SQLALCHEMY_URL = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\+[A-Za-z0-9_]+)?://")
_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


def _url_without_password(url: str) -> str:
    if not _SQLALCHEMY_URL.match(url):
        raise ValueError(f"must be a SQLAlchemy URL (dialect+driver://user@host/db), got {url!r}")
    if urlsplit(url).password is not None:
        # Never echo the URL here: it holds the secret.
        raise ValueError(
            "must not hold a password: config files are no place for secrets; declare "
            "credentials.env or credentials.aws_secret_id"
        )
    return url


@declared(frozen=True, config=NO_UNKNOWN_KEYS)
class Credentials:
    """Where the database password comes from; exactly one of the two. An AWS Secrets Manager
    secret may be the password itself or JSON with `password` (and `username`), the form RDS
    writes."""

    env: Annotated[str, Field(pattern=r"^[A-Z_][A-Z0-9_]*$")] | None = None
    aws_secret_id: Annotated[str, Field(min_length=1)] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Credentials:
        if (self.env is None) == (self.aws_secret_id is None):
            raise ValueError("declare exactly one of env, aws_secret_id")
        return self


@declared(frozen=True, config=NO_UNKNOWN_KEYS)
class Watermark:
    """The column whose value only grows as rows change (a timestamp, UTC), and the key that
    orders rows sharing one value: together they say exactly where a pull stopped."""

    column: Annotated[str, Field(pattern=_NAME)]
    tie_breaker: Annotated[str, Field(pattern=_NAME)]


@declared(frozen=True, config=NO_UNKNOWN_KEYS)
class PullConfig:
    """An incremental extract from a SQL database (see lake_assets/pull/service.py)."""

    kind: Literal["sql"]
    url: Annotated[str, AfterValidator(_url_without_password)]
    watermark: Watermark
    credentials: Credentials | None = None
    table: (
        Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")] | None
    ) = None
    query: Annotated[str, Field(min_length=1)] | None = None
    # Columns holding JSON text, nested as JSON in the landed lines (the raw file is then the
    # nested export the source's consumers know).
    json_columns: tuple[Annotated[str, Field(pattern=_NAME)], ...] = ()
    # Rows per round trip (keyset pages); one pull lands all its pages as one file.
    page_size: Annotated[WholeNumber, Field(ge=1)] = 1000
    # A pull reads rows changed up to now minus this lag: a transaction that stamped its rows
    # earlier but commits later is still read, as long as it commits within the lag.
    safety_lag_seconds: WholeNumber = 300
    # When the schedule pulls (cron, UTC); it starts stopped: an operator turns it on.
    cron: Annotated[str, Field(min_length=1)] = "*/15 * * * *"
    breaker: Breaker = Breaker()

    @model_validator(mode="after")
    def _table_or_query(self) -> PullConfig:
        if (self.table is None) == (self.query is None):
            raise keyed("table", "declare exactly one of table, query")
        keys = {self.watermark.column, self.watermark.tie_breaker}
        if keys & set(self.json_columns):
            raise keyed("json_columns", "must not name the watermark column or its tie-breaker")
        return self
