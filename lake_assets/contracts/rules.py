"""A contract's row-level rules compiled to Spark columns, for the promotion's single pass.

Every rule a row violates is named in one array<string> column (`_contract_violations`): row
rules are one expression and add no Spark job; a unique rule adds a window (a shuffle) and
referential integrity a broadcast existence join of the reference's keys (per key and span of
days, for a same-day rule), so the input is still read once and every row written once.
Counting violations is one aggregate over that column of the written output.

Null semantics, as in SQL CHECK constraints and every contract tool: a null violates only
not_null rules and non-nullable schema columns. range, regex and allowed_values skip nulls, an
sql expression that evaluates to null holds, and rows with a null key are neither duplicates
nor orphans.
"""

from __future__ import annotations

from collections.abc import Collection

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from lake_assets.contracts.dialects import sql_columns
from lake_assets.contracts.model import (
    ROW_KINDS,
    AllowedValues,
    Contract,
    NotNull,
    Range,
    ReferentialIntegrity,
    Regex,
    Rule,
    Sql,
)
from lake_assets.ingestion.curated_columns import (
    REF_DAYS,
    REF_FOUND,
    REF_KEY,
    REF_SPAN,
    SAMPLE_RANK,
    SAMPLE_RULE,
    VIOLATIONS,
)
from lake_assets.tables.frames import arrow_table

# The days one row of a same-day reference stands for: the bits of a long, its sign bit aside.
SPAN_DAYS = 63
_DAY_NUMBER = "datediff({}, DATE'1970-01-01')"


def _violated(rule: Rule) -> Column:
    """True when the row breaks the rule, null when the rule does not judge the row."""
    check = rule.check
    if isinstance(check, NotNull):
        return F.col(check.column).isNull()
    if isinstance(check, Range):
        value = F.col(check.column)
        below = value < F.lit(check.min) if check.min is not None else F.lit(False)
        above = value > F.lit(check.max) if check.max is not None else F.lit(False)
        return below | above
    if isinstance(check, Regex):
        return ~F.col(check.column).rlike(check.pattern)
    if isinstance(check, AllowedValues):
        return ~F.col(check.column).isin(list(check.values))
    if isinstance(check, Sql):
        return ~F.expr(check.expression)
    raise ValueError(f"rule {rule.name!r} ({rule.kind}) is not a row rule")


def row_rules_violated(contract: Contract, frame_columns: Collection[str]) -> dict[str, Column]:
    """Per row rule (not_null, range, regex, allowed_values, sql, and the schema's
    `schema.not_null.<column>`), in contract order: true where a row violates it."""
    rules = contract.rules_of(*ROW_KINDS)
    missing = sorted({c for r in rules for c in r.columns} - set(frame_columns))
    if missing:
        raise ValueError(
            f"contract {contract.dataset!r} reads columns the frame lacks: {', '.join(missing)}"
        )
    return {rule.name: _violated(rule) for rule in rules}


def row_violations(contract: Contract, frame_columns: Collection[str]) -> Column:
    """array<string> of the row rules each row violates, in contract order."""
    violated = row_rules_violated(contract, frame_columns)
    named = [F.when(broken, F.lit(name)) for name, broken in violated.items()]
    return F.filter(F.array(*named), lambda name: name.isNotNull()).cast("array<string>")


def with_unique_violations(
    frame: DataFrame, contract: Contract, partition_col: str, violations_col: str = VIOLATIONS
) -> DataFrame:
    """Append each unique rule's name to every row whose key occurs more than once in its
    partition: all copies are flagged, so a drop action quarantines every copy. Uniqueness
    is per partition; one window (one shuffle) per rule."""
    for rule in contract.rules_of("unique"):
        keys = rule.columns
        copies = F.count(F.lit(1)).over(Window.partitionBy(partition_col, *keys))
        duplicated = (copies > 1) & _all_present(keys)
        frame = frame.withColumn(violations_col, _append_when(duplicated, violations_col, rule))
    return frame


