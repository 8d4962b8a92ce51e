"""Contract validation: the contract's rules compiled by lake_assets.contracts.rules against one
hand-written Spark SQL aggregate computing the same violation counts.

The subject is what promotion does with a contract: name every row rule a row violates in an
array column (`row_violations`), append the unique rule's name to duplicated keys (a window,
`with_unique_violations`), then count violations per partition and rule in one aggregate
(`violation_counts`). The baseline is what a hand-written job would do: one
`SUM(CASE WHEN <violation> THEN 1 ELSE 0 END)` per rule, grouped by event date, over a
subquery holding the key's `COUNT(*) OVER (PARTITION BY event_date, transaction_id)`. The ratio
subject / baseline is what naming violations per row costs; the target is <= 2.

Both read the same typed frame of the benchmark payload's rows in curated column names, cached
and counted before either is timed, with a few per cent of rows made to break one rule each
(and some made null, which must break nothing but not_null rules). Ten rules of
the card_transactions contract (lake_pipelines/card_transactions/contract.yaml) are checked: its row and unique rules, filled up with
the schema's implicit not_null rules. Both must give the same counts per partition and rule.
"""

from __future__ import annotations

from functools import partial

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from benchmarks.data import transactions_file
from benchmarks.lake import SOURCE, spark_session
from benchmarks.timing import Runs, alternate, print_table, timed
from lake_assets.contracts import Contract, load_contract
from lake_assets.contracts.model import ROW_KINDS, contract_file
from lake_assets.contracts.rules import (
    VIOLATIONS,
    row_violations,
    violation_counts,
    with_unique_violations,
)

RULES = 10
REPEATS = 3
PARTITION = "event_date"
DAYS = 7  # rows are spread over this many event dates, in blocks of INJECT_EVERY
INJECT_EVERY = 500  # of each INJECT_EVERY rows, one breaks each rule (see _frame)
SUBJECT, BASELINE = "contract rules", "hand-written SQL"
VIEW = "bench_card_transactions"
COPIES = "_copies"

# The baseline's conditions, written by hand from the contract's YAML, under which a row
# violates each rule. Nulls break only not_null rules: a comparison with null is null, and a
# CASE WHEN on null counts nothing.
HAND_WRITTEN = {
    "schema.not_null.transaction_id": "transaction_id IS NULL",
    "transaction_id_unique": f"{COPIES} > 1 AND transaction_id IS NOT NULL",
    "amount_positive": "amount < 0.01",
    "amount_unusually_large": "amount > 50000",
    "currency_known": "currency NOT IN ('MYR', 'SGD', 'USD', 'EUR', 'GBP', 'THB', 'IDR')",
    "customer_id_format": r"NOT customer_id RLIKE r'^C\d{5}$'",
    "merchant_country_iso": "NOT merchant__country RLIKE '^[A-Z]{2}$'",
    "merchant_named": "merchant__name IS NULL",
    "channel_known": "channel NOT IN ('pos', 'online', 'contactless')",
    "online_has_device": "channel = 'online' AND device_id IS NULL",
}


def run(rows: int) -> str:
    contract = ten_rules(load_contract(contract_file(SOURCE)))
    payload = transactions_file(rows)
    print(f"\n[contracts] {payload.name}: {rows:,} rows, {RULES} rules", flush=True)
    spark = spark_session()
    try:
        frame = _frame(spark, str(payload))
        setup, cached = timed(lambda: frame.persist().count())
        frame.createOrReplaceTempView(VIEW)
        print(f"  setup (not timed): read, typed and cached {cached:,} rows in {setup:.1f} s")
        jobs = {
            BASELINE: lambda _: _hand_written(spark),
            SUBJECT: partial(_contract_rules, frame, contract),
        }
        runs = alternate(jobs, REPEATS, warm_up=True)  # JIT and codegen paid untimed
        same = _report(contract, cached, runs)
        frame.unpersist()
    finally:
        spark.stop()
    ratio = runs[SUBJECT].median / runs[BASELINE].median
    agreement = "counts match" if same else "COUNTS DIFFER"
    return (
        f"contracts: {ratio:.2f} x hand-written SQL aggregate (target <= 2); "
        f"{RULES} rules on {cached:,} rows, {agreement}"
    )


def ten_rules(contract: Contract) -> Contract:
    """The contract cut to RULES rules: its declared row and unique rules (volume and
    referential integrity judge partitions, not rows), then as many of the schema's implicit
    not_null rules as make up the number; other columns are made nullable to drop theirs."""
    declared = [r for r in contract.rules if r.kind in (*ROW_KINDS, "unique")][:RULES]
    implicit = [r.check.column for r in contract.implicit_rules[: RULES - len(declared)]]
    columns = [c.model_copy(update={"nullable": c.name not in implicit}) for c in contract.columns]
    cut = Contract.model_validate(
        {**contract.model_dump(exclude={"columns", "rules"}), "schema": columns, "rules": declared}
    )
    names = {r.name for r in cut.rules_of(*ROW_KINDS, "unique")}
    if names != set(HAND_WRITTEN):
        raise RuntimeError(
            f"the contract's rules changed: checking {sorted(names)}, the baseline has "
            f"{sorted(HAND_WRITTEN)}; update HAND_WRITTEN"
        )
    return cut


