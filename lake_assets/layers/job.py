"""The Spark side every derived job ends with: write the built rows as the declared columns
into the run's folder, audited in that same pass. Dagster-free and catalog-free, like every
registered job (lake_assets/runtime/jobs.py).

The audit (rows, the counts a job asks for, the output contract's row rules) is a Spark
`Observation` of the write: the rows counted are those the writer committed, and no second
pass reads them back. The files are the committed folder's listing; only a contract's unique
rules read the written files again, their key columns alone (ADR-0119).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pyspark.sql import Column, DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from lake_assets.contracts.model import Contract
from lake_assets.contracts.rules import row_rules_violated, unique_violation_counts
from lake_assets.tables.frames import PARTITION, conformed, written_files

# Up to this many written rows, a unique rule's keys are counted on the driver (tens of MB of
# Arrow), where a Spark shuffle's fixed cost would outweigh them: a day of a large table.
UNIQUE_ON_DRIVER_ROWS = 2_000_000


def write_derived(
    spark: SparkSession, rows: DataFrame, plan: dict, counted: Mapping[str, Column] | None = None
) -> dict:
    """Write `rows` (the table's declared `plan["columns"]`, typed, in order) to
    `plan["output_uri"]`. Result: `rows` and `files` written, `violations`, the written rows
    breaking each rule of `plan["contract"]` (none without a contract), and per name in
    `counted` the rows on which its condition holds."""
    frame = conformed(rows, plan["columns"])
    return write_audited(spark, frame, plan, None, counted)[plan["partition"]]


def write_audited(
    spark: SparkSession,
    frame: DataFrame,
    plan: dict,
    partitions: Sequence[str] | None = None,
    counted: Mapping[str, Column] | None = None,
) -> dict[str, dict]:
    """Write `frame`'s declared columns (`plan["columns"]`) to `plan["output_uri"]` and audit
    them in the same pass. With `partitions`, the values its PARTITION column may hold, the
    rows are written in `event_date=` folders and audited per partition; a row outside them
    fails the job after the write (nothing reports it, so nothing is published). Without,
    everything is `plan["partition"]`.

    Result, per partition that received rows (or the one partition): `rows`, `files` (names),
    `violations` (rule -> rows breaking it, from `plan["contract"]`), and per name in `counted`
    the rows on which its condition holds."""
    columns = list(plan["columns"])
    contract = Contract.model_validate(plan["contract"]) if plan.get("contract") else None
    conditions = {"rows": F.lit(True), **(counted or {})}
    rules = row_rules_violated(contract, frame.columns) if contract else {}
    keys = list(partitions) if partitions is not None else [plan["partition"]]
    # One counter per (partition, condition), named by position: a rule's name is free text.
    measured = [(key, name) for key in keys for name in (*conditions, *rules)]
    aggregates = [
        F.count(F.when(_in(key, partitions) & {**conditions, **rules}[name], True)).alias(f"m{i}")
        for i, (key, name) in enumerate(measured)
    ]
    if partitions is not None:
        outside = ~F.col(PARTITION).cast("string").isin(keys)
        # As text: Spark 3.5's Observation hands an array back as a bare Java object.
        aggregates.append(
            F.concat_ws(",", F.collect_set(F.when(outside, F.col(PARTITION).cast("string")))).alias(
                "outside"
            )
        )
    observed = Observation("written")
    audited = frame.observe(observed, *aggregates)
    if partitions is None:
        audited.select(*columns).write.mode("error").parquet(plan["output_uri"])
    else:
        audited.select(*columns, PARTITION).write.mode("error").partitionBy(PARTITION).parquet(
            plan["output_uri"]
        )
    metrics = observed.get
    if partitions is not None and metrics["outside"]:
        raise ValueError(f"rows fall in partitions the plan does not name: {metrics['outside']}")
    values: dict[str, dict[str, int]] = {}
    for i, (key, name) in enumerate(measured):
        values.setdefault(key, {})[name] = metrics[f"m{i}"]
    files = written_files(spark, plan["output_uri"], partitions is not None)
    written = sum(counts["rows"] for counts in values.values())
    unique = (
        _unique_violations(spark, plan, contract, partitions is not None, written) if files else {}
    )
    return {
        key: {
            "rows": counts["rows"],
            "files": files.get(key if partitions is not None else "", []),
            "violations": {
                **{rule: counts[rule] for rule in rules if counts[rule]},
                **unique.get(key, {}),
            },
            **{name: counts[name] for name in counted or {}},
        }
        for key, counts in values.items()
        if partitions is None or counts["rows"]
    }


def _in(key: str, partitions: Sequence[str] | None) -> Column:
    return F.lit(True) if partitions is None else F.col(PARTITION).cast("string") == key


def _unique_violations(
    spark: SparkSession, plan: dict, contract: Contract | None, partitioned: bool, rows: int
) -> dict[str, dict[str, int]]:
    """The contract's unique rules over the `rows` written (they need every row of a
    partition at once, which the write's single pass does not give): their key columns read
    back, and counted on the driver up to UNIQUE_ON_DRIVER_ROWS (ADR-0121). Called only when
    a file was written (a folder of none has no schema to read)."""
    if contract is None or not contract.rules_of("unique"):
        return {}
    written = spark.read.parquet(plan["output_uri"])
    on_driver = rows <= UNIQUE_ON_DRIVER_ROWS
    one = None if partitioned else plan["partition"]
    return unique_violation_counts(written, contract, PARTITION, on_driver, one)
