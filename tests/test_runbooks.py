"""Every runbook in docs/runbooks runs, command for command, against a demo lake in the situation
it is written for, and keeps the outcome it promises (tests/runbook_harness.py). The tests run in
file order on one lake: each leaves it repaired for the next."""

from __future__ import annotations

import csv
import json
import random
from datetime import UTC, date, datetime, timedelta

import pytest
import yaml
from daemon_tick import sensor_tick
from dagster import AssetCheckKey, AssetKey, DagsterInstance, DagsterRunStatus, RunsFilter
from dagster._core.scheduler.instigation import TickStatus
from dagster._core.storage.tags import PARENT_RUN_ID_TAG
from runbook_harness import RUNBOOKS, run_runbook, runbook_sections, runbook_steps

from lake_assets.cli.main import main
from lake_assets.contracts.model import lake_contracts
from lake_assets.demo.demo import run_demo
from lake_assets.demo.demo_data import _transaction, customers_snapshot, write_csv
from lake_assets.demo.layers import resent_fx
from lake_assets.gold.derived import GOLD_DERIVED_TABLES
from lake_assets.ingestion.intake import land_payload
from lake_assets.settings import load_settings
from lake_assets.tables.reader import read_version_arrow
from resources import build_resources
from resources.arrivals import ListingArrivalFeed

# The smallest demo the runbooks need: 2026-03-04 (Wed) and 2026-03-05 (Thu), each with its FX
# file; a third day, which no runbook uses, made the demo about a fifth longer.
TODAY = date(2026, 3, 6)
FIRST, DAY, NEXT = "2026-03-04", "2026-03-05", "2026-03-06"  # FIRST..DAY: the backfilled range
# GAP: more than max_gap_days (5) after the last FX rate (DAY's), so silver/fx_rates fails there
# until its own rates come; LATER: a day whose FX file arrives while the arrivals sensor fails.
GAP, LATER = "2026-03-11", "2026-03-12"
# alarm-response.md's sections with commands; the EMR alarm's runs on the aws profile, with its
# Spark jobs on the fake EMR Serverless (tests/test_emr_serverless.py).
DLQ_ALARM, EMR_ALARM = "Arrivals dead-letter queue not empty", "EMR Serverless job runs failed"
RUNS_ALARM, TICKS_ALARM = "Dagster runs failed", "Sensor or schedule ticks failed"
SLO_ALARM = "An SLO burns its error budget"
# quality-gate-failover.md's section run in its own situation (the rest: a bad FX day).
HELD_BY_REFERENCE = "A silver table held by a referential rule"


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    root = tmp_path_factory.mktemp("runbooks")
    env = {"LAKE_ROOT": str(root / "lake"), "DAGSTER_HOME": str(root / "home")}
    (root / "home").mkdir()
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        settings = load_settings()
        # No runbook is about cost or SLOs: the demo leaves them out (tests/test_dev_after_demo.py).
        assert run_demo(settings, days=2, today=TODAY, bill=False, slos=False) == 0
    return {"env": env, "settings": settings, "root": root}


def cli(lake, *argv: str) -> int:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in lake["env"].items():
            patch.setenv(name, value)
        return main(list(argv))


def land(lake, source: str, day: str, path) -> str:
    settings = lake["settings"]
    landed = land_payload(build_resources(settings)["storage"], settings.source(source), path, day)
    return landed.key


def fx_file(lake, day: str):
    """The FX vendor's file for `day`: DAY's rates, dated `day`."""
    original = sorted((lake["settings"].lake_root / "_incoming").glob(f"{DAY}/fx_rates_*.csv"))
    path = lake["root"] / "fx" / f"fx_rates_{day.replace('-', '')}.csv"
    path.parent.mkdir(exist_ok=True)
    path.write_text(original[-1].read_text().replace(DAY, day))
    return path


def instance_of(lake) -> DagsterInstance:
    return DagsterInstance.from_config(lake["env"]["DAGSTER_HOME"])