def unique_violation_counts(
    frame: DataFrame,
    contract: Contract,
    partition_col: str,
    on_driver: bool = False,
    partition: str | None = None,
) -> dict[str, dict[str, int]]:
    """{partition: {unique rule: violating rows}} counted as `with_unique_violations` flags
    them (every copy of a key present more than once), without flagging any row: one
    aggregate over the partition and key columns per rule, so a columnar file is read for
    those columns only. Clean partitions are absent. With `partition`, `frame` holds that one
    partition's rows and `partition_col` is not read.

    `on_driver` moves those columns to the driver as Arrow and aggregates them there
    (pyarrow's hash aggregate) instead of in a Spark shuffle: for the rows of a day, the
    shuffle's fixed cost outweighs the transfer (ADR-0121). Only for rows the driver holds."""
    by = [] if partition is not None else [partition_col]
    copies = _copies_on_driver if on_driver else _copies
    counts: dict[str, dict[str, int]] = {}
    for rule in contract.rules_of("unique"):
        present = frame.where(_all_present(rule.columns)).select(*by, *rule.columns)
        for found, rows in copies(present, by, rule.columns):
            counts.setdefault(str(found if partition is None else partition), {})[rule.name] = rows
    return counts


def _copies(present: DataFrame, by: list[str], keys: list[str]) -> list[tuple]:
    """(partition or None, rows whose key occurs more than once in it) for each partition
    (`by`: its column, or none for one partition) that has any."""
    copies = (
        present.groupBy(*by, *keys)
        .count()
        .where(F.col("count") > 1)
        .groupBy(*by)
        .agg(F.sum("count").alias("rows"))
    )
    return [(row[0] if by else None, row["rows"]) for row in copies.collect() if row["rows"]]


def _copies_on_driver(present: DataFrame, by: list[str], keys: list[str]) -> list[tuple]:
    """As `_copies`, counted by pyarrow on the driver. A 64-bit hash of each row's partition
    and key, computed where Spark reads the files, screens first: equal keys hash equal, so
    distinct hashes prove the keys distinct, and a clean day moves 8 bytes a row instead of
    its keys (ADR-0129). Only when two hashes match are the keys themselves counted, so a
    collision of distinct keys is never reported."""
    import pyarrow.compute as pc

    hashes = arrow_table(present.select(key_hash(*by, *keys).alias("hash")))["hash"]
    if pc.count_distinct(hashes).as_py() == len(hashes):
        return []
    counted = arrow_table(present).group_by([*by, *keys]).aggregate([([], "count_all")])
    copies = counted.filter(pc.greater(counted["count_all"], 1))
    if not by:
        rows = pc.sum(copies["count_all"]).as_py()
        return [(None, rows)] if rows else []
    summed = copies.group_by(by).aggregate([("count_all", "sum")])
    return list(zip(summed[by[0]].to_pylist(), summed["count_all_sum"].to_pylist(), strict=True))


def key_hash(*columns: str) -> Column:
    """The screen's hash of a key (Spark's xxhash64, the same on 3.5 and 4)."""
    return F.xxhash64(*columns)


def with_reference_found(
    frame: DataFrame,
    rule: Rule,
    reference: DataFrame,
    found_col: str,
    partition_col: str | None = None,
    broadcast: bool = True,
) -> DataFrame:
    """`frame` with `found_col`: whether the rule's column names a key of `reference` (in the
    reference's same `partition_col` partition, when one is given). An orphan is a row whose
    key is not null and not found (`orphaned`).

    An EXISTS subquery, which Spark plans as an existence join: it never multiplies a row,
    however often the reference holds its key, so the reference's keys need no distinct (a
    shuffle: a third of the orders merge's time, ADR-0167). With `broadcast` the reference is
    broadcast whatever its size (the join keeps the frame's partitioning): limit it to the
    partitions being checked. Without, Spark broadcasts it only when its size estimate is under
    `spark.sql.autoBroadcastJoinThreshold`, and shuffles both sides otherwise."""
    check = rule.check
    if not isinstance(check, ReferentialIntegrity):
        raise ValueError(f"rule {rule.name!r} is {rule.kind}, not referential_integrity")
    matches = f"r.{REF_KEY} = f.`{check.column}`"
    if partition_col:
        known = reference_days(reference, check.references.column, partition_col)
        day = _DAY_NUMBER.format(f"f.`{partition_col}`")
        matches += (
            f" AND r.{REF_SPAN} = floor({day} / {SPAN_DAYS})"
            f" AND shiftright(r.{REF_DAYS}, pmod({day}, {SPAN_DAYS})) & 1 = 1"
        )
    else:
        known = reference.select(F.col(check.references.column).alias(REF_KEY))
    if _is_union(frame):
        # Spark (3.5 and 4.x) pushes a projection holding a correlated EXISTS down through a
        # union and loses the subquery's own column ("key not found: _ri_key"): a trial over
        # partitions of two schema versions (tables.frames.read_resolved) failed so. An
        # observed count between them is a node the projection is not pushed through (and
        # costs a count per row: only where it is needed).
        frame = frame.observe(f"_before_{found_col}", F.count(F.lit(1)))
    return frame.sparkSession.sql(
        f"SELECT f.*, EXISTS (SELECT {'/*+ BROADCAST(r) */ ' if broadcast else ''}1 "
        f"FROM {{known}} r WHERE {matches}) "
        f"AS `{found_col}` FROM {{frame}} f",
        known=known,
        frame=frame,
    )


