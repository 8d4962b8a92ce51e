"""The gold tables as derived tables of the layers core (lake_assets/layers): the job, the plan's
SQL, the column lineage derived from that SQL, and the output contract built from the declared
columns and grain."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import cached_property

from lake_assets.access.safe import TOKEN_FUNCTION
from lake_assets.access.tokens import token_key_source
from lake_assets.contracts.model import Contract
from lake_assets.gold.lineage import column_lineage
from lake_assets.gold.tables import GOLD_TABLES, GoldTable
from lake_assets.layers.model import DerivedTable

# The contract's owner field; the assets' owners come from config/lake.yaml's platform_owner.
OWNER = "team:data-platform"


def output_contract(table: GoldTable) -> Contract:
    """One blocking not_null rule per column declared not null and one unique rule on the grain;
    one warn not_null rule per joined key (`<column>_found`: the orphans a LEFT JOIN keeps are
    counted and reported, never held; ADR-0147). The schema's own nullability is left open: in
    a contract it drops the row (a quarantine, ADR-0014), and a derived table has nothing to
    drop it to; a null there must hold the build."""
    return Contract.model_validate(
        {
            "dataset": table.dataset,
            "owner": OWNER,
            "version": 1,
            "schema": [{"name": n, "type": c.type} for n, c in table.columns.items()],
            "rules": [
                *(
                    {"name": f"{name}_not_null", "severity": "error", "not_null": {"column": name}}
                    for name, column in table.columns.items()
                    if not column.nullable
                ),
                *(
                    {"name": f"{name}_found", "severity": "warn", "not_null": {"column": name}}
                    for name in table.joined_keys
                ),
                {
                    "name": "one_row_per_" + "_".join(table.grain),
                    "severity": "error",
                    "unique": {"columns": list(table.grain)},
                },
                *(
                    # What makes the table's aggregates safe (access/safe.py): held, not published.
                    {
                        "name": f"{group.column}_at_least_{group.size}",
                        "severity": "error",
                        "range": {"column": group.column, "min": group.size},
                    }
                    for group in (table.min_group,)
                    if group
                ),
            ],
        }
    )


class SqlLineage(Mapping):
    """A table's column lineage, derived from its SQL when first read: parsing the four SQL
    files costs about a second, which every `lake` command would otherwise pay on import."""

    def __init__(self, table: GoldTable):
        self._table = table

    @cached_property
    def _lineage(self) -> dict:
        return column_lineage(self._table)

    def __getitem__(self, column: str) -> list:
        return self._lineage[column]

    def __iter__(self) -> Iterator[str]:
        return iter(self._lineage)

    def __len__(self) -> int:
        return len(self._lineage)


def derived_table(table: GoldTable) -> DerivedTable:
    sql = table.sql()
    tokens = TOKEN_FUNCTION in sql.lower()

    def plan_extra(_) -> dict:
        # Where the key is, read when the run is planned; never the key: the job reads it.
        return {
            "table": table.dataset,
            "sql": sql,
            **({"token_key": token_key_source()} if tokens else {}),
        }

    return DerivedTable(
        dataset=table.dataset,
        asset=("gold", table.name),
        job="gold_table",
        inputs=table.inputs,
        columns={name: column.type for name, column in table.columns.items()},
        description=table.description,
        column_lineage=SqlLineage(table),
        plan_extra=plan_extra,
        contract=output_contract(table),
    )


# Facts before the KPIs built on them.
GOLD_DERIVED_TABLES = tuple(derived_table(t) for t in GOLD_TABLES.values())