def test_every_runbook_is_commands_the_harness_runs():
    names = sorted(p.stem for p in RUNBOOKS.glob("*.md") if p.stem != "README")
    assert names == [
        "access-denied",
        "alarm-response",
        "backfill-a-month",
        "contract-too-strict",
        "disaster-recovery",
        "quality-gate-failover",
        "rerun-failed-bronze-ingestion",
        "restore-from-glacier",  # on the aws profile: tests/test_restore.py
        "restore-silver-from-bronze",
        "roll-back-a-bad-publish",
        "schema-break",
        "stuck-dependency",
    ]
    assert all(runbook_steps(RUNBOOKS / f"{n}.md") for n in names)
    assert runbook_sections(RUNBOOKS / "quality-gate-failover.md") == ["", HELD_BY_REFERENCE]
    # Each alarm with commands is run by a test of its own situation.
    assert runbook_sections(RUNBOOKS / "alarm-response.md") == [
        DLQ_ALARM,
        EMR_ALARM,
        RUNS_ALARM,
        TICKS_ALARM,
        SLO_ALARM,
    ]


def test_a_section_runs_alone_and_a_wait_is_the_scenario_s_to_make_happen(tmp_path):
    book = tmp_path / "book.md"
    book.write_text(
        "# A book\n```sh\nlake status\n```\n"
        "## One alarm (`prefix-one`)\n```sh\nlake ticks\n# expect: FAILURE\n"
        "# wait: the next tick\nlake ticks x\n```\n"
        "## Two\n```sh\nlake runs failed\n```\n"
    )
    assert runbook_sections(book) == ["", "One alarm", "Two"]
    steps = runbook_steps(book, sections=["One alarm"])
    assert [(s.command, s.wait, s.expects) for s in steps] == [
        ("lake ticks", None, ["FAILURE"]),
        (None, "the next tick", []),
        ("lake ticks x", None, []),
    ]
    book.write_text("```sh\n# wait: the next tick\n# expect: SUCCESS\n```\n")
    with pytest.raises(ValueError, match="follows no command"):
        runbook_steps(book)


def test_gold_held_back_by_a_bad_fx_day_then_silver_restored_from_bronze(lake):
    fx = sorted((lake["settings"].lake_root / "_incoming").glob(f"{DAY}/fx_rates_*.csv"))[-1]
    bad = resent_fx(fx, lake["root"] / "bad-fx", 10)
    land(lake, "fx_rates", DAY, bad)
    assert cli(lake, "promote", "--source", "fx_rates", "--date", DAY) == 0
    assert cli(lake, "build", "silver", "gold", "--date", DAY) == 1  # held
    run_runbook("quality-gate-failover", {"DAY": DAY}, lake["env"], sections=[""])
    fixed = resent_fx(fx, lake["root"] / "fixed-fx", 1)
    run_runbook(
        "restore-silver-from-bronze",
        {"DAY": DAY, "LAST": DAY, "FIXED_FILE": str(fixed)},
        lake["env"],
    )


def _order_file(path, op: str, **fields):
    event = {
        "order_id": "O9000001",
        "op": op,
        "seq": 1,
        "changed_at": f"{DAY}T09:00:00Z",
        "order_date": DAY,
        "customer_id": "C00001",
        "status": "placed",
        "amount": 99.5,
        "currency": "MYR",
        **fields,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(event) + "\n")
    return path


def test_a_refused_bronze_day_rerun_after_the_source_resends(lake):
    bad_key = land(
        lake, "order_events", DAY, _order_file(lake["root"] / "bad" / "o.json", "upsert")
    )
    fixed = _order_file(lake["root"] / "fixed" / "o.json", "insert")
    run_runbook(
        "rerun-failed-bronze-ingestion",
        {"SOURCE": "order_events", "DAY": DAY, "BAD_KEY": bad_key, "FIXED_FILE": str(fixed)},
        lake["env"],
    )


