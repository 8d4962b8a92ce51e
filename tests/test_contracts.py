"""Data contracts: loading and its errors, row rules in Spark, and the partition verdicts."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime

import pytest
import yaml

from lake_assets.contracts.model import (
    CONTRACTS_DIR,
    Contract,
    contract_file,
    load_contract,
    load_contracts,
)
from lake_assets.contracts.verdicts import (
    blocking_rules,
    deadline_verdict,
    partition_deadline,
    ri_phase,
    staleness_verdict,
    volume_verdict,
)
from lake_assets.settings import DEFAULT_PIPELINES_DIR, ConfigError

CARDS = yaml.safe_load((contract_file("card_transactions")).read_text())
D1, D2 = date(2026, 3, 2), date(2026, 3, 3)


def contract(rules: list[dict], bootstrap: int = 3) -> Contract:
    """A small contract over an id/amount/currency/code/kind frame."""
    return Contract.model_validate(
        {
            "dataset": "payments",
            "owner": "tests",
            "version": 1,
            "bootstrap_partitions": bootstrap,
            "schema": [
                {"name": "id", "type": "string", "nullable": False},
                {"name": "amount", "type": "double"},
                {"name": "currency", "type": "string"},
                {"name": "code", "type": "string"},
                {"name": "kind", "type": "string"},
                {"name": "customer_id", "type": "string"},
            ],
            "rules": rules,
        }
    )


# --- loading --------------------------------------------------------------------------


def test_shipped_contracts_load():
    contracts = load_contracts(CONTRACTS_DIR, pipelines_dir=DEFAULT_PIPELINES_DIR)
    assert set(contracts) == {
        "card_transactions",
        "crm_contacts",
        "customers",
        "fx_rates",
        "order_events",
        "silver_customer",
        "silver_fx_rates",
        "silver_orders",
    }
    cards = contracts["card_transactions"]
    assert {r.kind for r in cards.rules} == {
        "unique",
        "range",
        "allowed_values",
        "regex",
        "not_null",
        "sql",
        "volume",
        "quality_score",
        "referential_integrity",
    }
    assert len(cards.rules) >= 10
    customer_exists = cards.rule("customer_exists")
    assert customer_exists.check.references.dataset == "customers"
    assert customer_exists.check.grace_hours == 6
    assert cards.rule("schema.not_null.transaction_id").action == "drop"
    assert cards.rule("transaction_id_unique").action == "fail"  # default for severity error
    assert cards.rule("merchant_named").action == "warn"  # default for severity warn
    assert contracts["customers"].rule("email_format").severity == "warn"


def rule_index(name: str) -> int:
    return next(i for i, r in enumerate(CARDS["rules"]) if r["name"] == name)


AMOUNT, UNIQUE, CURRENCY, CUSTOMER = (
    rule_index(n)
    for n in ("amount_positive", "transaction_id_unique", "currency_known", "customer_id_format")
)


def set_in(path: list, value):
    def mutate(document: dict) -> None:
        *parents, last = path
        node = document
        for part in parents:
            node = node[part]
        node[last] = value

    return mutate


def drop_key(path: list):
    def mutate(document: dict) -> None:
        *parents, last = path
        node = document
        for part in parents:
            node = node[part]
        del node[last]

    return mutate


@pytest.mark.parametrize(
    ("mutate", "key", "reason"),
    [
        (set_in(["colour"], "blue"), "colour", "unknown key"),
        (
            set_in(["rules", AMOUNT, "range", "colour"], 1),
            f"rules[{AMOUNT}].range.colour",
            "unknown key",
        ),
        (
            set_in(["rules", AMOUNT, "range", "max"], "lots"),
            f"rules[{AMOUNT}].range.max",
            "must be a number, got 'lots'",
        ),
        (set_in(["version"], "one"), "version", "must be a whole number, got 'one'"),
        (set_in(["schema", 0, "type"], "uuid"), "schema[0].type", "string or json, got 'uuid'"),
        (drop_key(["owner"]), "owner", "required"),
        (
            set_in(["rules", AMOUNT, "range", "column"], "amt"),
            f"rules[{AMOUNT}].range.column",
            "rule 'amount_positive' reads column 'amt', not in schema",
        ),
        (
            set_in(["rules", UNIQUE, "unique", "columns"], ["transaction_id", "batch"]),
            f"rules[{UNIQUE}].unique.columns[1]",
            "rule 'transaction_id_unique' reads column 'batch'",
        ),
        (
            set_in(["rules", CUSTOMER, "regex", "pattern"], r"^C(\d{5}$"),
            f"rules[{CUSTOMER}].regex.pattern",
            "rule 'customer_id_format': invalid regex",
        ),
        (
            set_in(["rules", AMOUNT, "name"], "transaction_id_unique"),
            f"rules[{AMOUNT}].name",
            "rule name 'transaction_id_unique' is used twice",
        ),
        (
            set_in(["rules", rule_index("merchant_named"), "action"], "fail"),
            f"rules[{rule_index('merchant_named')}]",
            "rule 'merchant_named': action fail needs severity error",
        ),
        (
            set_in(["rules", AMOUNT, "not_null"], {"column": "amount"}),
            f"rules[{AMOUNT}]",
            "needs exactly one of not_null, range,",
        ),
        (
            drop_key(["rules", AMOUNT, "range"]),
            f"rules[{AMOUNT}]",
            "found none",
        ),
        (
            set_in(["rules", AMOUNT, "range"], {"column": "amount"}),
            f"rules[{AMOUNT}].range",
            "needs min, max or both",
        ),
        (
            set_in(["rules", AMOUNT, "range", "column"], "currency"),
            f"rules[{AMOUNT}].range.column",
            "range needs an integer or double column",
        ),
        (
            set_in(["rules", CURRENCY, "allowed_values", "values"], ["MYR", 3]),
            f"rules[{CURRENCY}].allowed_values.values[1]",
            "3 is not a string value",
        ),
        (
            set_in(["rules", rule_index("daily_volume"), "volume", "max_zscore"], 3),
            f"rules[{rule_index('daily_volume')}].volume",
            "exactly one of max_change_pct or max_zscore",
        ),
        (
            set_in(["rules", rule_index("customer_exists"), "action"], "drop"),
            f"rules[{rule_index('customer_exists')}]",
            "cannot drop rows",
        ),
        (
            set_in(["rules", rule_index("daily_quality_score"), "action"], "drop"),
            f"rules[{rule_index('daily_quality_score')}]",
            "a quality_score rule judges a partition, not rows",
        ),
        (set_in(["dataset"], "cards"), "dataset", "must match the file name"),
    ],
)
def test_load_errors_name_file_key_and_reason(tmp_path, mutate, key, reason):
    document = copy.deepcopy(CARDS)
    mutate(document)
    path = tmp_path / "card_transactions.yaml"
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(ConfigError) as caught:
        load_contract(path)
    assert caught.value.file == str(path)
    assert caught.value.key == key
    assert reason in caught.value.reason
    assert str(caught.value).startswith(f"{path}: {key}: ")


def test_referenced_column_must_be_in_the_referenced_contract(tmp_path):
    cards = copy.deepcopy(CARDS)
    index = rule_index("customer_exists")
    cards["rules"][index]["referential_integrity"]["references"]["column"] = "cust_id"
    (tmp_path / "card_transactions.yaml").write_text(yaml.safe_dump(cards))
    (tmp_path / "customers.yaml").write_text((contract_file("customers")).read_text())
    with pytest.raises(ConfigError) as caught:
        load_contracts(tmp_path)
    assert caught.value.key == f"rules[{index}].referential_integrity.references.column"
    assert "'cust_id' is not in the schema of 'customers'" in caught.value.reason


def test_load_errors_for_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_contract(tmp_path / "nothing.yaml")
    (tmp_path / "broken.yaml").write_text("dataset: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_contract(tmp_path / "broken.yaml")
    with pytest.raises(ConfigError, match="contracts folder not found"):
        load_contracts(tmp_path / "absent")


# --- row rules (Spark) ----------------------------------------------------------------

ROW_RULES = [
    {"name": "amount_positive", "severity": "error", "action": "drop", "range": {"column": "amount", "min": 0.01}},
    {"name": "currency_known", "severity": "error", "action": "drop", "allowed_values": {"column": "currency", "values": ["MYR", "SGD"]}},
    {"name": "code_format", "severity": "warn", "regex": {"column": "code", "pattern": r"^C\d{5}$"}},
    {"name": "kind_present", "severity": "warn", "not_null": {"column": "kind"}},
    {"name": "big_only_myr", "severity": "error", "sql": {"expression": "amount < 1000 OR currency = 'MYR'"}},
]  # fmt: skip
ROWS = [
    # id, amount, currency, code, kind -> rules violated
    (("a", 10.0, "MYR", "C00001", "x"), []),
    (("b", -1.0, "MYR", "C00002", "x"), ["amount_positive"]),
    (("c", None, None, None, None), ["kind_present"]),  # nulls break only not_null rules
    ((None, 5.0, "XXX", "bad", "x"), ["schema.not_null.id", "currency_known", "code_format"]),
    (("e", 2000.0, "SGD", "C00005", "x"), ["big_only_myr"]),
    (("f", 2000.0, None, "C00006", "x"), []),  # the sql rule is null here, so it holds
    (("g", 0.0, "EUR", "C0007", "x"), ["amount_positive", "currency_known", "code_format"]),
]
SCHEMA = "id string, amount double, currency string, code string, kind string"


def test_row_violations_name_every_rule_a_row_breaks(spark):
    from pyspark.sql import functions as F

    from lake_assets.contracts.rules import VIOLATIONS, rejects, row_violations

    rules = contract(ROW_RULES)
    frame = spark.createDataFrame([values for values, _ in ROWS], SCHEMA)
    checked = frame.select("id", row_violations(rules, frame.columns).alias(VIOLATIONS)).withColumn(
        "rejected", rejects(VIOLATIONS, rules)
    )
    got = {row["id"]: (row[VIOLATIONS], row["rejected"]) for row in checked.collect()}
    dropping = {"schema.not_null.id", "amount_positive", "currency_known"}
    assert got == {
        values[0]: (expected, bool(dropping & set(expected))) for values, expected in ROWS
    }
    assert checked.schema[VIOLATIONS].dataType.simpleString() == "array<string>"
    assert checked.where(F.col(VIOLATIONS).isNull()).count() == 0


def test_violation_counts_are_exact_per_partition_and_rule(spark):
    from pyspark.sql import functions as F

    from lake_assets.contracts.rules import (
        VIOLATIONS,
        drop_reasons,
        row_violations,
        violation_counts,
    )

    rules = contract(ROW_RULES)
    frame = spark.createDataFrame([values for values, _ in ROWS], SCHEMA)
    # Rows a..c on one day, the rest on the next.
    day = F.when(F.col("id").isin("a", "b", "c"), F.lit(D1)).otherwise(F.lit(D2))
    checked = frame.withColumn("event_date", day).withColumn(
        VIOLATIONS, row_violations(rules, frame.columns)
    )
    assert violation_counts(checked, VIOLATIONS, "event_date") == {
        "2026-03-02": {"amount_positive": 1, "kind_present": 1},
        "2026-03-03": {
            "schema.not_null.id": 1,
            "currency_known": 2,
            "code_format": 2,
            "big_only_myr": 1,
            "amount_positive": 1,
        },
    }
    reasons = dict(checked.select("code", drop_reasons(VIOLATIONS, rules)).collect())
    assert reasons["C0007"] == "violates contract rules: amount_positive, currency_known"
    assert reasons["C00006"] is None


def test_row_violations_refuse_a_frame_missing_contract_columns(spark):
    from lake_assets.contracts.rules import row_violations

    with pytest.raises(ValueError, match="lacks: code, kind"):
        row_violations(contract(ROW_RULES), ["id", "amount", "currency"])


def test_action_helpers_partition_the_rules():
    from lake_assets.contracts.rules import drop_rules, fail_rules, warn_rules

    cards = load_contract(contract_file("card_transactions"))
    assert "currency_known" in drop_rules(cards)
    assert "schema.not_null.amount" in drop_rules(cards)
    assert {"transaction_id_unique", "daily_volume", "customer_exists"} <= fail_rules(cards)
    assert "merchant_country_iso" in warn_rules(cards)
    everything = drop_rules(cards) | fail_rules(cards) | warn_rules(cards)
    assert everything == {r.name for r in cards.all_rules}


@pytest.mark.parametrize(
    ("dataset", "key", "held"),
    [
        ("card_transactions", "transaction_id", True),
        ("customers", "customer_id", True),
        ("fx_rates", "base_currency", True),
        # An event is applied by (order_id, seq) and can be replayed; a contact never changes
        # money: one row is set aside (their contracts say why).
        ("order_events", "order_id", False),
        ("crm_contacts", "contact_id", False),
    ],
)
def test_the_shipped_contracts_hold_a_day_with_a_null_key_where_a_row_cannot_be_set_aside(
    dataset, key, held
):
    """Seed 004: "pipelines fail if required fields are null" (ADR-0187). Where a shipped
    contract declares the key's not_null rule blocking, the day is held as
    tests/test_backfill_and_contracts_e2e.py shows for a declared rule; elsewhere the
    non-nullable key quarantines the row."""
    from lake_assets.contracts.rules import drop_rules, fail_rules

    shipped = load_contract(contract_file(dataset))
    on_key = {r.name for r in shipped.rules_of("not_null") if r.check.column == key}
    assert bool(on_key & fail_rules(shipped)) is held
    assert f"schema.not_null.{key}" in drop_rules(shipped)


def test_unique_flags_every_copy_within_a_partition_only(spark):
    from lake_assets.contracts.rules import (
        VIOLATIONS,
        row_violations,
        unique_violation_counts,
        with_unique_violations,
    )

    rules = contract(
        [
            {"name": "id_unique", "severity": "error", "unique": {"columns": ["id"]}},
            {
                "name": "code_kind_unique",
                "severity": "warn",
                "unique": {"columns": ["code", "kind"]},
            },
        ]
    )
    rows = [
        ("t1", D1, "C1", "x"),
        ("t1", D1, "C1", "y"),  # t1 twice on D1
        ("t1", D2, "C2", "x"),  # and once on D2: not a duplicate there
        ("t2", D1, "C1", "x"),  # (C1, x) twice on D1
        (None, D1, "C3", "x"),
        (None, D1, "C3", None),  # null keys are never duplicates
    ]
    frame = spark.createDataFrame(rows, "id string, event_date date, code string, kind string")
    frame = frame.withColumn(VIOLATIONS, row_violations(rules, frame.columns))
    checked = with_unique_violations(frame, rules, "event_date")
    got = sorted(
        (r["id"] or "-", str(r["event_date"]), r["code"], r["kind"] or "-", tuple(r[VIOLATIONS]))
        for r in checked.collect()
    )
    assert got == [
        ("-", "2026-03-02", "C3", "-", ("schema.not_null.id",)),
        ("-", "2026-03-02", "C3", "x", ("schema.not_null.id",)),
        ("t1", "2026-03-02", "C1", "x", ("id_unique", "code_kind_unique")),
        ("t1", "2026-03-02", "C1", "y", ("id_unique",)),
        ("t1", "2026-03-03", "C2", "x", ()),
        ("t2", "2026-03-02", "C1", "x", ("code_kind_unique",)),
    ]
    # Counted without flagging (a derived write's audit), the same rows break the same rules,
    # in a Spark aggregate or on the driver; a clean or empty frame breaks none.
    for on_driver in (False, True):
        assert unique_violation_counts(frame, rules, "event_date", on_driver) == {
            "2026-03-02": {"id_unique": 2, "code_kind_unique": 2}
        }
        assert (
            unique_violation_counts(frame.where("kind = 'y'"), rules, "event_date", on_driver) == {}
        )
        assert unique_violation_counts(frame.where("false"), rules, "event_date", on_driver) == {}
        # One partition's rows, named by the caller: its partition column is not read.
        one_day = frame.where(f"event_date = DATE'{D1}'").drop("event_date")
        assert unique_violation_counts(one_day, rules, "event_date", on_driver, "d1") == {
            "d1": {"id_unique": 2, "code_kind_unique": 2}
        }


def test_unique_counts_on_the_driver_are_exact_when_key_hashes_collide(spark, monkeypatch):
    """The driver's hash screen only decides whether keys are counted: with every hash equal
    (each pair of keys colliding), distinct keys still break nothing and copies are counted."""
    from pyspark.sql import functions as F

    from lake_assets.contracts.rules import unique_violation_counts

    frame = spark.createDataFrame(
        [("t1", "C1"), ("t2", "C1"), ("t3", "C2"), ("t1", "C2")], "id string, code string"
    )
    rules = contract([{"name": "id_unique", "severity": "error", "unique": {"columns": ["id"]}}])
    assert unique_violation_counts(frame, rules, "event_date", True, "d1") == {
        "d1": {"id_unique": 2}
    }
    monkeypatch.setattr("lake_assets.contracts.rules.key_hash", lambda *columns: F.lit(7))
    assert unique_violation_counts(frame.where("id != 't1'"), rules, "event_date", True, "d1") == {}
    assert unique_violation_counts(frame, rules, "event_date", True, "d1") == {
        "d1": {"id_unique": 2}
    }


# --- referential integrity ------------------------------------------------------------

RI_RULE = {
    "name": "customer_exists",
    "severity": "error",
    "referential_integrity": {
        "column": "customer_id",
        "references": {"dataset": "customers", "column": "customer_id"},
        "grace_hours": 6,
    },
}


def test_referential_integrity_finds_a_customer_deleted_since_yesterday(spark):
    from pyspark.sql import functions as F

    from lake_assets.contracts.rules import (
        VIOLATIONS,
        row_violations,
        violation_counts,
        with_referential_violations,
    )

    rules = contract([RI_RULE])
    rule = rules.rule("customer_exists")
    customers = spark.createDataFrame(
        [
            ("C00001", D1),
            ("C00002", D1),
            ("C00001", D2),
            ("C00001", D2),  # a snapshot with a repeated row must not duplicate transactions
        ],
        "customer_id string, event_date date",
    )
    transactions = spark.createDataFrame(
        [
            ("t1", "C00001", D2),
            ("t2", "C00002", D2),  # C00002 was in yesterday's snapshot, deleted today
            ("t3", "C00002", D2),
            ("t4", "C00009", D2),  # never a customer
            ("t5", None, D2),  # no key: not an orphan
            ("t6", "C00002", D1),  # on D1 C00002 still existed
        ],
        "id string, customer_id string, event_date date",
    )
    frame = transactions.withColumn(VIOLATIONS, row_violations(rules, transactions.columns))
    checked = with_referential_violations(frame, rule, customers, "event_date")
    assert checked.count() == transactions.count()
    assert checked.columns == frame.columns
    orphans = {r["id"] for r in checked.where(F.array_contains(VIOLATIONS, rule.name)).collect()}
    assert orphans == {"t2", "t3", "t4"}
    assert violation_counts(checked, VIOLATIONS, "event_date") == {
        "2026-03-03": {"customer_exists": 3}
    }
    from lake_assets.ingestion.promotion_contract import missing_key_counts

    # C00002 (twice) was in yesterday's snapshot, C00009 never: each key counted once.
    assert missing_key_counts(checked, VIOLATIONS, rule, "event_date", customers) == {
        "2026-03-03": {"deleted_since_previous_snapshot": 1, "never_seen": 1}
    }


def test_an_unpublished_reference_partition_orphans_every_row(spark):
    from lake_assets.contracts.rules import (
        VIOLATIONS,
        violation_counts,
        with_referential_violations,
    )

    rules = contract([RI_RULE])
    customers = spark.createDataFrame([("C00001", D1)], "customer_id string, event_date date")
    frame = spark.createDataFrame(
        [("t1", "C00001", D2, []), ("t2", "C00001", D2, [])],
        f"id string, customer_id string, event_date date, {VIOLATIONS} array<string>",
    )
    checked = with_referential_violations(
        frame, rules.rule("customer_exists"), customers, "event_date"
    )
    assert violation_counts(checked, VIOLATIONS, "event_date") == {
        "2026-03-03": {"customer_exists": 2}
    }


def test_a_ranges_reference_is_one_row_per_key_and_span_and_finds_each_day_alone(spark):
    """A backfill of 70 days against the customers' daily snapshots: what is broadcast is a row
    per key and 63-day span, not a row per key and day; each day is still checked against its
    own snapshot, across a span's edge and a gap (ADR-0175)."""
    from datetime import timedelta

    from pyspark.sql import functions as F

    from lake_assets.contracts.rules import (
        SPAN_DAYS,
        VIOLATIONS,
        reference_days,
        with_referential_violations,
    )

    rule = contract([RI_RULE]).rule("customer_exists")
    days = [date(2026, 1, 1) + timedelta(days=n) for n in range(70)]
    gone = {days[20], days[64]}  # C2 missing from two snapshots, one past a span's edge
    snapshots = [("C1", d) for d in days] + [("C2", d) for d in days if d not in gone]
    customers = spark.createDataFrame(snapshots, "customer_id string, event_date date")
    spans = {(d - date(1970, 1, 1)).days // SPAN_DAYS for d in days}
    compressed = reference_days(customers, "customer_id", "event_date")
    assert compressed.count() == 2 * len(spans) < len(snapshots)
    cards = spark.createDataFrame(
        [(f"t{n}", c, d, []) for n, d in enumerate(days) for c in ("C1", "C2", "C3")],
        f"id string, customer_id string, event_date date, {VIOLATIONS} array<string>",
    )
    checked = with_referential_violations(cards, rule, customers, "event_date")
    orphans = checked.where(F.size(VIOLATIONS) > 0).select("customer_id", "event_date").collect()
    assert sorted((r[0], r[1]) for r in orphans) == sorted(
        [("C2", d) for d in gone] + [("C3", d) for d in days]
    )


def test_ri_phase_grace_until_the_window_closes():
    rule = contract([RI_RULE]).rule("customer_exists")
    closes = datetime(2026, 3, 4, 6, 0, tzinfo=UTC)  # end of 2026-03-03 plus 6 hours
    just_before = datetime(2026, 3, 4, 5, 59, 59, tzinfo=UTC)
    assert ri_phase(rule, D2, None, just_before) == "grace"
    assert ri_phase(rule, D2, None, datetime(2026, 3, 3, 12, tzinfo=UTC)) == "grace"
    assert ri_phase(rule, D2, None, closes) == "enforced"
    published = datetime(2026, 3, 4, 2, 0, tzinfo=UTC)
    assert ri_phase(rule, D2, published, just_before) == "enforced"


def test_blocking_rules_waive_referential_rules_in_grace():
    rules = contract(
        [
            RI_RULE,
            {"name": "id_unique", "severity": "error", "unique": {"columns": ["id"]}},
            {"name": "amount_positive", "severity": "error", "action": "drop", "range": {"column": "amount", "min": 0}},
        ]
    )  # fmt: skip
    counts = {"customer_exists": 4, "id_unique": 2, "amount_positive": 9}
    assert blocking_rules(rules, counts) == ["customer_exists", "id_unique"]
    assert blocking_rules(rules, counts, in_grace=["customer_exists"]) == ["id_unique"]
    assert blocking_rules(rules, {"amount_positive": 9}) == []


# --- volume ---------------------------------------------------------------------------


def volume_rule(**threshold):
    spec = {"trailing_partitions": 3, **threshold}
    return contract([{"name": "volume", "severity": "error", "volume": spec}]).rule("volume")


def test_volume_observes_until_bootstrapped_then_enforces_change_pct():
    rule = volume_rule(max_change_pct=50)
    first = volume_verdict(rule, [], 500, bootstrap_partitions=3)
    assert (first.phase, first.passed) == ("observing", True)
    assert first.baseline == {"partitions": 0, "mean": None, "std": None}
    early = volume_verdict(rule, [100, 110], 300, bootstrap_partitions=3)
    assert (early.phase, early.passed) == ("observing", True)
    assert early.baseline == {"partitions": 2, "mean": 105.0, "std": 5.0}
    assert "observing 2/3 partitions; would fail" in early.detail
    steady = volume_verdict(rule, [100, 110, 90], 140, bootstrap_partitions=3)
    assert (steady.phase, steady.passed) == ("enforcing", True)
    assert steady.baseline["mean"] == 100.0
    # Only the trailing three count: the old 1000 is outside the window.
    surge = volume_verdict(rule, [1000, 100, 110, 90], 151, bootstrap_partitions=3)
    assert (surge.phase, surge.passed) == ("enforcing", False)
    assert surge.baseline == {"partitions": 3, "mean": 100.0, "std": pytest.approx(8.165, abs=1e-3)}
    assert "+51.0%" in surge.detail
    assert volume_verdict(rule, [100, 100, 100], 49, bootstrap_partitions=3).passed is False


def test_volume_zscore_with_a_spread_and_with_a_steady_history():
    rule = volume_rule(max_zscore=3)
    spread = [70, 130, 100]  # mean 100, std 24.49: the limit is 100 ± 73.5
    assert volume_verdict(rule, spread, 173, bootstrap_partitions=3).passed is True
    assert volume_verdict(rule, spread, 174, bootstrap_partitions=3).passed is False
    assert volume_verdict(rule, spread, 26, bootstrap_partitions=3).passed is False
    # A steady history has std 0; the scale falls back to counting noise, √100 = 10.
    steady = [100, 100, 100]
    assert volume_verdict(rule, steady, 130, bootstrap_partitions=3).passed is True
    verdict = volume_verdict(rule, steady, 131, bootstrap_partitions=3)
    assert verdict.passed is False and "z=+3.10" in verdict.detail
    assert volume_verdict(rule, [0, 0, 0], 0, bootstrap_partitions=3).passed is True
    assert volume_verdict(rule, [0, 0, 0], 1, bootstrap_partitions=3).passed is False


# --- freshness ------------------------------------------------------------------------


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def test_partition_deadline_is_end_of_day_plus_hours():
    assert partition_deadline(D1, 6) == at(3, 6)
    assert partition_deadline(D1, 0) == at(3, 0)


@pytest.mark.parametrize(
    ("published_at", "now", "status", "passed"),
    [
        (at(3, 5), at(3, 9), "on_time", True),
        (at(3, 6), at(3, 9), "on_time", True),
        (at(3, 7, 30), at(3, 9), "late", False),
        (None, at(3, 5), "pending", True),
        (None, at(3, 6, 1), "overdue", False),
    ],
)
def test_deadline_verdicts(published_at, now, status, passed):
    verdict = deadline_verdict(D1, published_at, now, deadline_hours=6)
    assert (verdict.status, verdict.passed, verdict.due) == (status, passed, at(3, 6))


def test_staleness_verdicts():
    assert staleness_verdict(at(3, 6), at(4, 11), 30).status == "fresh"
    stale = staleness_verdict(at(3, 6), at(4, 13), 30)
    assert (stale.status, stale.passed, stale.detail) == (
        "stale",
        False,
        "last published 31.0 h ago",
    )
    assert staleness_verdict(None, at(4, 13), 30).passed is False


def test_violation_samples_show_source_fields_named_like_the_samplers_own_columns(spark):
    """A source's `_rule` and `_n`, read by its rules, were the sampler's working columns (the
    violated rule, its place in the sample): Spark found two columns of one name, so profiling
    refused such payloads (ADR-0186). Its columns are now named apart: the samples show them."""
    from pyspark.sql import functions as F

    from lake_assets.contracts.rules import VIOLATIONS, row_violations, violation_samples

    rules = Contract.model_validate(
        {
            "dataset": "ledger",
            "owner": "tests",
            "version": 1,
            "bootstrap_partitions": 1,
            "schema": [{"name": "_rule", "type": "string"}, {"name": "_n", "type": "integer"}],
            "rules": [
                {
                    "name": "rule_known",
                    "severity": "warn",
                    "allowed_values": {"column": "_rule", "values": ["R1"]},
                },
                {"name": "n_positive", "severity": "warn", "range": {"column": "_n", "min": 1}},
            ],
        }
    )
    frame = spark.createDataFrame(
        [("R1", 1, "a.json"), ("R9", 0, "b.json"), ("R1", -2, "c.json")],
        "_rule string, _n long, _source_file string",
    ).withColumn("event_date", F.lit(D1))
    checked = frame.withColumn(VIOLATIONS, row_violations(rules, ["_rule", "_n"]))
    assert violation_samples(checked, VIOLATIONS, rules, "event_date") == {
        "2026-03-02": {
            "n_positive": [
                {"_n": "-2", "_source_file": "c.json"},
                {"_n": "0", "_source_file": "b.json"},
            ],
            "rule_known": [{"_rule": "R9", "_source_file": "b.json"}],
        }
    }
