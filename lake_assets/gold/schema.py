"""The declared gold schema checked against what a build wrote: pure, from the job's result.

The job reads its own output back once (build.py) and reports the columns and their types as
the files hold them, the nulls of every column declared not null and the rows beyond one per
grain; this compares them with tables.py's declaration. Why this and not pandera: see ADR
(pending-gold.md) and benchmarks/gold.py.
"""

from __future__ import annotations

from lake_assets.gold.tables import GoldTable


def job_checks(table: GoldTable) -> dict:
    """What a build's plan asks the job to count for this table's checks."""
    return {
        "not_null": [name for name, column in table.columns.items() if not column.nullable],
        "grain": list(table.grain),
    }


def schema_violations(table: GoldTable, written: dict) -> list[str]:
    """Each way the job's result `written` breaks `table`'s declared schema, as a sentence
    naming the table and column; empty when it conforms."""
    where = f"{table.dataset}"
    columns = written["columns"]
    found = []
    for name, column in table.columns.items():
        if name not in columns:
            found.append(f"{where}: declared column {name} was not written")
        elif columns[name] != column.type:
            found.append(f"{where}.{name}: written as {columns[name]}, declared {column.type}")
    found += [
        f"{where}: column {name} is written but not declared (config/gold/{table.name}.sql "
        "selects it; declare it in lake_assets/gold/tables.py)"
        for name in columns
        if name not in table.columns
    ]
    found += [
        f"{where}.{name}: {count} null row(s) in a column declared not null"
        for name, count in written["nulls"].items()
        if count
    ]
    if written["duplicate_keys"]:
        found.append(
            f"{where}: {written['duplicate_keys']} row(s) beyond one per "
            f"({', '.join(table.grain)}), the table's grain"
        )
    return found