def _frame(spark: SparkSession, path: str) -> DataFrame:
    """The payload typed and in curated column names, spread over DAYS event dates, with one
    row of every INJECT_EVERY breaking each rule, and one holding nulls that break none."""
    schema = (
        "transaction_id string, customer_id string, amount double, currency string, "
        "merchant struct<name: string, category: string, country: string>, "
        "card_present boolean, transaction_date timestamp, channel string, device_id string"
    )
    raw = spark.read.schema(schema).json(path)
    number = F.substring("transaction_id", 5, 7).cast("int")  # TXN-0000042 -> 42
    kind = F.pmod(number, F.lit(INJECT_EVERY))

    def inject(column, *cases):
        """`column`, except on rows of the given kinds, which get the paired value."""
        value = None
        for injected, replacement in cases:
            value = (value if value is not None else F).when(kind == injected, replacement)
        return value.otherwise(column)

    null = F.lit(None)
    shifted = F.col("transaction_date") + F.make_interval(
        days=F.pmod(F.floor(number / INJECT_EVERY), F.lit(DAYS)).cast("int")
    )
    frame = raw.select(
        inject(
            F.col("transaction_id"),
            (9, null),  # schema.not_null.transaction_id
            (11, F.format_string("TXN-%07d", number - 1)),  # transaction_id_unique, two rows
        ).alias("transaction_id"),
        inject(
            F.col("customer_id"),
            (4, F.lower("customer_id")),  # customer_id_format
            (12, null),
        ).alias("customer_id"),
        inject(
            F.col("amount"),
            (1, F.lit(0.0)),  # amount_positive
            (2, F.col("amount") + 50_000),  # amount_unusually_large
            (12, null),
        ).alias("amount"),
        inject(F.col("currency"), (3, F.lit("XXX")), (12, null)).alias("currency"),
        inject(F.col("merchant.name"), (6, null)).alias("merchant__name"),
        F.col("merchant.category").alias("merchant__category"),
        inject(
            F.col("merchant.country"),
            (5, F.lower("merchant.country")),  # merchant_country_iso
            (12, null),
        ).alias("merchant__country"),
        F.col("card_present"),
        shifted.alias("transaction_date"),
        inject(
            F.col("channel"),
            (7, F.lit("atm")),  # channel_known
            (8, F.lit("online")),  # online_has_device, with no device
            (12, null),
        ).alias("channel"),
        inject(F.col("device_id"), (8, null), (12, null)).alias("device_id"),
        F.to_date(shifted).alias(PARTITION),
    )
    return frame


def _contract_rules(frame: DataFrame, contract: Contract, _) -> dict[str, dict[str, int]]:
    checked = frame.withColumn(VIOLATIONS, row_violations(contract, frame.columns))
    checked = with_unique_violations(checked, contract, PARTITION)
    return violation_counts(checked, VIOLATIONS, PARTITION)


def _hand_written(spark: SparkSession) -> dict[str, dict[str, int]]:
    sums = ",\n  ".join(
        f"SUM(CASE WHEN {condition} THEN 1 ELSE 0 END) AS `{rule}`"
        for rule, condition in HAND_WRITTEN.items()
    )
    query = (
        f"SELECT {PARTITION},\n  {sums}\n"
        f"FROM (SELECT *, COUNT(*) OVER (PARTITION BY {PARTITION}, transaction_id) AS {COPIES}"
        f" FROM {VIEW})\nGROUP BY {PARTITION}"
    )
    counts: dict[str, dict[str, int]] = {}
    for row in spark.sql(query).collect():
        partition, *values = row
        violated = {rule: n for rule, n in zip(HAND_WRITTEN, values, strict=True) if n}
        if violated:  # as violation_counts: clean partitions and rules are absent
            counts[str(partition)] = violated
    return counts


def _report(contract: Contract, rows: int, runs: dict[str, Runs]) -> bool:
    print_table(
        f"Contract validation, {RULES} rules (median of alternated runs, one warm SparkSession)",
        ["job", "median s", "M rows/s", "runs s"],
        [[n, r.median, rows / 1e6 / r.median, r.spread()] for n, r in runs.items()],
    )
    subject, baseline = runs[SUBJECT].result, runs[BASELINE].result
    print_table(
        f"Violating rows per rule, over {len(baseline)} event dates",
        ["rule", "kind", SUBJECT, BASELINE],
        [
            [
                rule,
                contract.rule(rule).kind,
                sum(c.get(rule, 0) for c in subject.values()),
                sum(c.get(rule, 0) for c in baseline.values()),
            ]
            for rule in HAND_WRITTEN
        ],
    )
    if subject == baseline:
        print("  counts match: both give the same violating rows per event date and rule")
        return True
    print("  COUNTS DIFFER (a bug in one of the two): partition, rule, subject, baseline")
    for partition in sorted(subject.keys() | baseline.keys()):
        got, want = subject.get(partition, {}), baseline.get(partition, {})
        for rule in sorted(got.keys() | want.keys()):
            if got.get(rule) != want.get(rule):
                print(f"    {partition}  {rule}: {got.get(rule, 0)} vs {want.get(rule, 0)}")
    return False
