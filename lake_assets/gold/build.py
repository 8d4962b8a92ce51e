"""The Spark job of every gold table: its SQL over temp views of its inputs, checked against the
table's declared columns before anything runs, written by the derived layers' writer.

Dagster-free, catalog-free and config-free, like every registered job (runtime/jobs.py): the
plan carries the SQL text beside what every derived plan carries (layers/step.py), so the job
runs in-process, in a Pipes subprocess or on EMR (PySpark 3.5 and 4.x) unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql import DataFrame, SparkSession

from lake_assets.access.tokens import register_lake_token
from lake_assets.layers.job import write_derived
from lake_assets.tables.frames import read_resolved
from lake_assets.tables.types import field_type_of_spark


class GoldSchemaMismatch(ValueError):
    """A gold table's SQL does not select the columns its declaration names, at their types."""


def gold_rows(spark: SparkSession, sql: str, inputs: Mapping[str, DataFrame]) -> DataFrame:
    """The rows `sql` defines over `inputs` (view name -> rows, each of `spark`'s session)."""
    for view, frame in inputs.items():
        frame.createOrReplaceTempView(view)
    return spark.sql(sql)


def schema_mismatches(table: str, declared: Mapping[str, str], selected: Mapping[str, str]):
    """Each way the SQL's output columns (column -> field type) differ from the declared ones,
    as a sentence naming the table and column; empty when they agree."""
    found = [
        f"{table}: declared column {name} is not selected by its SQL"
        for name in declared
        if name not in selected
    ]
    found += [
        f"{table}.{name}: the SQL selects {selected[name]}, declared {kind}"
        for name, kind in declared.items()
        if name in selected and selected[name] != kind
    ]
    found += [
        f"{table}: the SQL selects {name}, which lake_assets/gold/tables.py does not declare"
        for name in selected
        if name not in declared
    ]
    return found


def gold_job(spark: SparkSession, plan: dict) -> dict:
    """The registered Spark job `gold_table`. Plan: a derived plan (layers/step.py: `inputs`
    by dataset, `columns`, `contract`, `partition`, `output_uri`) and `table` and `sql`. The
    SQL's own columns are checked against `columns` first (GoldSchemaMismatch, from Spark's
    analysis: nothing is read); the result is write_derived's. A plan with `token_key` (where
    the key is) makes `lake_token(col)` callable in the SQL."""
    # A session of its own: its temp views are invisible to any other job in this JVM.
    session = spark.newSession()
    if "token_key" in plan:
        register_lake_token(session, plan["token_key"])
    inputs = {
        dataset: read_resolved(session, resolved)
        for dataset, resolved in plan["inputs"].items()
        if resolved is not None
    }
    rows = gold_rows(session, plan["sql"], inputs)
    selected = {f.name: field_type_of_spark(f.dataType.simpleString()) for f in rows.schema.fields}
    mismatches = schema_mismatches(plan["table"], plan["columns"], selected)
    if mismatches:
        raise GoldSchemaMismatch("; ".join(mismatches))
    return write_derived(session, rows, plan)
