"""A changed contract tried on the published rows as soon as the code location loads it
(ADR-0172): the sensor `contract_changes` launches the check `contract_holds_on_published` of
each dataset whose contract changed and has published rows, and nothing on its first
evaluation."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import yaml
from daemon_tick import sensor_tick
from dagster import AssetCheckKey, AssetKey, DagsterInstance, build_sensor_context
from test_jobs_over_pipes import CARDS, late_cards
from test_spark_jobs import trial_contract

from lake_assets.contracts.trial_watch import ALERT_KIND, CHECK_NAME, changed_contracts
from lake_assets.cost.recording import recorded_runs
from lake_assets.definitions import build_definitions

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
CUSTOMERS_CONTRACT = {
    "dataset": "customers",
    "owner": "crm-data",
    "version": 1,
    "schema": [{"name": "customer_id", "type": "string", "nullable": False}],
    "rules": [{"name": "id_given", "severity": "error", "action": "drop",
               "not_null": {"column": "customer_id"}}],
}  # fmt: skip


def test_a_first_evaluation_records_the_contracts_and_a_change_names_its_dataset():
    v1, v2 = trial_contract(0.01), trial_contract(20.0)
    changed, first = changed_contracts(None, {CARDS: v1})
    assert changed == [] and json.loads(first)["changes"] == 0
    assert changed_contracts(first, {CARDS: v1}) == ([], first)
    changed, second = changed_contracts(first, {CARDS: v2})
    assert changed == [CARDS] and json.loads(second)["changes"] == 1
    # Changed back: tried again, under a run key of its own.
    changed, third = changed_contracts(second, {CARDS: v1})
    assert changed == [CARDS] and json.loads(third)["changes"] == 2
    # A contract new to a dataset is a change; a contract removed is not tried.
    customers = trial_contract(0.01).model_copy(update={"dataset": "customers"})
    assert changed_contracts(third, {CARDS: v1, "customers": customers})[0] == ["customers"]
    assert changed_contracts(third, {})[0] == []


def write_contract(lake, contract: dict) -> None:
    path = lake.settings.contracts_dir / f"{contract['dataset']}.yaml"
    path.write_text(yaml.safe_dump(contract))


def tick(lake, cursor):
    """One evaluation of the sensor in the code location as the contracts folder makes it now
    (a deploy reloads it): its run requests and cursor."""
    defs = build_definitions(lake.settings, lake.resources)
    sensor = defs.resolve_sensor_def("contract_changes")
    context = build_sensor_context(instance=lake.instance, cursor=cursor, resources=lake.resources)
    result = sensor(context)
    return defs, result.run_requests or [], result.cursor


def run_requested(lake, defs, request) -> list:
    """The run `request` asks for, executed as the daemon would launch it: the job's checks
    that it selects; their evaluations."""
    job = defs.resolve_job_def("contract_trials").get_subset(
        asset_selection=set(request.asset_selection),
        asset_check_selection=set(request.asset_check_keys),
    )
    result = job.execute_in_process(instance=lake.instance, tags=request.tags)
    return result.get_asset_check_evaluations()


def test_a_tightened_contract_is_tried_on_the_published_days_before_the_next_promotion(lake):
    late_cards(lake)  # 11 cards of amount 12.5 on 03-02 and 03-03, promoted without a contract
    write_contract(lake, trial_contract(0.01).model_dump(by_alias=True, mode="json"))
    _, requests, cursor = tick(lake, None)
    assert requests == []  # what the lake published under: a fresh `make dev` stays calm
    assert tick(lake, cursor)[1:] == ([], cursor)

    # Deployed: the minimum amount raised to 20 (its action drop), and a first contract for
    # customers, who have published nothing (nothing to try them on).
    write_contract(lake, trial_contract(20.0).model_dump(by_alias=True, mode="json"))
    write_contract(lake, CUSTOMERS_CONTRACT)
    defs, [request], cursor = tick(lake, cursor)
    check = AssetCheckKey(AssetKey(["contracts", CARDS]), CHECK_NAME)
    assert (request.run_key, request.asset_check_keys) == (f"contract-trial/{CARDS}/1", [check])
    assert request.asset_selection == []

    [evaluation] = run_requested(lake, defs, request)
    assert (evaluation.check_name, evaluation.passed) == (CHECK_NAME, False)
    assert evaluation.severity.value == "WARN"
    lines = evaluation.description.splitlines()
    assert "  amount_at_least (drop): 11 published rows break it: 2026-03-02 9, 2026-03-03 2" in (
        lines
    )
    assert lines[-1].startswith(
        "STRICTER than what the lake published under: amount_at_least: its rows would be "
        "quarantined."
    )
    assert evaluation.metadata["rejecting"].value == "amount_at_least"
    assert evaluation.metadata["rows"].value == 11
    [alert] = [a for a in lake.notifier.alerts() if a.kind == ALERT_KIND]
    assert alert.subject == (f"contract {CARDS} v1 would reject published rows: amount_at_least")
    assert alert.detail["lines"] == lines
    # Its Spark job is charged to the cards and their owner, not to the platform: recorded once,
    # as an observation of the contract's asset, where the cost drivers read a month's runs.
    [trial] = [r.drivers for r in recorded_runs(lake.instance, EPOCH, datetime.now(UTC))
               if r.drivers.job == "contract_trial"]  # fmt: skip
    assert (trial.datasets, trial.team) == ((CARDS,), lake.settings.sources[CARDS].owner)

    # Nothing changed since: nothing requested. Relaxed to warn: tried again, and it holds.
    assert tick(lake, cursor)[1] == []
    relaxed = trial_contract(20.0).model_dump(by_alias=True, mode="json")
    relaxed["rules"][0]["action"] = "warn"
    write_contract(lake, relaxed)
    defs, [request], _ = tick(lake, cursor)
    assert request.run_key == f"contract-trial/{CARDS}/2"
    [evaluation] = run_requested(lake, defs, request)
    assert evaluation.passed
    assert evaluation.description.splitlines()[-1] == "no blocking rule rejects a published row"
    assert len([a for a in lake.notifier.alerts() if a.kind == ALERT_KIND]) == 1


def test_the_daemons_tick_queues_a_run_of_the_changed_contracts_check_alone(
    lake, monkeypatch, tmp_path
):
    """The sensor as Dagster's sensor daemon ticks it (tests/daemon_tick.py): the code location
    loaded from the environment, the run it requests submitted to the instance's queue. A
    changed card contract queues one run of `contract_trials` selecting the cards' check and no
    asset."""
    late_cards(lake)
    write_contract(lake, trial_contract(0.01).model_dump(by_alias=True, mode="json"))
    for name, value in lake.env.items():
        monkeypatch.setenv(name, value)
    (tmp_path / "home").mkdir()
    instance = DagsterInstance.local_temp(str(tmp_path / "home"))
    first = datetime(2026, 3, 5, 9, tzinfo=UTC)
    assert sensor_tick(instance, "contract_changes", first).run_ids == []

    write_contract(lake, trial_contract(20.0).model_dump(by_alias=True, mode="json"))
    tick = sensor_tick(instance, "contract_changes", first + timedelta(seconds=61))
    [run] = [instance.get_run_by_id(run_id) for run_id in tick.run_ids]
    assert run.job_name == "contract_trials"
    assert not run.asset_selection
    assert run.asset_check_selection == {AssetCheckKey(AssetKey(["contracts", CARDS]), CHECK_NAME)}