def test_silver_orders_held_by_an_unknown_customer_until_the_master_redelivers_it(lake, capsys):
    """An order naming a customer the day's master snapshot lacks (C99999, which it never had)
    holds silver/orders' change day on `customer_known` (ADR-0167): `lake build` exits 1 and
    prints the check naming the orphan key; the order date it rewrites and the gold that reads
    it keep their versions. The runbook's repair, the master redelivering the day with
    the customer, publishes the day with the check passing and the order joined in gold."""
    resources = build_resources(lake["settings"])
    catalog, storage = resources["catalog"], resources["storage"]
    # The new order rewrites the order date DAY alone (DAY's other changes are merged already).
    # gold/dim_customer and fact_card_spend do not read orders: the gate lets them build.
    kept = [("silver_orders", DAY), ("gold_fact_orders", DAY), ("gold_kpi_daily", DAY)]
    before = {key: catalog.current(*key) for key in kept}
    assert all(before.values()), before

    orphan = _order_file(
        lake["root"] / "orphan" / "o.json", "insert", order_id="O9000002", customer_id="C99999"
    )
    land(lake, "order_events", DAY, orphan)
    # Bronze's customer_exists only reports an unknown customer: an order is revenue.
    assert cli(lake, "promote", "--source", "order_events", "--date", DAY) == 0
    capsys.readouterr()
    assert cli(lake, "build", "silver", "gold", "--date", DAY) == 1  # held
    printed = capsys.readouterr().out.splitlines()
    [check] = [line for line in printed if line.startswith("CHECK FAILED silver/orders:")]
    assert check.startswith("CHECK FAILED silver/orders:contract_customer_known: ")
    assert check.endswith(
        "1 violating rows, customer_id not in silver_customer: C99999; the partition is not "
        "published"
    )
    assert (
        f"  gold/fact_orders {DAY}: held: silver_orders[{DAY}] was held back by customer_known; "
        f"gold_fact_orders[{DAY}] keeps its published version"
    ) in printed
    assert {key: catalog.current(*key) for key in kept} == before

    # The source redelivers DAY's snapshot as it was, plus the customer its orders name.
    delivered = sorted((lake["settings"].lake_root / "_incoming").glob(f"{DAY}/customers_*.csv"))
    with delivered[-1].open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    new = {"customer_id": "C99999", "full_name": "Nur Lim", "segment": "retail"}
    new |= {"email": "customer99999@example.com.my", "phone": "+60120099999"}
    new |= {"date_of_birth": "1990-01-01", "national_id": "900101-14-0099"}
    rows.append({**rows[0], **new})
    (lake["root"] / "redelivered").mkdir()
    redelivered = write_csv(lake["root"] / "redelivered" / f"customers_{DAY}.csv", rows)
    variables = {"DAY": DAY, "ORPHAN": "C99999", "CUSTOMERS_FILE": str(redelivered)}
    run_runbook("quality-gate-failover", variables, lake["env"], sections=[HELD_BY_REFERENCE])

    after = {key: catalog.current(*key) for key in kept}
    assert all(after[key].run_id != before[key].run_id for key in kept), after
    orders = read_version_arrow(storage, after[("silver_orders", DAY)]).to_pylist()
    assert len(orders) == before[("silver_orders", DAY)].row_count + 1
    assert [(o["customer_id"], o["deleted"]) for o in orders if o["order_id"] == "O9000002"] == [
        ("C99999", False)
    ]
    # In gold the order has the redelivered customer's key and segment, not an unknown one.
    facts = read_version_arrow(storage, after[("gold_fact_orders", DAY)]).to_pylist()
    [fact] = [f for f in facts if f["order_id"] == "O9000002"]
    assert fact["customer_sk"] is not None and fact["segment"] == "retail"
    # The check passed in the run that published the day.
    [latest] = instance_of(lake).event_log_storage.get_asset_check_execution_history(
        AssetCheckKey(AssetKey(["silver", "orders"]), "contract_customer_known"), limit=1
    )
    assert latest.event.dagster_event.event_specific_data.passed and latest.partition == DAY
    assert after[("silver_orders", DAY)].run_id == f"{latest.run_id}-{DAY}"