def reference_days(reference: DataFrame, key_col: str, partition_col: str) -> DataFrame:
    """`reference` as one row per key and span of SPAN_DAYS days (its `partition_col`): the key,
    the span's number and, as the bits of a long, the days of the span holding the key. What a
    same-day existence join broadcasts: a range's daily snapshots of a master hold nearly the
    same keys every day, so a month of a million customers is a million rows, not thirty
    million, on the driver (ADR-0175). An aggregate of the reference alone: the rows checked
    keep their partitioning."""
    day = F.expr(_DAY_NUMBER.format(f"`{partition_col}`"))
    return (
        reference.select(F.col(key_col).alias(REF_KEY), day.alias("_ri_day"))
        .groupBy(REF_KEY, F.floor(F.col("_ri_day") / SPAN_DAYS).alias(REF_SPAN))
        .agg(F.expr(f"bit_or(shiftleft(1L, pmod(_ri_day, {SPAN_DAYS})))").alias(REF_DAYS))
    )


# Plan nodes Spark's optimizer moves a projection through on its way down to a union.
_PASSED_THROUGH = ("Project", "Filter", "SubqueryAlias")


def _is_union(frame: DataFrame) -> bool:
    """Whether `frame`'s rows come straight from a union: its analyzed plan is a Union under
    projections and filters only (a union under an aggregate or a join is out of reach)."""
    plan = frame._jdf.queryExecution().analyzed()
    while plan.nodeName() in _PASSED_THROUGH:
        plan = plan.children().apply(0)
    return plan.nodeName() == "Union"


def orphaned(rule: Rule, found_col: str) -> Column:
    """True on a row of with_reference_found whose key the reference does not hold; a null key
    is no orphan."""
    return F.col(rule.columns[0]).isNotNull() & ~F.col(found_col)


def first_keys(frame: DataFrame, column: str, where: Column, count: int) -> list[str]:
    """The first `count` distinct values of `column` (as text, in order) on the rows of `frame`
    where `where` holds: the orphan keys an operator looks up in the reference. A pass of its
    own: call it only for a rule that found some."""
    keys = frame.where(where).select(F.col(column).cast("string").alias("key")).distinct()
    return [row["key"] for row in keys.orderBy("key").limit(count).collect()]


def with_referential_violations(
    frame: DataFrame,
    rule: Rule,
    reference: DataFrame,
    partition_col: str,
    violations_col: str = VIOLATIONS,
) -> DataFrame:
    """Append the rule's name to rows whose key is absent from the reference's same partition.

    `reference` needs `partition_col` (its snapshot date) and the referenced column; limit it
    to the partitions being promoted, since it is broadcast. A partition the reference has not
    published flags every row: `ri_phase` decides whether that counts.
    """
    return (
        with_reference_found(frame, rule, reference, REF_FOUND, partition_col)
        .withColumn(violations_col, _append_when(orphaned(rule, REF_FOUND), violations_col, rule))
        .drop(REF_FOUND)
    )


