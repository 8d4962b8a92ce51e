"""The Spark side every derived job ends with: write the built rows as the declared columns
into the run's folder, audited in that same pass. Dagster-free and catalog-free, like every
registered job (lake_assets/runtime/jobs.py).

The audit (rows, the counts a job asks for, the output contract's row rules and referential
rules) is a Spark `Observation` of the write: the rows counted are those the writer committed,
and no second pass reads them back. A referential rule's reference keys are joined in before
the write (a broadcast: ADR-0167). The files are the committed folder's listing; only a
contract's unique rules read the written files again, their key columns alone (ADR-0119).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import reduce
from operator import add
from urllib.parse import unquote

from pyspark.sql import Column, DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from lake_assets.contracts.model import Contract
from lake_assets.contracts.rules import (
    SAMPLE_ROWS,
    first_keys,
    orphaned,
    row_rules_violated,
    unique_violation_counts,
    with_reference_found,
)
from lake_assets.tables.frames import (
    PARTITION,
    conformed,
    read_resolved,
    value_lookup,
    written_files,
)

# Up to this many written rows, a unique rule's keys are counted on the driver (tens of MB of
# Arrow), where a Spark shuffle's fixed cost would outweigh them: a day of a large table.
UNIQUE_ON_DRIVER_ROWS = 2_000_000
# Conditions one partition tally codes (_slot_tallies): its codes stay whole numbers a double
# holds exactly (below 2^53) and its bins an int, for up to 2^23 partitions in a plan.
TALLIED_TOGETHER = 8


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
    references: dict[str, DataFrame] = {}
    if contract is not None:
        frame, orphans, references = _with_references(spark, frame, plan, contract)
        rules = {**rules, **orphans}
    tallied = {**conditions, **rules}
    keys = list(partitions) if partitions is not None else [plan["partition"]]
    # One tally per condition, named by position (a rule's name is free text), or per partition
    # one coded histogram for several conditions.
    if partitions is None:
        aggregates = [
            F.count(F.when(c, True)).alias(f"m{i}") for i, c in enumerate(tallied.values())
        ]
    else:
        aggregates = _slot_tallies(list(tallied.values()), keys, frame.schema[PARTITION].dataType)
    observed = Observation("written")
    audited = frame.observe(observed, *aggregates)
    if partitions is None:
        audited.select(*columns).write.mode("error").parquet(plan["output_uri"])
    else:
        audited.select(*columns, PARTITION).write.mode("error").partitionBy(PARTITION).parquet(
            plan["output_uri"]
        )
    metrics = observed.get
    files = written_files(spark, plan["output_uri"], partitions is not None)
    if partitions is not None:
        # A row outside `keys` has no slot and is in no tally; its folder names it.
        outside = sorted(unquote(key) for key in files if unquote(key) not in keys)
        if outside:
            raise ValueError(
                f"rows fall in partitions the plan does not name: {', '.join(outside)}"
            )
        tallies = [metrics[f"t{i}"] for i in range(len(aggregates))]
        per_key = _slot_counts(tallies, keys, len(tallied))
        values = {key: dict(zip(tallied, per_key[key], strict=True)) for key in keys}
    else:
        values = {keys[0]: {name: metrics[f"m{i}"] for i, name in enumerate(tallied)}}
    written = sum(counts["rows"] for counts in values.values())
    unique = (
        _unique_violations(spark, plan, contract, partitions is not None, written) if files else {}
    )
    broken = {r for c in values.values() for r in c if c[r]}
    orphans = _orphan_keys(spark, plan, contract, references, broken) if contract else {}
    return {
        key: {
            "rows": counts["rows"],
            "files": files.get(key if partitions is not None else "", []),
            "violations": {
                **{rule: counts[rule] for rule in rules if counts[rule]},
                **unique.get(key, {}),
            },
            **({"orphan_keys": orphans} if orphans else {}),
            **{name: counts[name] for name in counted or {}},
        }
        for key, counts in values.items()
        if partitions is None or counts["rows"]
    }


def _with_references(
    spark: SparkSession, frame: DataFrame, plan: dict, contract: Contract
) -> tuple[DataFrame, dict[str, Column], dict[str, DataFrame]]:
    """`frame` joined to the keys of each referential rule's reference, read as the plan
    resolved it (the reference is an input of the table: layers.model.DerivedTable
    .with_contract), per rule the condition that holds on its orphans, and per rule the
    reference read (for `_orphan_keys`). The join is a
    broadcast that keeps the frame's partitioning: a sliced write still writes a file per slice."""
    orphans, references = {}, {}
    for number, rule in enumerate(contract.rules_of("referential_integrity")):
        reference = rule.check.references.dataset
        resolved = plan["inputs"].get(reference)
        if resolved is None:
            raise ValueError(
                f"rule {rule.name!r} checks {rule.check.column} against {reference}, which "
                f"the plan of {plan['partition']} does not resolve"
            )
        found = f"_reference_found{number}"
        references[rule.name] = read_resolved(spark, resolved)
        frame = with_reference_found(frame, rule, references[rule.name], found)
        orphans[rule.name] = orphaned(rule, found)
    return frame, orphans, references


