"""Column lineage of the gold tables, derived from their SQL with sqlglot, not written twice.

For each output column, sqlglot walks the SQL's scopes (CTEs, subqueries, unions, joins) down
to the columns of the input views it reads; a gold table read by another gold table (the KPIs
over the facts) is expanded into its own SQL, so every gold column's lineage ends at the
silver and bronze columns it comes from. The shape is the lineage store's (lineage/model.py
ColumnInput): "<dataset>.<column>", how it is transformed, whether it is masked, and `safe`,
the declared safe transformation (lake_assets/access/safe.py) every path from the output column
to that input goes through: the lake's keyed token ("hmac"), or count, sum or avg in a table
that declares its minimum group size ("aggregate>=k"), over every row of the group: over columns
only, with no CASE, FILTER, window or literal to pick rows. One path in the clear and it is None.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlglot import exp
from sqlglot.lineage import Node, lineage

from lake_assets.access.safe import HMAC, SAFE_AGGREGATES, TOKEN_FUNCTION, aggregate
from lake_assets.gold.tables import GOLD_TABLES, GoldTable
from lake_assets.lineage.model import ColumnInput

DIALECT = "spark"
# The strongest transformation on any path from an output column to an input column wins.
_STRENGTH = {"IDENTITY": 0, "TRANSFORMATION": 1, "AGGREGATION": 2}
# What may stand between a safe aggregate and its columns (a cast's type is not an operand).
_ARITHMETIC = (exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Neg, exp.Paren, exp.Cast)


def column_lineage(table: GoldTable, tables: Mapping[str, GoldTable] = GOLD_TABLES) -> dict:
    """Output column -> its input columns (ColumnInput), from `table`'s SQL; a gold input is
    expanded into its own SQL (found in `tables` by dataset name)."""
    gold = {t.dataset: t for t in tables.values()}
    sources = _expanded_sources(table, gold)
    # No schema: every column in the SQL is qualified or in a one-table scope.
    nodes = lineage(None, table.sql(), {}, sources=sources, dialect=DIALECT)
    grouped = aggregate(table.min_group.size) if table.min_group else None
    return {column: _inputs(node, grouped) for column, node in nodes.items()}


def _expanded_sources(table: GoldTable, gold: Mapping[str, GoldTable]) -> dict[str, str]:
    sources: dict[str, str] = {}
    for dataset in (spec.dataset for spec in table.inputs):
        if dataset in gold:
            sources[dataset] = gold[dataset].sql()
            sources.update(_expanded_sources(gold[dataset], gold))
    return sources


def _inputs(root: Node, grouped: str | None) -> list[ColumnInput]:
    found: dict[str, str] = {}
    safe: dict[str, str | None] = {}

    def walk(node: Node, transformation: str, protected: str | None) -> None:
        if not node.downstream:
            if isinstance(node.source, exp.Table):
                key = f"{node.source.name}.{node.name.rsplit('.', 1)[-1]}"
                if _STRENGTH[transformation] >= _STRENGTH.get(found.get(key, ""), -1):
                    found[key] = transformation
                # Safe only if every path to the input is: one path in the clear leaks it.
                safe[key] = protected if safe.get(key, protected) == protected else None
            return
        step = _transformation(node.expression)
        stronger = max(transformation, step, key=_STRENGTH.__getitem__)
        if grouped and protected == grouped and not _over_columns_only(_unaliased(node.expression)):
            # Below the aggregate, a CTE's CASE picks its rows as one inside it would.
            protected = None
        for child in node.downstream:
            walk(child, stronger, protected or _protection(node.expression, child, grouped))

    walk(root, "IDENTITY", None)
    return [
        {
            "input": key,
            "transformation": kind,
            "masking": safe[key] == HMAC,
            **({"safe": safe[key]} if safe[key] else {}),
        }
        for key, kind in sorted(found.items())
    ]


def _protection(expression: exp.Expr, child: Node, grouped: str | None) -> str | None:
    """The safe transformation `expression` applies to every reference to `child`'s column,
    or None."""
    name = child.name.rsplit(".", 1)[-1]
    table = child.name.rsplit(".", 1)[0] if "." in child.name else ""
    references = [
        c
        for c in expression.find_all(exp.Column)
        if c.name == name and (not c.table or not table or c.table == table)
    ]
    if references and all(_inside_token(c) for c in references):
        return HMAC
    if grouped and references and all(_inside_safe_aggregate(c) for c in references):
        return grouped
    return None


def _inside_token(column: exp.Column) -> bool:
    return any(
        isinstance(f, exp.Anonymous) and f.name.lower() == TOKEN_FUNCTION
        for f in _ancestors(column)
    )


def _inside_safe_aggregate(column: exp.Column) -> bool:
    # Every aggregate around it must be safe: max(sum(x)) returns one subgroup's sum.
    around = [f for f in _ancestors(column) if isinstance(f, exp.AggFunc)]
    return bool(around) and all(_aggregates_the_group(f) for f in around)


def _aggregates_the_group(function: exp.AggFunc) -> bool:
    """Whether `function` is a safe aggregate over every row of its group: a FILTER clause
    picks rows, and OVER makes it a window, one value per row (PARTITION BY customer_id)."""
    if function.key not in SAFE_AGGREGATES or isinstance(function.parent, exp.Filter | exp.Window):
        return False
    arguments = list(function.iter_expressions())
    return bool(arguments) and all(_over_columns_only(a) for a in arguments)


def _over_columns_only(expression: exp.Expr) -> bool:
    """Columns, optionally DISTINCT, cast or in arithmetic with each other. Anything else may
    pick rows: sum(CASE WHEN customer_id = 'C1' THEN amount END) is one customer's amount in a
    group of k, and so is a literal in plain arithmetic, by difference: sum(amount) less
    sum(amount * (id - 7) / (id - 7)), which is null, so left out, for customer 7 only."""
    if isinstance(expression, exp.Column):
        return True
    if isinstance(expression, exp.Distinct):
        operands = expression.expressions
    elif isinstance(expression, _ARITHMETIC):
        operands = [expression.this, expression.args.get("expression")]
    else:
        return False
    return all(_over_columns_only(o) for o in operands if o is not None)


def _unaliased(expression: exp.Expr) -> exp.Expr:
    return expression.this if isinstance(expression, exp.Alias) else expression


def _ancestors(node: exp.Expr):
    parent = node.parent
    while parent is not None:
        yield parent
        parent = parent.parent


def _transformation(expression: exp.Expr) -> str:
    """What one select expression does to the columns it reads."""
    inner = _unaliased(expression)
    if inner.find(exp.AggFunc):
        return "AGGREGATION"
    return "IDENTITY" if isinstance(inner, exp.Column) else "TRANSFORMATION"