def test_a_table_waiting_for_a_snapshot_that_arrives_late(lake):
    assert cli(lake, "build", "silver/customer", "--date", NEXT) == 1  # no snapshot yet
    (lake["root"] / "late").mkdir()
    rows = customers_snapshot(date.fromisoformat(NEXT), 3)
    late = write_csv(lake["root"] / "late" / f"customers_{NEXT}.csv", rows)
    run_runbook("stuck-dependency", {"DAY": NEXT, "LATE_FILE": str(late)}, lake["env"])


def test_a_breaking_rename_approved_and_promoted(lake):
    rng = random.Random(7)
    day = date.fromisoformat(NEXT)
    records = [_transaction(rng, 900 + n, day, renamed=True, first=False) for n in range(5)]
    path = lake["root"] / "renamed" / "cards.json"
    path.parent.mkdir()
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    land(lake, "card_transactions", NEXT, path)
    assert cli(lake, "build", "silver/fx_rates", "--date", NEXT) == 0  # Friday, carried
    assert cli(lake, "profile", "--source", "card_transactions") == 0
    registry = build_resources(lake["settings"])["registry"]
    breaking = [v for v in registry.versions("card_transactions") if v.status == "BREAKING"]
    run_runbook(
        "schema-break",
        {
            "SOURCE": "card_transactions",
            "DAY": NEXT,
            "VERSION": breaking[-1].version,
            "RENAME": "txn_date=transaction_date",
        },
        lake["env"],
    )


def test_a_contract_deployed_too_strict_is_tried_then_relaxed_before_a_promotion(lake):
    """The lake's contracts, copied to a folder of their own, with a rule added to the cards'
    that rejects every published card not in MYR (`drop`): what a deploy that trips the
    contract trial looks like. The candidate starts that rule as `warn`; the wait deploys it."""
    contracts = lake["root"] / "deployed-contracts"
    contracts.mkdir()
    for dataset, contract in lake_contracts(lake["settings"]).items():
        as_yaml = contract.model_dump(by_alias=True, mode="json")
        (contracts / f"{dataset}.yaml").write_text(yaml.safe_dump(as_yaml))
    cards = yaml.safe_load((contracts / "card_transactions.yaml").read_text())
    rule = {"name": "myr_only", "severity": "error", "action": "drop",
            "allowed_values": {"column": "currency", "values": ["MYR"]}}  # fmt: skip
    cards["rules"].append(rule)
    (contracts / "card_transactions.yaml").write_text(yaml.safe_dump(cards))
    cards["rules"][-1] = {**rule, "action": "warn"}
    candidate = lake["root"] / "candidate-card_transactions.yaml"
    candidate.write_text(yaml.safe_dump(cards))

    def deployed() -> None:
        (contracts / "card_transactions.yaml").write_text(candidate.read_text())

    variables = {"DATASET": "card_transactions", "RULE": "myr_only", "CANDIDATE": str(candidate)}
    env = {**lake["env"], "LAKE_CONTRACTS_DIR": str(contracts)}
    outputs = run_runbook(
        "contract-too-strict", variables, env, waits={"the change deployed": deployed}
    )
    # Step 1 named the days whose cards the rule rejects; step 3 found them warned, not dropped.
    assert "  myr_only (drop): " in outputs[0]
    assert "  myr_only (warn): " in outputs[2]


def test_a_range_backfilled_through_every_layer(lake):
    run_runbook("backfill-a-month", {"FIRST": FIRST, "LAST": DAY}, lake["env"])


def test_a_column_denied_until_classified_and_one_no_query_can_reach(lake):
    """On the demo's own data: the classifier leaves risk_score for review (denied to all, as
    nothing can be known of it) and labels national_id a MyKad number (denied by policy)."""
    run_runbook("access-denied", {}, lake["env"])


def test_alarms_answered_a_dead_lettered_arrival_profiled_and_an_slo_explained(lake):
    """The arrivals dead-letter queue's alarm: an object whose S3 notification was lost is
    found and profiled by listing; the SLO alarm: the burning SLO is found and explained."""
    (lake["root"] / "lost").mkdir()
    rows = customers_snapshot(date.fromisoformat(NEXT), 4)  # other bytes than the late one
    land(lake, "customers", NEXT, write_csv(lake["root"] / "lost" / f"customers_{NEXT}.csv", rows))
    variables = {"SOURCE": "customers", "DAY": NEXT, "SLO": "customers.freshness"}
    run_runbook("alarm-response", variables, lake["env"], sections=[DLQ_ALARM, SLO_ALARM])


