"""The masked views in DuckDB, in this process, over the catalog's current published partitions:
what `lake query --as PROFILE` reads and what the views' blocking check executes.

Each view's Trino text is transpiled by sqlglot (views.to_duckdb), so the local engine runs the
statements Athena runs. The clear source tables exist only while the masked tables are built
from them: then they are dropped, the token function (which holds the key) is removed, and file
access is switched off and locked, so a consumer's query reaches the masked rows and nothing
else, and cannot compute the token of a guessed value.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass

import duckdb

from lake_assets.access.tokens import KEY_ENV, MissingTokenKey, token_key
from lake_assets.access.views import View, ViewSource, to_duckdb
from lake_assets.tables.locations import PARTITION
from lake_assets.tables.reader import published_files
from resources.catalog import PartitionCatalog, PublishedPartition
from resources.storage import LakeStorage

_DUCKDB_TYPES = {"date": "DATE", "timestamp": "TIMESTAMP"}


@dataclass(frozen=True)
class PartitionFiles:
    """One published partition's data files (local paths), for DuckDB."""

    partition: str
    paths: tuple[str, ...]


def local_token_key(environ: Mapping[str, str] = os.environ) -> str | None:
    """The lake's managed token key as lake_token reads it locally (tokens.py: the environment,
    never a file or a log); None withholds tokens (they read as null)."""
    try:
        return token_key({"env": KEY_ENV}, environ).decode()
    except MissingTokenKey:
        return None


def connect(token_key: str | None) -> duckdb.DuckDBPyConnection:
    """A private DuckDB with Trino's hmac_sha256, which DuckDB lacks, bound to the views' key."""
    from duckdb.sqltypes import BLOB

    con = duckdb.connect()
    if token_key is not None:
        con.create_function(
            "hmac_sha256",
            lambda value, key: hmac.new(key, value, hashlib.sha256).digest(),
            [BLOB, BLOB],
            BLOB,
        )
    return con


def load_sources(
    con: duckdb.DuckDBPyConnection,
    sources: Iterable[ViewSource],
    files: Mapping[str, Sequence[PartitionFiles]],
) -> None:
    """Each source as a view `<database>.<dataset>` over its partitions' files, with the
    partition column from the catalog (Spark writes it as a folder, not in the files)."""
    for source in sources:
        con.execute(f'CREATE SCHEMA IF NOT EXISTS "{source.database}"')
        parts = []
        for each in files[source.dataset]:
            if not each.paths:
                continue
            listed = ", ".join(f"'{_literal(p)}'" for p in each.paths)
            kind = _DUCKDB_TYPES.get(source.columns.get(PARTITION, ""), "VARCHAR")
            parts.append(
                f"SELECT *, CAST('{_literal(each.partition)}' AS {kind}) AS {PARTITION} "
                # The catalog says which partition the files are; DuckDB would otherwise add
                # the `event_date=` folder as a second event_date column of its own.
                f"FROM read_parquet([{listed}], union_by_name = true, hive_partitioning = false)"
            )
        if not parts:
            raise LookupError(f"{source.dataset}: no published files to read")
        con.execute(
            f'CREATE VIEW "{source.database}"."{source.dataset}" AS '
            + " UNION ALL BY NAME ".join(parts)
        )


def materialise(con: duckdb.DuckDBPyConnection, views: Iterable[View], by_profile: bool) -> None:
    """Each view's rows as a table named as its dataset, in the schema of its profile (or in
    `main`, for one profile's query). A table, not a DuckDB view, so the text (with the key) is
    not kept."""
    for view in views:
        target = view.profile if by_profile else "main"
        con.execute(f'CREATE SCHEMA IF NOT EXISTS "{target}"')
        con.execute(f'CREATE TABLE "{target}"."{view.dataset}" AS {to_duckdb(view)}')


def seal(con: duckdb.DuckDBPyConnection, sources: Iterable[ViewSource]) -> None:
    """Leave only the masked tables: clear sources dropped, the keyed function removed, no file
    access from here on (locked, so a query cannot switch it back)."""
    for database in sorted({s.database for s in sources}):
        con.execute(f'DROP SCHEMA IF EXISTS "{database}" CASCADE')
    try:
        con.remove_function("hmac_sha256")
    except duckdb.InvalidInputException:
        pass  # no key, no function
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


def masked_connection(
    views: Sequence[View],
    sources: Sequence[ViewSource],
    files: Mapping[str, Sequence[PartitionFiles]],
    token_key: str | None,
) -> duckdb.DuckDBPyConnection:
    """A connection where the views' masked rows are tables named as their datasets (one
    profile's views), and nothing else is readable."""
    con = connect(token_key)
    wanted = {v.dataset for v in views}
    load_sources(con, [s for s in sources if s.dataset in wanted], files)
    materialise(con, views, by_profile=False)
    seal(con, sources)
    return con


def published_partition_files(
    catalog: PartitionCatalog,
    storage: LakeStorage,
    datasets: Iterable[str],
    stack: ExitStack,
    latest: bool = False,
    versions_of: Callable[[str], Sequence[PublishedPartition]] | None = None,
) -> dict[str, list[PartitionFiles]]:
    """dataset -> its published partitions' files (only the latest partition's with `latest`)
    as local paths, kept while `stack` is open (on S3 each is a temporary download): the
    current versions, or those `versions_of(dataset)` names (a time travel's)."""
    found: dict[str, list[PartitionFiles]] = {}
    for dataset in datasets:
        versions = (versions_of or catalog.partitions)(dataset)
        found[dataset] = [
            PartitionFiles(
                version.partition,
                tuple(
                    str(stack.enter_context(storage.local_path(key)))
                    for key in published_files(storage, version)
                ),
            )
            for version in (versions[-1:] if latest else versions)
        ]
    return found


def _literal(text: str) -> str:
    return text.replace("'", "''")
