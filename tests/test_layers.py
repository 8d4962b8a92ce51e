"""The derived-layer core (lake_assets/layers): the gate between layers, and a step that
publishes, is held by a failed input, or is blocked by its output contract, always leaving the
previously published version readable row for row."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from lake_harness import Lake
from pyspark.sql import functions as F

from lake_assets.contracts.model import Contract, Rule
from lake_assets.layers.gate import InputState, gate
from lake_assets.layers.job import TALLIED_TOGETHER, _slot_counts, write_audited, write_derived
from lake_assets.layers.model import DerivedTable, LayerInput
from lake_assets.layers.step import run_step
from lake_assets.lineage.emitter import recorder_for
from lake_assets.runtime import jobs
from lake_assets.tables.frames import dealt, read_locations, read_resolved, spark_hash_int
from lake_assets.tables.reader import read_published

DAY = "2026-03-02"
CARDS = LayerInput("card_transactions", ("curated", "card_transactions"))
CUSTOMERS = LayerInput("customers", ("curated", "customers"), required=False)


def counts_job(spark, plan: dict) -> dict:
    """A toy derived job: rows per customer of its first input."""
    cards = read_resolved(spark, next(iter(plan["inputs"].values())))
    rows = cards.groupBy("customer_id").agg(F.count(F.lit(1)).alias("transactions"))
    return write_derived(spark, rows, plan)


def table(cap: int) -> DerivedTable:
    contract = Contract.model_validate(
        {
            "dataset": "silver_card_counts",
            "owner": "data-platform",
            "version": 1,
            "schema": [
                {"name": "customer_id", "type": "string", "nullable": False},
                {"name": "transactions", "type": "integer"},
            ],
            "rules": [
                {
                    "name": "one_row_per_customer",
                    "severity": "error",
                    "unique": {"columns": ["customer_id"]},
                },
                {
                    "name": "plausible",
                    "severity": "error",
                    "range": {"column": "transactions", "max": cap},
                },
            ],
        }
    )
    return DerivedTable(
        dataset="silver_card_counts",
        asset=("silver", "card_counts"),
        job="card_counts",
        inputs=(CARDS, CUSTOMERS),
        columns={"customer_id": "string", "transactions": "integer"},
        description="toy",
        column_lineage={
            "transactions": [
                {
                    "input": "card_transactions.transaction_id",
                    "transformation": "AGGREGATION",
                    "masking": False,
                }
            ]
        },
        contract=contract,
    )


def state(dataset, day=DAY, published=True, blocked=(), failed=False) -> InputState:
    return InputState(dataset, day, published, tuple(blocked), failed)


def test_the_gate_holds_on_a_blocked_failed_or_missing_input_and_leaves_out_an_optional_one():
    lookback = DerivedTable(
        **{**table(9).__dict__, "inputs": (LayerInput("fx", ("curated", "fx"), False, 2),)}
    )
    assert gate(table(9), DAY, [state("card_transactions"), state("customers")]).builds
    verdict = gate(table(9), DAY, [state("card_transactions"), state("customers", published=False)])
    assert verdict.builds and verdict.left_out == ("customers",)
    held = gate(table(9), DAY, [state("card_transactions", blocked=["contract_amount_positive"])])
    assert held.held_by[0].startswith("card_transactions[2026-03-02] was held back by contract_")
    assert (
        "last run failed"
        in gate(table(9), DAY, [state("card_transactions", failed=True)]).held_by[0]
    )
    assert gate(table(9), DAY, []).held_by == (
        "card_transactions[2026-03-02] is not published yet",
    )
    # A blocked day inside the lookback window holds too; a missing one there does not.
    friday = state("fx", "2026-02-28", blocked=["contract_rate_positive"])
    assert not gate(lookback, DAY, [friday, state("fx")]).builds
    assert gate(lookback, DAY, [state("fx")]).builds


@pytest.fixture
def lake(tmp_path, monkeypatch):
    monkeypatch.setitem(jobs.JOBS, "card_counts", "test_layers:counts_job")
    lake = Lake(tmp_path / "lake")
    lake.deliver_cards(DAY, [1, 2, 3, 8])  # customers C001, C002, C003, C001
    lake.promote("card_transactions", DAY)
    return lake


def step(lake, derived, run_id, states):
    recorder = recorder_for(lake.lineage, lake.settings.state_dir, lake.storage.uri(""))
    run_job = lake.spark_runner.bound(None)
    return run_step(
        derived, DAY, run_id, states, lake.catalog, lake.storage, recorder, run_job, lake.events
    )


def test_the_gate_holds_on_the_base_a_day_is_built_on_and_builds_without_one_it_lacks():
    """A state built on its day p-4 (ADR-0202): the base is gated as any input, its own day
    is not asked of it, and where it has none the build reads an older base."""
    state = LayerInput("state", ("silver", "state"), required=False, base_days=4)
    derived = DerivedTable(
        dataset="state", asset=("silver", "state"), job="j", inputs=(CARDS, state),
        columns={}, description="",
    )  # fmt: skip
    assert state.partitions(DAY) == ["2026-02-26"]
    cards = InputState("card_transactions", DAY, True)
    held = gate(derived, DAY, [cards, InputState("state", "2026-02-26", True, ("plausible",))])
    assert held.held_by == (
        "state[2026-02-26] was held back by plausible; state[2026-03-02] keeps its published "
        "version",
    )
    failed = gate(derived, DAY, [cards, InputState("state", "2026-02-26", True, failed=True)])
    assert "state[2026-02-26]: its last run failed" in failed.held_by[0]
    state_of = gate(derived, DAY, [cards, InputState("state", "2026-02-26", True)])
    assert state_of.builds and state_of.left_out == ()
    first_days = gate(derived, DAY, [cards])
    assert first_days.builds and first_days.left_out == ("state",)
    with pytest.raises(ValueError, match="read as a base or over a lookback"):
        LayerInput("state", ("silver", "state"), base_days=4, lookback_days=1)


def test_in_a_range_a_day_is_gated_on_the_base_its_own_step_built_before_it(tmp_path):
    """A range's materializations reach the event log when its step ends: gated from the
    event log, a day held earlier in the same range was read as it stood before the run, so
    the day built on it was built (ADR-0202). And only a build that ran says when it read its
    inputs: a held one, timed so, let the sensor settle the day it held on a stale base."""
    from dagster import DagsterInstance

    from lake_assets.events.attempts import BUILD_STARTED_AT
    from lake_assets.layers.assets import input_states, partition_metadata
    from lake_assets.layers.step import StepOutcome
    from resources.catalog import SQLiteCatalog

    state = LayerInput("state", ("silver", "state"), required=False, base_days=4)
    derived = DerivedTable(
        dataset="state", asset=("silver", "state"), job="j", inputs=(state,), columns={},
        description="",
    )  # fmt: skip
    held = StepOutcome("2026-02-26", held_by=("crm_contacts[2026-02-26] was held back by x",))
    states = input_states(
        DagsterInstance.ephemeral(), SQLiteCatalog(tmp_path / "c.db"), derived, DAY,
        {"2026-02-26": held},
    )  # fmt: skip
    assert [(s.address, s.blocked_by) for s in states] == [("state[2026-02-26]", held.held_by)]
    assert not gate(derived, DAY, states).builds
    assert BUILD_STARTED_AT not in partition_metadata(held, "run", None)


def test_a_derived_tables_contract_may_not_score_quarantined_rows():
    """A build quarantines nothing, so a quality_score rule there could never fail."""
    toy = table(cap=10)
    mostly_good = {"name": "mostly_good", "severity": "error", "quality_score": {"min_share": 0.9}}
    scored = toy.contract.model_copy(
        update={"rules": (*toy.contract.rules, Rule.model_validate(mostly_good))}
    )
    assert toy.with_contract({}).contract is toy.contract
    with pytest.raises(ValueError, match="rule 'mostly_good' is a quality_score rule"):
        toy.with_contract({"silver_card_counts": scored})


@pytest.mark.parametrize("on_driver_rows", [2_000_000, 0], ids=["driver", "spark"])
def test_an_audited_write_counts_in_its_own_pass_and_reports_only_what_it_wrote(
    spark, tmp_path, monkeypatch, on_driver_rows
):
    """layers/job.write_audited (ADR-0119): per partition, rows, files and each rule's violating
    rows (row rules counted during the write, the unique rule over the written keys, on the
    driver or in Spark: ADR-0121); a write of no rows reports no partition (sliced) or its one
    schema-only file (one partition)."""
    monkeypatch.setattr("lake_assets.layers.job.UNIQUE_ON_DRIVER_ROWS", on_driver_rows)
    contract = table(cap=2).contract.model_dump(by_alias=True, mode="json")
    plan = {"columns": dict(table(2).columns), "contract": contract, "partition": DAY}
    schema = "customer_id string, transactions bigint, day string"
    rows = [("C1", 1, "2026-03-01"), ("C1", 3, "2026-03-01"), ("C2", 1, DAY), (None, 1, DAY)]
    frame = spark.createDataFrame(rows, schema).select(
        "customer_id", "transactions", F.to_date("day").alias("event_date")
    )
    out = {**plan, "output_uri": str(tmp_path / "sliced")}
    written = write_audited(spark, frame, out, ["2026-03-01", DAY, "2026-03-03"])
    assert {d: (w["rows"], len(w["files"]), w["violations"]) for d, w in written.items()} == {
        "2026-03-01": (2, 1, {"plausible": 1, "one_row_per_customer": 2}),
        DAY: (2, 1, {"schema.not_null.customer_id": 1}),
    }
    empty = frame.where("false")
    assert write_audited(spark, empty, {**out, "output_uri": str(tmp_path / "none")}, [DAY]) == {}
    alone = write_derived(
        spark, empty.drop("event_date"), {**out, "output_uri": str(tmp_path / "one")}
    )
    assert (alone["rows"], len(alone["files"]), alone["violations"]) == (0, 1, {})


CUSTOMER_KNOWN = {
    "name": "customer_known",
    "severity": "error",
    "referential_integrity": {
        "column": "customer_id",
        "references": {"dataset": "silver_known", "column": "customer_id"},
    },
}


def with_rule(derived: DerivedTable, rule: dict, **changes) -> DerivedTable:
    """`derived` with `rule` added to its contract, and `changes` to its fields."""
    contract = derived.contract.model_copy(
        update={"rules": (*derived.contract.rules, Rule.model_validate(rule))}
    )
    return DerivedTable(**{**derived.__dict__, "contract": contract, **changes})


def test_an_audited_write_counts_a_referential_rules_orphans_in_the_same_pass(spark, tmp_path):
    """A referential rule of a derived table's contract (ADR-0167): the reference's keys, as the
    plan resolved them, joined in before the write; per partition the orphans counted with the
    other rules, a null key none, a key the reference holds twice no extra row; still one file
    per slice, and its first orphan keys. A plan that does not resolve the reference is refused
    naming the rule."""
    folder = tmp_path / "known" / f"event_date={DAY}"
    spark.createDataFrame([("C1",), ("C1",), ("C3",)], "customer_id string").coalesce(
        1
    ).write.parquet(str(folder))
    uris = [str(p) for p in folder.glob("*.parquet")]
    known = {
        "dataset": "silver_known",
        "columns": {"customer_id": "string"},
        "groups": [{"columns": {"customer_id": "string"}, "uris": uris}],
    }
    contract = with_rule(table(9), CUSTOMER_KNOWN).contract.model_dump(by_alias=True, mode="json")
    rows = [("C1", 1, "2026-03-01"), ("C2", 1, "2026-03-01"), ("C2", 2, DAY), (None, 1, DAY)]
    rows.append(("C3", 1, DAY))
    frame = spark.createDataFrame(rows, "customer_id string, transactions bigint, day string")
    frame = frame.select("customer_id", "transactions", F.to_date("day").alias("event_date"))
    plan = {
        "columns": dict(table(9).columns),
        "contract": contract,
        "partition": DAY,
        "inputs": {"silver_known": known},
        "output_uri": str(tmp_path / "sliced"),
    }
    written = write_audited(spark, frame.repartition(1), plan, ["2026-03-01", DAY])
    assert {d: (w["rows"], len(w["files"]), w["violations"]) for d, w in written.items()} == {
        "2026-03-01": (2, 1, {"customer_known": 1}),
        DAY: (3, 1, {"customer_known": 1, "schema.not_null.customer_id": 1}),
    }
    # The orphan keys, read back only because there are some: what to look up in the reference.
    assert {w["orphan_keys"]["customer_known"] == ["C2"] for w in written.values()} == {True}
    unresolved = {**plan, "inputs": {}, "output_uri": str(tmp_path / "unresolved")}
    with pytest.raises(ValueError, match="rule 'customer_known' checks customer_id against "):
        write_audited(spark, frame, unresolved, [DAY])


def test_a_held_referential_rule_names_its_first_orphan_keys_and_says_when_there_are_more():
    """The step names what the job sampled: up to five keys, and "..." when it found a sixth."""
    from lake_assets.contracts.gate import PartitionVerdict, RuleOutcome
    from lake_assets.layers.step import _name_orphans

    contract = with_rule(table(9), CUSTOMER_KNOWN).contract
    for sampled, shown in (
        (["C2"], "C2"),
        ([f"C{n}" for n in range(6)], "C0, C1, C2, C3, C4, ..."),
    ):
        verdict = PartitionVerdict(DAY, {"customer_known": RuleOutcome(violations=9, blocks=True)})
        slices = [{"orphan_keys": {"customer_known": sampled}}, {}]  # a slice without orphans
        _name_orphans(verdict, slices, contract)
        assert verdict.rules["customer_known"].detail == (
            f"9 violating rows, customer_id not in silver_known: {shown}"
        )


def test_a_derived_tables_reference_becomes_a_required_input_of_the_same_day():
    """with_contract: the dataset a referential rule checks against is read for the day built,
    and required, so the gate holds the build until it is published and passed its checks;
    a reference the table reads as optional or over several days is refused."""
    ruled = with_rule(table(9), CUSTOMER_KNOWN)
    added = ruled.with_contract({}, lambda dataset: ("silver", dataset.removeprefix("silver_")))
    assert added.inputs == (CARDS, CUSTOMERS, LayerInput("silver_known", ("silver", "known")))
    assert gate(added, DAY, [state("card_transactions")]).held_by == (
        "silver_known[2026-03-02] is not published yet",
    )
    optional = LayerInput("silver_known", ("silver", "known"), required=False)
    over_days = LayerInput("silver_known", ("silver", "known"), lookback_days=2)
    for declared in (optional, over_days):
        with pytest.raises(ValueError, match="an input the table reads as optional or over"):
            with_rule(table(9), CUSTOMER_KNOWN, inputs=(CARDS, declared)).with_contract({})
    with pytest.raises(ValueError, match="checks against silver_known, whose asset nobody named"):
        ruled.with_contract({})


def test_per_partition_tallies_are_exact_over_many_partitions_and_tasks(spark, tmp_path):
    """A sliced write's counts per partition come from histograms of codes, a partition's slot
    and a bit per condition (ADR-0135, ADR-0152): exact with 90 partitions, each spread over 6
    tasks, and more conditions than one histogram codes, against Spark's own group-by; a
    histogram that came back with a merged bin is refused, not read."""
    days = [str(date(2026, 1, 1) + timedelta(days=n)) for n in range(90)]
    frame = (
        spark.range(9_000)
        .select(
            F.col("id").cast("string").alias("customer_id"),
            (F.col("id") % 7).alias("transactions"),
            F.to_date(
                F.element_at(F.array(*map(F.lit, days)), (F.col("id") % 90 + 1).cast("int"))
            ).alias("event_date"),
        )
        .where(~((F.col("id") % 90 == 5) & (F.col("id") > 4_000)))  # one day far smaller
        .repartition(6)
    )
    plan = {"columns": dict(table(2).columns), "contract": None, "partition": DAY}
    out = {**plan, "output_uri": str(tmp_path / "many")}
    counted = {f"is_{n}": F.col("transactions") == n for n in range(7)}
    counted["at_least_5"] = F.col("transactions") >= 5  # with "rows": 9, over two histograms
    assert len(counted) + 1 > TALLIED_TOGETHER
    written = write_audited(spark, frame, out, days, counted)
    grouped = frame.groupBy("event_date").agg(
        F.count("*").alias("rows"),
        *[F.count(F.when(c, 1)).alias(name) for name, c in counted.items()],
    )
    expected = {str(r["event_date"]): r.asDict() for r in grouped.collect()}
    for counts in expected.values():
        del counts["event_date"]
    assert {d: {k: w[k] for k in ("rows", *counted)} for d, w in written.items()} == expected
    assert len(written) == 90 and written[days[5]]["rows"] == 45
    with pytest.raises(RuntimeError, match="approximated"):
        _slot_counts(['[{"x":1,"y":3.0},{"x":1.5,"y":2.0}]'], days[:2], 1)


def test_dealt_values_each_fill_one_task_and_share_the_tasks_evenly(spark):
    """tables.frames.dealt (ADR-0152): each value's rows in one task, the values dealt in turn
    over the tasks asked for (where Spark's own hash of 8 dates into 2 partitions put 6 in one),
    rows of a value not named in one task of their own kind; the integer keys are placed by
    Spark's hash as `spark_hash_int` computes it."""
    values = [int(v) for v in (0, 1, 7, 42, -1, -7, 2**31 - 1, -(2**31), 123_456_789)]
    hashed = spark.range(1).select(*[F.hash(F.lit(v).cast("int")) for v in values]).first()
    assert list(hashed) == [spark_hash_int(v) for v in values]
    days = [str(date(2026, 3, 1) + timedelta(days=n)) for n in range(8)]
    frame = spark.range(8_000).select(
        F.date_add(F.lit(date(2026, 3, 1)), (F.col("id") % 9).cast("int")).alias("day")
    )  # the ninth day is not named
    placed = (
        dealt(frame, "day", days, 2)
        .groupBy(F.spark_partition_id().alias("task"), "day")
        .count()
        .collect()
    )
    tasks = {}
    for row in placed:
        tasks.setdefault(str(row["day"]), set()).add(row["task"])
    assert all(len(t) == 1 for t in tasks.values())  # a value's rows in one task
    named = [tasks[d].pop() for d in days]
    assert sorted(named.count(t) for t in set(named)) == [4, 4]
    assert dealt(frame, "day", days, 16).rdd.getNumPartitions() == len(days)


def test_published_files_read_with_the_date_of_their_folder_whatever_their_layout(spark, tmp_path):
    """tables.frames.read_locations: files of a run's folders and of a compaction's, read in one
    frame, each row dated by its file's event_date= folder; a file outside one is refused."""
    rows = {
        "curated/t/run=r1/_zone=published/event_date=2026-03-01": ["a"],
        "curated/t/run=r2/_zone=published/event_date=2026-03-02": ["b", "c"],
        "curated/t/compaction=c1/event_date=2026-03-03": ["d"],
    }
    uris = []
    for folder, ids in rows.items():
        spark.createDataFrame([(i,) for i in ids], "id string").write.parquet(
            str(tmp_path / folder)
        )
        uris += [str(f) for f in (tmp_path / folder).glob("*.parquet")]
    read = read_locations(spark, uris, {"id": "string"})
    assert read.columns == ["id", "event_date"]
    assert sorted((r["id"], str(r["event_date"])) for r in read.collect()) == [
        ("a", "2026-03-01"),
        ("b", "2026-03-02"),
        ("c", "2026-03-02"),
        ("d", "2026-03-03"),
    ]
    with pytest.raises(ValueError, match="levels are run, _zone"):
        read_locations(spark, uris[:1], {"id": "string", "run": "string"})
    stray = tmp_path / "curated/t/loose"
    spark.createDataFrame([("e",)], "id string").write.parquet(str(stray))
    with pytest.raises(ValueError, match="loose/part-.*levels are none"):
        read_locations(spark, [str(f) for f in stray.glob("*.parquet")], {"id": "string"})


def test_a_step_publishes_and_a_held_or_blocked_one_leaves_the_published_version(lake, spark):
    good = [state("card_transactions"), state("customers", published=False)]
    first = step(lake, table(9), "run-1", good)
    assert first.published and first.rows_out == 3 and first.rows_in["card_transactions"] == 4
    assert first.left_out == ("customers",)
    before = sorted(
        map(
            tuple, read_published(spark, lake.catalog, lake.storage, "silver_card_counts").collect()
        )
    )
    assert [r[:2] for r in before] == [("C001", 2), ("C002", 1), ("C003", 1)]
    # Its data-ready event is staged for the outbox, identified by the input versions.
    assert any("silver_card_counts" in body for _, body in lake.events.outbox())

    held = step(lake, table(9), "run-2", [state("card_transactions", blocked=["contract_x"])])
    assert held.published is None and "held back by contract_x" in held.held_by[0]
    blocked = step(lake, table(1), "run-3", good)  # C001 has 2 > cap 1: the contract blocks
    assert blocked.held_by == ("plausible",) and blocked.verdict.rules["plausible"].violations == 1
    assert not list(lake.storage.list("curated/silver_card_counts/run=run-3/"))
    after = sorted(
        map(
            tuple, read_published(spark, lake.catalog, lake.storage, "silver_card_counts").collect()
        )
    )
    assert after == before
    assert lake.catalog.current("silver_card_counts", DAY).run_id == "run-1"


def test_as_assets_a_blocked_partition_holds_the_layer_built_on_it(lake):
    """Through Dagster: the gate reads each input's last materialization from the event log."""
    from dagster import AssetKey, materialize

    from lake_assets.layers.assets import build_layer_asset
    from partitions import daily_partitions

    days = daily_partitions(lake.settings.partitions_start)
    counts = LayerInput("silver_card_counts", ("silver", "card_counts"))
    on_top = DerivedTable(
        **{**table(9).__dict__, "dataset": "gold_counts", "asset": ("gold", "counts")},
    )
    on_top = DerivedTable(**{**on_top.__dict__, "inputs": (counts,), "contract": None})
    run = lambda t: materialize(  # noqa: E731
        [build_layer_asset(t, days)],
        partition_key=DAY,
        resources=lake.resources,
        instance=lake.instance,
        raise_on_error=False,
    )
    # Blocked by its contract: a materialization naming the rule, and the blocking check fails
    # the step, as a curated partition's does.
    assert not run(table(1)).success
    silver = lake.instance.fetch_materializations(AssetKey(["silver", "card_counts"]), limit=1)
    assert silver.records[0].asset_materialization.metadata["blocked_by"].value == ["plausible"]
    held = run(on_top)
    assert not held.success
    gate_check = held.get_asset_check_evaluations()[0]
    assert not gate_check.passed and "held back by plausible" in gate_check.description
    assert lake.catalog.current("gold_counts", DAY) is None
    assert run(table(9)).success and run(on_top).success  # repaired: both publish
    assert lake.catalog.current("gold_counts", DAY).row_count == 3


FORGOTTEN: set[str] = set()  # customers the toy reference leaves out of its next build


def known_job(spark, plan: dict) -> dict:
    """A toy reference: the customers of the day's cards, but for `plan["forgotten"]`."""
    cards = read_resolved(spark, plan["inputs"]["card_transactions"])
    known = cards.select("customer_id").distinct()
    return write_derived(spark, known.where(~F.col("customer_id").isin(plan["forgotten"])), plan)


KNOWN = DerivedTable(
    dataset="silver_known",
    asset=("silver", "known"),
    job="known_customers",
    inputs=(CARDS,),
    columns={"customer_id": "string"},
    description="toy reference",
    plan_extra=lambda _: {"forgotten": sorted(FORGOTTEN)},
)


def test_as_assets_an_orphan_of_a_referential_rule_holds_the_day_and_keeps_its_version(
    lake, spark, monkeypatch
):
    """Seed 000's failure mode one layer up (ADR-0167): the reference drops a customer the
    table's rows still name; each passes its own checks, and the rule at the boundary holds
    the table's day, naming the rule and the orphans, with the version built before readable
    row for row. The reference is an input (with_contract), so one run builds it first."""
    from dagster import AssetKey, materialize

    from lake_assets.layers.assets import build_layer_asset
    from partitions import daily_partitions

    monkeypatch.setitem(jobs.JOBS, "known_customers", "test_layers:known_job")
    monkeypatch.setattr("test_layers.FORGOTTEN", set())
    days = daily_partitions(lake.settings.partitions_start)
    counts = with_rule(table(9), CUSTOMER_KNOWN, inputs=(CARDS,)).with_contract(
        {}, lambda dataset: KNOWN.asset
    )
    counts_asset = build_layer_asset(counts, days)
    assert AssetKey(["silver", "known"]) in counts_asset.asset_deps[counts_asset.key]

    def run():
        assets = [build_layer_asset(KNOWN, days), counts_asset]
        return materialize(
            assets,
            partition_key=DAY,
            resources=lake.resources,
            instance=lake.instance,
            raise_on_error=False,
        )

    assert run().success
    before = sorted(map(tuple, lake.rows(spark, "silver_card_counts").collect()))
    FORGOTTEN.add("C002")
    held = run()
    assert not held.success
    assert lake.catalog.current("silver_known", DAY).row_count == 2  # the reference published
    check = next(
        c for c in held.get_asset_check_evaluations() if c.check_name == "contract_customer_known"
    )
    assert not check.passed
    assert "rule 'customer_known' (referential_integrity on column customer_id -> " in (
        check.description
    )
    assert (
        "1 violating rows, customer_id not in silver_known: C002; the partition is not published"
        in check.description
    )
    counts_key = AssetKey(["silver", "card_counts"])
    last = lake.instance.fetch_materializations(counts_key, limit=1).records[0]
    assert last.asset_materialization.metadata["blocked_by"].value == ["customer_known"]
    assert sorted(map(tuple, lake.rows(spark, "silver_card_counts").collect())) == before
    FORGOTTEN.clear()
    assert run().success  # the reference knows C002 again: the day builds


def test_as_assets_an_input_whose_last_run_failed_holds_the_layer_and_keeps_its_version(lake):
    """Through Dagster: the input published once, then its next run failed (the failure is in
    the event log, after the materialization): the layer on top is held naming it, and the
    input's published version stays the one read."""
    from dagster import materialize

    from lake_assets.layers.assets import build_layer_asset
    from partitions import daily_partitions

    class BrokenRunner:
        def bound(self, context):
            def run_job(job, plan):
                raise RuntimeError("the executor was lost")

            return run_job

    days = daily_partitions(lake.settings.partitions_start)
    counts = LayerInput("silver_card_counts", ("silver", "card_counts"))
    on_top = DerivedTable(
        **{**table(9).__dict__, "dataset": "gold_counts", "asset": ("gold", "counts")},
    )
    on_top = DerivedTable(**{**on_top.__dict__, "inputs": (counts,), "contract": None})

    def run(t, **resources):
        return materialize(
            [build_layer_asset(t, days)],
            partition_key=DAY,
            resources={**lake.resources, **resources},
            instance=lake.instance,
            raise_on_error=False,
        )

    assert run(table(9)).success
    published = lake.catalog.current("silver_card_counts", DAY)
    assert not run(table(9), spark_runner=BrokenRunner()).success
    held = run(on_top)
    assert not held.success
    gate_check = held.get_asset_check_evaluations()[0]
    assert not gate_check.passed
    assert "silver_card_counts[2026-03-02]: its last run failed" in gate_check.description
    assert lake.catalog.current("gold_counts", DAY) is None
    assert lake.catalog.current("silver_card_counts", DAY) == published
    assert run(table(9)).success and run(on_top).success  # rerun: both publish
    assert lake.catalog.current("gold_counts", DAY).row_count == 3


def test_a_range_failing_on_a_later_day_records_the_days_it_published_so_nothing_holds_them(
    lake,
):
    """A single-run range publishes its days one by one. When a later day failed (a gap in the
    rates, a lost executor), the days before it were published and announced but had no
    materialization: the gate read the failed run as theirs and held the table built on them,
    and their rebuild (the same inputs, so no new event) never released it."""
    from dagster import AssetKey, materialize

    from lake_assets.events.attempts import last_attempt
    from lake_assets.layers.assets import build_layer_asset
    from lake_assets.runtime.run_tags import range_tags
    from partitions import daily_partitions

    later = "2026-03-03"
    lake.deliver_cards(later, [1, 2])
    lake.promote("card_transactions", later)

    class FailsOnTheLaterDay:
        def bound(self, context):
            run_job = lake.spark_runner.bound(context)

            def on_day(job, plan):
                if plan["partition"] == later:
                    raise RuntimeError("no rate within the gap")
                return run_job(job, plan)

            return on_day

    days = daily_partitions(lake.settings.partitions_start)
    counts = LayerInput("silver_card_counts", ("silver", "card_counts"))
    on_top = DerivedTable(
        **{**table(9).__dict__, "dataset": "gold_counts", "asset": ("gold", "counts")},
    )
    on_top = DerivedTable(**{**on_top.__dict__, "inputs": (counts,), "contract": None})
    ranged = materialize(
        [build_layer_asset(table(9), days)],
        tags=range_tags(DAY, later),
        resources={**lake.resources, "spark_runner": FailsOnTheLaterDay()},
        instance=lake.instance,
        raise_on_error=False,
    )
    assert not ranged.success
    assert lake.catalog.current("silver_card_counts", DAY).run_id == ranged.run_id
    assert lake.catalog.current("silver_card_counts", later) is None
    key = AssetKey(["silver", "card_counts"])
    assert not last_attempt(lake.instance, key, DAY).failed
    assert last_attempt(lake.instance, key, later).failed
    gold = materialize(
        [build_layer_asset(on_top, days)],
        partition_key=DAY,
        resources=lake.resources,
        instance=lake.instance,
        raise_on_error=False,
    )
    assert gold.success
    assert lake.catalog.current("gold_counts", DAY).row_count == 3
