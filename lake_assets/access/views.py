"""Masked views: a Decision's column treatments and row filter as one SQL view per (dataset,
profile), in Trino's dialect (Athena), parsed and checked with sqlglot before anyone runs it.

A view keeps each column's name and replaces its value by the treatment's expression, so a
query that filters, groups or joins on a masked column works on the masked value and never sees
the clear one (`WHERE national_id = '850101145678'` through a tokenised column matches nothing).
A denied column is absent, so a query naming it fails. The row filter reads the clear columns of
the source, before any mask. The views live in one database beside the curated tables'
(`<curated database>_views`), named `<dataset>__<profile>`: one database the orchestrator's
role writes, with grants per profile on its views' names (ADR-0078).

A keyed token needs its key in the view. In a Glue view the text is readable by everyone who may
query it (Athena reads it with glue:GetTable), and whoever holds the key can test candidates
(about 2x10^10 MyKad numbers), so `token_key=None` renders a token as null, the next stricter
treatment: fail closed (ADR-0078). The local engine gets the key, in-process only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from lake_assets.access.model import Decision, Treatment

DIALECT = "trino"
# Where the statement a Trino PREPARE or EXPLAIN runs begins, after the keyword.
_STATEMENT_AFTER = {
    "PREPARE": re.compile(r"\S+\s+FROM\s+(?P<run>.+)", re.I | re.S),
    # Trino's options are FORMAT and TYPE: a parenthesised query is the statement, not them.
    "EXPLAIN": re.compile(
        r"(?:ANALYZE\s+)?(?:VERBOSE\s+)?(?:\(\s*(?:FORMAT|TYPE)\b[^)]*\)\s*)?(?P<run>.+)",
        re.I | re.S,
    ),
}
VIEWS_DATABASE = "lake_views"
# The lake's field types (lake_assets/tables/types.py) as Trino names them in a view.
TRINO_TYPES = {
    "null": "varchar",
    "boolean": "boolean",
    "integer": "bigint",
    "double": "double",
    "date": "date",
    "timestamp": "timestamp",
    "string": "varchar",
    "json": "varchar",
}
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PARTIAL = re.compile(r"^(first|last)(\d+)$")
_BAND = re.compile(r"^band:(\d+(?:\.\d+)?)$")
_COLUMN = '"__lake_column__"'  # the placeholder of a treatment's template


class ViewError(ValueError):
    """A view that cannot be generated safely: names the dataset, profile and reason."""

    def __init__(self, dataset: str, profile: str, reason: str):
        super().__init__(f"view of {dataset} for {profile}: {reason}")


@dataclass(frozen=True)
class ViewSource:
    """The table a view reads: its database (the Glue database of curated tables) and its
    columns (name -> the lake's field type), as the catalog records them."""

    dataset: str
    database: str
    columns: Mapping[str, str]


@dataclass(frozen=True)
class ViewColumn:
    name: str
    type: str  # Trino type of the view's column
    treatment: Treatment


@dataclass(frozen=True)
class View:
    dataset: str
    profile: str
    database: str  # the views database
    sql: str  # Trino SELECT, validated
    columns: tuple[ViewColumn, ...]
    # (column, why) of each column rendered as null instead of its treatment: a token where no
    # key may reach the view's text, a treatment the column's type cannot take.
    withheld: tuple[tuple[str, str], ...] = ()
    source_database: str = ""  # the database of the table it reads (the dataset's)

    @property
    def name(self) -> str:
        return f"{self.dataset}__{self.profile}"


def views_database(curated_database: str) -> str:
    """The database of the masked views, beside the curated tables' (Terraform creates both)."""
    return f"{curated_database}_views"


def view_parts(name: str) -> tuple[str, str] | None:
    """(dataset, profile) of a view's name (`View.name`), None for a name no view has. The
    profile is what follows the last "__": a dataset may hold "__", the policies' profiles
    hold none."""
    dataset, separator, profile = name.rpartition("__")
    return (dataset, profile) if separator and dataset and profile else None


def named_tables(sql: str) -> set[tuple[str, str]]:
    """(database, table) of every table a Trino query names, its CTEs excluded, as written; the
    database is "" where the query leaves it to the session's. sqlglot's ParseError when the
    text is not a query it reads.

    sqlglot keeps some statements as text (a Command, naming no table): the statement a PREPARE
    or EXPLAIN [ANALYZE] runs is read for its tables; any other (EXECUTE) may read anything,
    and is a ParseError too."""
    tree = sqlglot.parse_one(sql, read=DIALECT)
    if isinstance(tree, exp.Command):
        after = _STATEMENT_AFTER.get(tree.this)
        runs = after.fullmatch(tree.expression.name) if after else None
        if runs is None:
            raise ParseError(f"{tree.this} is kept as text: what it reads is unknown")
        return named_tables(runs["run"])
    ctes = {cte.alias for cte in tree.find_all(exp.CTE)}
    return {
        (table.db, table.name)
        for table in tree.find_all(exp.Table)
        if table.db or table.name not in ctes
    }


def render_views(
    decisions: Iterable[Decision],
    sources: Mapping[str, ViewSource],
    *,
    token_key: str | None = None,
    database: str = VIEWS_DATABASE,
) -> list[View]:
    """Every allowed decision's view, sorted by (profile, dataset); a denied dataset has none."""
    views = [
        render_view(d, sources[d.dataset], token_key=token_key, database=database)
        for d in decisions
    ]
    return sorted((v for v in views if v), key=lambda v: (v.profile, v.dataset))


def render_view(
    decision: Decision,
    source: ViewSource,
    *,
    token_key: str | None = None,
    database: str = VIEWS_DATABASE,
) -> View | None:
    """The view of `source` for the decision's subject, None when the dataset or every column is
    denied. Columns keep the source's order; a column the decision does not name is left out
    (fail closed).

    Built from checked parts: each column expression is a treatment's template, parsed once per
    (field type, treatment); names are plain identifiers, quoted; the row filter is parsed once
    per text and may read no table. A SELECT list of valid expressions over one table with a
    valid condition is valid, so parsing every statement whole (about 20 ms each) is left to the
    engines that run them: `to_duckdb` parses and checks each one in full before DuckDB runs it
    (the views' check runs every view so before any is registered)."""
    if decision.outcome != "allow":
        return None
    _identifier(decision.subject, "profile")
    if token_key is not None and (len(token_key) < 16 or _COLUMN in token_key):
        raise ViewError(source.dataset, decision.subject, "the token key is unfit: 16+ chars")
    selected, columns, withheld = [], [], []
    for name, kind in source.columns.items():
        column = decision.columns.get(name)
        if column is None or column.treatment.kind == "deny":
            continue
        treatment = column.treatment
        if treatment.kind == "token" and token_key is None:
            withheld.append((name, "no key may reach this view"))
            treatment = Treatment("null")
        try:
            template, trino_type = _template(kind, treatment, token_key)
        except ValueError as error:
            # A treatment this column's type cannot take (a policy banding a text column): the
            # next stricter that always applies, so one such column does not hold every view.
            withheld.append((name, str(error)))
            template, trino_type = _template(kind, Treatment("null"), None)
        quoted = _quoted(name)
        selected.append(f"{template.replace(_COLUMN, quoted)} AS {quoted}")
        columns.append(ViewColumn(name, trino_type, column.treatment))
    if not selected:
        return None  # every column denied (e.g. none classified yet): nothing to view
    sql = f"SELECT {', '.join(selected)} FROM {_quoted(source.database)}.{_quoted(source.dataset)}"
    if decision.row_filter:
        try:
            sql += f" WHERE ({_checked_filter(decision.row_filter)})"
        except ValueError as error:
            raise ViewError(source.dataset, decision.subject, str(error)) from None
    return View(
        dataset=source.dataset,
        profile=decision.subject,
        database=database,
        sql=sql,
        columns=tuple(columns),
        withheld=tuple(withheld),
        source_database=source.database,
    )


def validate(view: View) -> exp.Select:
    """Parse the whole statement as Trino: one SELECT, reading only its source table, no
    subquery. Raises ViewError naming what is wrong."""
    try:
        statements = sqlglot.parse(view.sql, read=DIALECT)
    except sqlglot.errors.ParseError as error:
        raise ViewError(view.dataset, view.profile, f"not valid Trino SQL: {error}") from None
    if len(statements) != 1 or not isinstance(statements[0], exp.Select):
        raise ViewError(view.dataset, view.profile, "not one SELECT statement")
    select = statements[0]
    tables = {(t.db, t.name) for t in select.find_all(exp.Table)}
    nested = sum(1 for _ in select.find_all(exp.Select)) > 1
    if tables != {(view.source_database, view.dataset)} or nested:
        raise ViewError(view.dataset, view.profile, f"reads more than its source: {tables}")
    return select


def to_duckdb(view: View) -> str:
    """The view's statement for the local engine: parsed and checked whole (validate), then
    transpiled, so one generator serves both engines."""
    return validate(view).sql(dialect="duckdb")


def query_to_duckdb(sql: str) -> str:
    """A consumer's query, written in Trino as on Athena, for the local engine."""
    return sqlglot.transpile(sql, read=DIALECT, write="duckdb")[0]


@lru_cache(maxsize=4096)
def _template(kind: str, treatment: Treatment, token_key: str | None) -> tuple[str, str]:
    """A treatment's expression over a placeholder column, parsed once: one expression, no
    table, no subquery."""
    sql, trino_type = _masked(_COLUMN, kind, treatment, token_key)
    _parsed_condition(f"SELECT {sql} AS {_COLUMN}", "the treatment's expression")
    return sql, trino_type


@lru_cache(maxsize=4096)
def _checked_filter(row_filter: str) -> str:
    """A row filter that is one condition reading no table (no UNION, no subquery)."""
    _parsed_condition(f"SELECT 1 WHERE ({row_filter})", "the row filter")
    return row_filter


def _parsed_condition(sql: str, what: str) -> None:
    try:
        statements = sqlglot.parse(sql, read=DIALECT)
    except sqlglot.errors.ParseError as error:
        raise ValueError(f"{what} is not valid Trino SQL: {error}") from None
    if len(statements) != 1 or not isinstance(statements[0], exp.Select):
        raise ValueError(f"{what} is not one expression")
    tree = statements[0]
    if tree.find(exp.Table) or sum(1 for _ in tree.find_all(exp.Select)) > 1:
        raise ValueError(f"{what} reads a table")


def _masked(column: str, kind: str, treatment: Treatment, token_key: str | None) -> tuple[str, str]:
    """(SQL expression, Trino type) of `column` (quoted) of field type `kind` under `treatment`."""
    trino = TRINO_TYPES.get(kind, "varchar")
    text = f"CAST({column} AS varchar)"
    detail = treatment.detail
    if treatment.kind == "clear":
        return column, trino
    if treatment.kind == "null":
        return f"CAST(NULL AS {trino})", trino
    if treatment.kind == "token":
        # Keyed HMAC-SHA256: equal values get equal tokens, so a join links rows; without the
        # key nobody can compute the token of a guessed value. Lower-case hex of the key's UTF-8
        # bytes, as the gold tables' lake_token computes it, so a view's token joins theirs.
        key = "to_utf8('{}')".format(token_key.replace("'", "''"))
        return f"lower(to_hex(hmac_sha256(to_utf8({text}), {key})))", "varchar"
    if treatment.kind == "partial":
        shown = _PARTIAL.match(detail or "")
        if not shown:
            raise ValueError(f"partial needs 'lastN' or 'firstN', not {detail!r}")
        n = int(shown.group(2))
        part = f"substr({text}, -{n})" if shown.group(1) == "last" else f"substr({text}, 1, {n})"
        pad = "lpad" if shown.group(1) == "last" else "rpad"
        # A value no longer than what is shown would be shown whole: mask all of it.
        size = f"CAST(length({text}) AS integer)"
        return (
            f"CASE WHEN length({text}) > {n} THEN {pad}({part}, {size}, '*') "
            f"ELSE lpad('', {size}, '*') END",
            "varchar",
        )
    if treatment.kind == "generalise":
        if detail in ("month", "year") and kind in ("date", "timestamp"):
            return f"CAST(date_trunc('{detail}', {column}) AS date)", "date"
        band = _BAND.match(detail or "")
        if band and kind in ("integer", "double"):
            width = band.group(1)
            return f"floor(CAST({column} AS double) / {width}) * {width}", "double"
        raise ValueError(f"cannot generalise a {kind} column by {detail!r}")
    raise ValueError(f"unknown treatment {treatment}")


def _identifier(name: str, what: str) -> str:
    if not _IDENTIFIER.match(name):
        raise ValueError(f"{what} {name!r} is not a plain SQL identifier (letters, digits, _)")
    return name


def _quoted(name: str) -> str:
    return f'"{_identifier(name, "name")}"'