def test_a_failed_run_listed_then_re_executed_from_failure_once_its_input_arrived(lake):
    """The failed-runs alarm: a run of silver/crm_contacts and silver/fx_rates for a day a week
    after the last FX rate fails in silver/fx_rates alone (FxGapTooLong). `lake runs failed`
    names the step and its error; once the vendor's file for the day is promoted, `lake runs
    reexecute` runs that step alone, in a new run of the failed run's group, and it publishes;
    silver/crm_contacts keeps the version the failed run published."""
    assert cli(lake, "build", "silver/crm_contacts", "silver/fx_rates", "--date", GAP) == 1
    instance = instance_of(lake)
    [failed] = instance.get_runs(RunsFilter(statuses=[DagsterRunStatus.FAILURE]), limit=1)
    catalog = build_resources(lake["settings"])["catalog"]
    crm = catalog.current("silver_crm_contacts", GAP)
    assert crm.run_id == failed.run_id and catalog.current("silver_fx_rates", GAP) is None

    variables = {"RUN": failed.run_id, "DAY": GAP, "FX_FILE": str(fx_file(lake, GAP))}
    run_runbook("alarm-response", variables, lake["env"], sections=[RUNS_ALARM])

    [again] = instance.get_runs(RunsFilter(tags={PARENT_RUN_ID_TAG: failed.run_id}))
    assert again.status == DagsterRunStatus.SUCCESS
    assert (again.job_name, again.parent_run_id, again.root_run_id) == (
        "silver",
        failed.run_id,
        failed.run_id,
    )
    assert again.step_keys_to_execute == ["silver__fx_rates"]
    assert again.tags["dagster/partition"] == GAP
    assert catalog.current("silver_fx_rates", GAP).run_id == again.run_id
    assert catalog.current("silver_crm_contacts", GAP) == crm


def test_a_failing_sensor_shown_then_catching_up_at_its_next_tick_once_fixed(lake):
    """The failed-ticks alarm, on ticks as the sensor daemon records them (tests/daemon_tick.py):
    the arrivals sensor fails while the daemon's user cannot read the raw zone (the tests run as
    root, whom no permission stops: the listing raises what the refused read raises), and an FX
    file arrives meanwhile. `lake ticks` shows the error; once the access is back, the next tick
    succeeds and requests the file's profiling run, which waits in the run queue."""
    instance = instance_of(lake)
    raw = lake["settings"].lake_root / "raw"
    refusal = pytest.MonkeyPatch()

    def refused(feed, cursor, limit=1000):
        raise PermissionError(13, "Permission denied", str(raw / "source=fx_rates"))

    failed_at = datetime.now(UTC)
    with pytest.MonkeyPatch.context() as patch:
        for name, value in lake["env"].items():
            patch.setenv(name, value)
        refusal.setattr(ListingArrivalFeed, "poll", refused)
        land(lake, "fx_rates", LATER, fx_file(lake, LATER))
        assert sensor_tick(instance, "raw_arrivals", failed_at).status == TickStatus.FAILURE

    ticked = []

    def access_back_and_next_tick():
        refusal.undo()
        interval = timedelta(seconds=31)  # past raw_arrivals' minimum interval (30 s)
        ticked.append(sensor_tick(instance, "raw_arrivals", failed_at + interval))

    try:
        run_runbook(
            "alarm-response",
            {"SENSOR": "raw_arrivals"},
            lake["env"],
            sections=[TICKS_ALARM],
            waits={"the sensor's next tick": access_back_and_next_tick},
        )
    finally:
        refusal.undo()
    [tick] = ticked
    assert tick.status == TickStatus.SUCCESS
    [profiling] = [instance.get_run_by_id(run_id) for run_id in tick.run_ids]
    assert profiling.status == DagsterRunStatus.QUEUED
    assert profiling.tags["dagster/partition"] == LATER
    assert profiling.tags["lake/source"] == "fx_rates"
    # What the daemon's queue would run: the next tests find the file profiled.
    instance.delete_run(profiling.run_id)
    assert cli(lake, "profile", "--source", "fx_rates", "--date", LATER) == 0


