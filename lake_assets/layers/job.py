"""The Spark side every derived job ends with: write the built rows as the declared columns
into the run's folder, audited in that same pass. Dagster-free and catalog-free, like every
registered job (lake_assets/runtime/jobs.py).

The audit (rows, the counts a job asks for, the output contract's row rules) is a Spark
`Observation` of the write: the rows counted are those the writer committed, and no second
pass reads them back. The files are the committed folder's listing; only a contract's unique
rules read the written files again, their key columns alone (ADR-0119).
"""

from __future__ import annotations

import json
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
    tallied = {**conditions, **rules}
    keys = list(partitions) if partitions is not None else [plan["partition"]]
    # One tally per condition, named by position: a rule's name is free text.
    if partitions is None:
        aggregates = [
            F.count(F.when(c, True)).alias(f"m{i}") for i, c in enumerate(tallied.values())
        ]
    else:
        aggregates = _slot_tallies(list(tallied.values()), keys)
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
    values: dict[str, dict[str, int]] = {key: {} for key in keys}
    for i, name in enumerate(tallied):
        per_key = (
            {keys[0]: metrics[f"m{i}"]}
            if partitions is None
            else _slot_counts(metrics[f"m{i}"], keys)
        )
        for key in keys:
            values[key][name] = per_key.get(key, 0)
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


def _slot_tallies(conditions: Sequence[Column], keys: Sequence[str]) -> list[Column]:
    """Per condition, how many rows of each of `keys` (a row's slot: its position in `keys`)
    it holds on, as one aggregate: Spark's `histogram_numeric` of the slots.

    Why not a count per (partition, condition): an Observation pays for every aggregate on
    every row, and a day of orders touching 8 order dates made 24 counts cost a fifth of the
    merge (ADR-0135). The histogram is exact here: it keeps one bin per distinct value and
    merges bins (its approximation) only when there are more distinct values than bins, and
    it is given a bin for every slot. Merging the two bins of one slot (from two tasks) averages
    their centres in floating point, which may leave 20.999999999999996 for slot 21: the slots
    go in as doubles, so that nothing truncates them, and come out rounded."""
    slots = F.create_map(*[v for n, k in enumerate(keys, 1) for v in (F.lit(k), F.lit(n))])
    slot = slots[F.col(PARTITION).cast("string")]  # null outside `keys`: "outside" names those
    return [
        # As JSON text, for the same reason as "outside" below.
        F.to_json(F.histogram_numeric(F.when(c, slot).cast("double"), F.lit(len(keys) + 1))).alias(
            f"m{i}"
        )
        for i, c in enumerate(conditions)
    ]


def _slot_counts(tally: str, keys: Sequence[str]) -> dict[str, int]:
    """The counts per partition of one `_slot_tallies` histogram (bins of one slot may come
    back apart, from different tasks: they are summed)."""
    counts: dict[str, int] = {}
    for bin_ in json.loads(tally or "[]"):
        slot, rows = round(bin_["x"]), bin_["y"]
        if abs(bin_["x"] - slot) > 1e-6 or not 1 <= slot <= len(keys) or rows != int(rows):
            raise RuntimeError(f"a partition tally came back approximated: {tally}")
        key = keys[slot - 1]
        counts[key] = counts.get(key, 0) + int(rows)
    return counts


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