def _orphan_keys(
    spark: SparkSession,
    plan: dict,
    contract: Contract,
    references: dict[str, DataFrame],
    broken: set[str],
) -> dict[str, list[str]]:
    """Per referential rule that found orphans in the write (`broken` names the conditions
    that held on some row), its first orphan keys in order, one more than SAMPLE_ROWS (so that
    whoever shows SAMPLE_ROWS knows there are more): what an operator looks up in the
    reference. Read back from the written files, the key column alone, and only when a rule
    found some: a write without orphans pays nothing for it."""
    ruled = [r for r in contract.rules_of("referential_integrity") if r.name in broken]
    samples = {}
    for number, rule in enumerate(ruled):
        column, found = rule.check.column, f"_reference_found{number}"
        written = spark.read.parquet(plan["output_uri"]).select(column)
        checked = with_reference_found(written, rule, references[rule.name], found)
        samples[rule.name] = first_keys(checked, column, orphaned(rule, found), SAMPLE_ROWS + 1)
    return samples


def _slot_tallies(conditions: Sequence[Column], keys: Sequence[str], key_type) -> list[Column]:
    """Each condition's rows per partition of `keys`, counted by as few aggregates as possible:
    a row's code is its slot (its partition's position in `keys`) shifted left by the number of
    conditions, plus one bit per condition that holds on it, and one Spark `histogram_numeric`
    counts the codes (TALLIED_TOGETHER conditions per histogram).

    Why a histogram of codes: an Observation pays for every aggregate on every row; a day of
    orders touching 8 order dates made 24 counts cost a fifth of the merge, a histogram per
    condition still a seventh (ADR-0135, ADR-0152). The histogram is exact here: it keeps one bin
    per distinct value and merges bins (its approximation) only when it sees more distinct
    values than bins, and it is given a bin for every possible code. Merging one code's bins from
    two tasks averages their centres in floating point (20.999999999999996 for 21): the codes
    go in as doubles, so that nothing truncates them, and come out rounded. The slots are looked
    up by the partition column's own value (`key_type`, tables.frames.value_lookup)."""
    slots = value_lookup(keys, key_type, range(len(keys)))
    slot = slots[F.col(PARTITION)].cast("bigint")  # null outside `keys`: counted nowhere
    tallies = []
    for start in range(0, len(conditions), TALLIED_TOGETHER):
        together = conditions[start : start + TALLIED_TOGETHER]
        bits = reduce(add, [F.when(c, 1 << i).otherwise(0) for i, c in enumerate(together)])
        code = slot * (1 << len(together)) + bits
        bins = F.lit(len(keys) << len(together))
        # As JSON text: Spark 3.5's Observation hands an array back as a bare Java object.
        tallies.append(
            F.to_json(F.histogram_numeric(code.cast("double"), bins)).alias(f"t{len(tallies)}")
        )
    return tallies


def _slot_counts(tallies: Sequence[str], keys: Sequence[str], conditions: int) -> dict[str, list]:
    """Per partition of `keys`, the rows on which each of the `conditions` holds, in the order
    they went into `_slot_tallies`. Bins of one code may come back apart, from different tasks:
    they are summed."""
    counts = {key: [0] * conditions for key in keys}
    for number, tally in enumerate(tallies):
        first = number * TALLIED_TOGETHER
        together = min(TALLIED_TOGETHER, conditions - first)
        for bin_ in json.loads(tally or "[]"):
            code, rows = round(bin_["x"]), bin_["y"]
            slot = code >> together
            if abs(bin_["x"] - code) > 1e-6 or not 0 <= slot < len(keys) or rows != int(rows):
                raise RuntimeError(f"a partition tally came back approximated: {tally}")
            for bit in range(together):
                if code >> bit & 1:
                    counts[keys[slot]][first + bit] += int(rows)
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
