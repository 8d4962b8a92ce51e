"""Column lineage of the gold tables, derived from their SQL with sqlglot, not written twice.

For each output column, sqlglot walks the SQL's scopes (CTEs, subqueries, unions, joins) down
to the columns of the input views it reads; a gold table read by another gold table (the KPIs
over the facts) is expanded into its own SQL, so every gold column's lineage ends at the
silver and bronze columns it comes from. The shape is the lineage store's (lineage/model.py
ColumnInput): "<dataset>.<column>", how it is transformed, and whether it is masked.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlglot import exp
from sqlglot.lineage import Node, lineage

from lake_assets.gold.tables import GOLD_TABLES, GoldTable
from lake_assets.lineage.model import ColumnInput

DIALECT = "spark"
# The strongest transformation on any path from an output column to an input column wins.
_STRENGTH = {"IDENTITY": 0, "TRANSFORMATION": 1, "AGGREGATION": 2}


def column_lineage(table: GoldTable, tables: Mapping[str, GoldTable] = GOLD_TABLES) -> dict:
    """Output column -> its input columns (ColumnInput), from `table`'s SQL; a gold input is
    expanded into its own SQL (found in `tables` by dataset name)."""
    gold = {t.dataset: t for t in tables.values()}
    sources = _expanded_sources(table, gold)
    # No schema: every column in the SQL is qualified or in a one-table scope.
    nodes = lineage(None, table.sql(), {}, sources=sources, dialect=DIALECT)
    return {column: _inputs(node) for column, node in nodes.items()}


def _expanded_sources(table: GoldTable, gold: Mapping[str, GoldTable]) -> dict[str, str]:
    sources: dict[str, str] = {}
    for dataset in (spec.dataset for spec in table.inputs):
        if dataset in gold:
            sources[dataset] = gold[dataset].sql()
            sources.update(_expanded_sources(gold[dataset], gold))
    return sources


def _inputs(root: Node) -> list[ColumnInput]:
    found: dict[str, str] = {}

    def walk(node: Node, transformation: str) -> None:
        if not node.downstream:
            if isinstance(node.source, exp.Table):
                key = f"{node.source.name}.{node.name.rsplit('.', 1)[-1]}"
                if _STRENGTH[transformation] >= _STRENGTH.get(found.get(key, ""), -1):
                    found[key] = transformation
            return
        step = _transformation(node.expression)
        stronger = max(transformation, step, key=_STRENGTH.__getitem__)
        for child in node.downstream:
            walk(child, stronger)

    walk(root, "IDENTITY")
    return [
        {"input": key, "transformation": kind, "masking": False}
        for key, kind in sorted(found.items())
    ]


def _transformation(expression: exp.Expr) -> str:
    """What one select expression does to the columns it reads."""
    inner = expression.this if isinstance(expression, exp.Alias) else expression
    if inner.find(exp.AggFunc):
        return "AGGREGATION"
    return "IDENTITY" if isinstance(inner, exp.Column) else "TRANSFORMATION"