def _all_present(columns: Collection[str]) -> Column:
    present = F.lit(True)
    for column in columns:
        present = present & F.col(column).isNotNull()
    return present


def _append_when(condition: Column, violations_col: str, rule: Rule) -> Column:
    violations = F.col(violations_col)
    return F.when(condition, F.array_append(violations, F.lit(rule.name))).otherwise(violations)


def rules_with_action(contract: Contract, action: str) -> frozenset[str]:
    return frozenset(r.name for r in contract.all_rules if r.action == action)


def drop_rules(contract: Contract) -> frozenset[str]:
    """Rules whose violating rows are quarantined."""
    return rules_with_action(contract, "drop")


def fail_rules(contract: Contract) -> frozenset[str]:
    """Rules that block the partition's publish when violated."""
    return rules_with_action(contract, "fail")


def warn_rules(contract: Contract) -> frozenset[str]:
    return rules_with_action(contract, "warn")


def drop_reasons(violations_col: str | Column, contract: Contract) -> Column:
    """A quarantine reason naming the drop rules a row violates, null when there are none."""
    dropping = sorted(drop_rules(contract))
    if not dropping:
        return F.lit(None).cast("string")
    violated = F.array_intersect(F.col(violations_col), F.array(*map(F.lit, dropping)))
    return F.when(
        F.size(violated) > 0,
        F.concat(F.lit("violates contract rules: "), F.array_join(violated, ", ")),
    )


def rejects(violations_col: str | Column, contract: Contract) -> Column:
    """True when the row violates any rule whose action is drop."""
    return drop_reasons(violations_col, contract).isNotNull()


def violation_counts(
    frame: DataFrame, violations_col: str, partition_col: str
) -> dict[str, dict[str, int]]:
    """{partition: {rule: violating rows}} in one aggregate; clean partitions are absent."""
    rows = (
        frame.select(partition_col, F.explode(violations_col).alias("rule"))
        .groupBy(partition_col, "rule")
        .count()
        .collect()
    )
    counts: dict[str, dict[str, int]] = {}
    for partition, rule, count in rows:
        counts.setdefault(str(partition), {})[rule] = count
    return counts


SAMPLE_ROWS = 5  # violating rows kept per partition and rule, to show what broke the rule
SAMPLE_FILE = "_source_file"  # where a sampled row came from


def sample_columns(rule: Rule) -> tuple[str, ...]:
    """The columns a rule's violation samples show: the ones it reads."""
    if isinstance(rule.check, Sql):
        return tuple(sql_columns(rule.check.expression))
    return rule.columns


def violation_samples(
    frame: DataFrame,
    violations_col: str,
    contract: Contract,
    partition_col: str,
    per_rule: int = SAMPLE_ROWS,
) -> dict[str, dict[str, list[dict[str, str | None]]]]:
    """{partition: {rule: up to `per_rule` violating rows}}, each row as text: the columns the
    rule reads and the raw file the row came from. One job over the violating rows only."""
    shown = {
        r.name: [c for c in sample_columns(r) if c in frame.columns] for r in contract.all_rules
    }
    columns = sorted({c for names in shown.values() for c in names} | {SAMPLE_FILE})
    violating = frame.where(F.size(violations_col) > 0).select(
        F.col(partition_col).cast("string").alias(partition_col),
        F.explode(violations_col).alias(SAMPLE_RULE),
        *[F.col(c).cast("string").alias(c) for c in columns],
    )
    first = Window.partitionBy(partition_col, SAMPLE_RULE).orderBy(*columns)
    rows = (
        violating.withColumn(SAMPLE_RANK, F.row_number().over(first))
        .where(F.col(SAMPLE_RANK) <= per_rule)
        .collect()
    )
    samples: dict[str, dict[str, list[dict[str, str | None]]]] = {}
    for row in sorted(rows, key=lambda r: (r[partition_col], r[SAMPLE_RULE], r[SAMPLE_RANK])):
        rule = row[SAMPLE_RULE]
        samples.setdefault(row[partition_col], {}).setdefault(rule, []).append(
            {c: row[c] for c in (*shown.get(rule, ()), SAMPLE_FILE)}
        )
    return samples