def test_a_plausible_but_wrong_delivery_rolled_back_to_the_day_before_it(lake):
    catalog = build_resources(lake["settings"])["catalog"]
    good = catalog.current("fx_rates", DAY)
    fx = sorted((lake["settings"].lake_root / "_incoming").glob(f"{DAY}/fx_rates_*.csv"))[-1]
    wrong = resent_fx(fx, lake["root"] / "wrong-fx", 1.1)  # inside the treasury band
    bad_key = land(lake, "fx_rates", DAY, wrong)
    assert cli(lake, "promote", "--source", "fx_rates", "--date", DAY) == 0
    assert catalog.current("fx_rates", DAY).run_id != good.run_id
    variables = {"SOURCE": "fx_rates", "DAY": DAY, "LAST": DAY, "BAD_KEY": bad_key,
                 "GOOD_RUN": good.run_id}  # fmt: skip
    run_runbook("roll-back-a-bad-publish", variables, lake["env"])
    restored = catalog.current("fx_rates", DAY)
    assert restored.run_id.startswith("rollback-") and restored.row_count == good.row_count


def test_gold_failing_on_its_own_keeps_its_versions_and_is_rebuilt_alone(lake, monkeypatch):
    """Gold's own job crashing (no gate: silver is intact) fails `lake build gold`; every gold
    table keeps the version it had and silver is untouched. Once the job runs again, `lake
    build gold` alone rebuilds gold from the same silver versions (seed 003: a gold failure
    is repaired in gold, silver is not rebuilt)."""
    catalog = build_resources(lake["settings"])["catalog"]
    gold = [t.dataset for t in GOLD_DERIVED_TABLES]
    silver = ["silver_customer", "silver_fx_rates", "silver_orders"]
    before = {d: catalog.current(d, DAY) for d in gold + silver}
    assert all(before.values()), before

    def crash(spark, plan):
        raise RuntimeError("ExecutorLostFailure: executor 1 exited")

    monkeypatch.setattr("lake_assets.gold.build.gold_job", crash)
    assert cli(lake, "build", "gold", "--date", DAY) == 1
    assert {d: catalog.current(d, DAY) for d in gold + silver} == before

    monkeypatch.undo()
    assert cli(lake, "build", "gold", "--date", DAY) == 0
    after = {d: catalog.current(d, DAY) for d in gold + silver}
    assert all(after[d].run_id != before[d].run_id for d in gold)
    assert {d: after[d].row_count for d in gold} == {d: before[d].row_count for d in gold}
    assert {d: after[d] for d in silver} == {d: before[d] for d in silver}


def test_the_lake_opened_from_a_copy_whose_catalog_was_lost(lake):
    """Disaster recovery on the embedded default: the catalog exported, the lake folder copied
    elsewhere without its catalog, and the runbook run there. Every partition of every table
    comes back at the version the primary's catalog holds."""
    import shutil

    assert cli(lake, "dr", "export") == 0
    replica = lake["root"] / "replica"
    shutil.copytree(lake["root"] / "lake", replica)
    (replica / "_state" / "catalog.db").unlink()
    home = lake["root"] / "replica-home"
    home.mkdir()
    env = {"LAKE_ROOT": str(replica), "DAGSTER_HOME": str(home)}
    run_runbook("disaster-recovery", {"DATASET": "silver_customer", "DAY": DAY}, env)

    primary = build_resources(lake["settings"])["catalog"]
    restored = build_resources(load_settings(env))["catalog"]
    assert primary.datasets() and restored.datasets() == primary.datasets()
    for dataset in primary.datasets():
        assert restored.partitions(dataset) == primary.partitions(dataset), dataset
