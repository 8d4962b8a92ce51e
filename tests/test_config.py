"""Every config file goes through one loader (lake_assets/config.py): a wrong type, an unknown key
and a missing required key each give a ConfigError naming the file, the key path and the reason,
in the same words for every file. Each case edits one line of a copy of the shipped file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lake_assets.compaction.policy import CompactionPolicy, Prices, Selection, load_policy
from lake_assets.config import ConfigError
from lake_assets.contracts.model import load_contract
from lake_assets.cost.tagging import load_tagging_policy
from lake_assets.events.model import load_rules
from lake_assets.pipelines.spec import load_spec
from lake_assets.settings import (
    REPO_ROOT,
    load_lake_file,
    load_settings,
    load_sources,
    record_partitions_start,
)

LOADERS = {
    "pipelines/card_transactions.yaml": load_spec,
    "pipelines/customers.yaml": load_spec,
    "pipelines/contracts/customers.yaml": load_contract,
    "config/dependencies.yaml": load_rules,
    "config/compaction.yaml": load_policy,
    "config/lake.yaml": load_lake_file,
    "config/cost/tagging.yaml": load_tagging_policy,
}

# file, text in the shipped file, its replacement, the key path, the reason (whole).
CASES = {
    "lake_wrong_type": (
        "config/lake.yaml",
        "partitions_start: 2026-03-01",
        "partitions_start: last spring",
        "partitions_start",
        "must be a date (YYYY-MM-DD), got 'last spring'",
    ),
    "spec_wrong_type": (
        "pipelines/customers.yaml",
        "keys: [customer_id]",
        "keys: [5]",
        "history.keys[0]",
        "must be a string, got 5",
    ),
    "spec_wrong_type_of_number": (
        "pipelines/card_transactions.yaml",
        "compatibility: FULL\n",
        "compatibility: FULL\nlookback_days: yes\n",
        "lookback_days",
        "must be a whole number, got True",
    ),
    "spec_unknown_key": (
        "pipelines/card_transactions.yaml",
        "owner: payments-data\n",
        "owner: payments-data\nschedule: hourly\n",
        "schedule",
        "unknown key",
    ),
    "spec_missing_required_key": (
        "pipelines/card_transactions.yaml",
        "event_time_field: transaction_date\n",
        "",
        "event_time_field",
        "required",
    ),
    "contract_wrong_type": (
        "pipelines/contracts/customers.yaml",
        "bootstrap_partitions: 7",
        "bootstrap_partitions: [7]",
        "bootstrap_partitions",
        "must be a whole number, got [7]",
    ),
    "contract_unknown_key": (
        "pipelines/contracts/customers.yaml",
        "{name: email, type: string}",
        "{name: email, type: string, pii: true}",
        "schema[2].pii",
        "unknown key",
    ),
    "contract_missing_required_key": (
        "pipelines/contracts/customers.yaml",
        "owner: customer-data\n",
        "",
        "owner",
        "required",
    ),
    "dependencies_wrong_type": (
        "config/dependencies.yaml",
        "timeout_hours: 6",
        "timeout_hours: six",
        "rules[0].timeout_hours",
        "must be a number, got 'six'",
    ),
    "dependencies_unknown_key": (
        "config/dependencies.yaml",
        "    on_timeout: run_partial\n",
        "    on_timeout: run_partial\n    retries: 3\n",
        "rules[0].retries",
        "unknown key",
    ),
    "dependencies_missing_required_key": (
        "config/dependencies.yaml",
        "    target: marts/spend_by_customer\n",
        "",
        "rules[0].target",
        "required",
    ),
    "dependencies_wrong_choice": (
        "config/dependencies.yaml",
        "on_timeout: wait",
        "on_timeout: later",
        "rules[1].on_timeout",
        "must be one of wait, run_partial or skip, got 'later'",
    ),
    # Every key of the compaction policy is optional (the file states the defaults), so it has
    # no required key to leave out.
    "compaction_wrong_type": (
        "config/compaction.yaml",
        "min_files: 5",
        "min_files: five",
        "selection.min_files",
        "must be a whole number, got 'five'",
    ),
    "tagging_wrong_type": (
        "config/cost/tagging.yaml",
        "alert_after_days: 3",
        "alert_after_days: three",
        "alert_after_days",
        "must be a whole number, got 'three'",
    ),
    "tagging_incident_before_alert": (
        "config/cost/tagging.yaml",
        "incident_after_days: 7",
        "incident_after_days: 2",
        "incident_after_days",
        "must be more than alert_after_days (3), got 2",
    ),
    "compaction_unknown_key": (
        "config/compaction.yaml",
        "  vcpus: 4 ",
        "  vcpu: 4 ",
        "cost.vcpu",
        "unknown key",
    ),
}


def edited_copy(tmp_path: Path, file: str, old: str, new: str) -> Path:
    text = (REPO_ROOT / file).read_text()
    assert old in text, f"{old!r} not in {file}"
    if file.startswith("pipelines/"):  # a spec references its contract beside it
        shutil.copytree(REPO_ROOT / "pipelines", tmp_path / "pipelines")
    path = tmp_path / file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text.replace(old, new, 1))
    return path


@pytest.mark.parametrize("case", CASES)
def test_config_errors_name_file_key_and_reason(case, tmp_path):
    file, old, new, key, reason = CASES[case]
    path = edited_copy(tmp_path, file, old, new)
    with pytest.raises(ConfigError) as refused:
        LOADERS[file](path)
    assert (refused.value.file, refused.value.key, refused.value.reason) == (str(path), key, reason)
    # A pipeline spec's errors also name the line (load_config(..., lines=True)).
    where = f"{path}:{refused.value.line}" if refused.value.line else f"{path}"
    assert str(refused.value) == f"{where}: {key}: {reason}"


@pytest.mark.parametrize("file", LOADERS)
def test_every_shipped_config_file_loads(file):
    assert LOADERS[file](REPO_ROOT / file)


def test_a_compaction_section_with_every_key_commented_out_is_the_defaults(tmp_path):
    path = tmp_path / "compaction.yaml"
    path.write_text("selection:\n  # min_files: 5\ncost:\n")
    assert load_policy(path) == CompactionPolicy(Selection(), Prices())


def test_a_lakes_recorded_calendar_start_overrides_the_config_file_and_the_environment_it(
    tmp_path,
):
    from datetime import date

    env = {"LAKE_ROOT": str(tmp_path / "lake")}
    declared = load_lake_file().partitions_start.isoformat()
    assert load_settings(env).partitions_start == declared  # a lake that records none

    recorded = record_partitions_start(tmp_path / "lake", date(2026, 11, 29))  # as the demo does
    assert load_settings(env).partitions_start == "2026-11-29"
    assert load_settings({**env, "LAKE_PARTITIONS_START": "2025-01-01"}).partitions_start == (
        "2025-01-01"
    )

    recorded.write_text("partitions_start: last week\n")  # checked like every config file
    with pytest.raises(ConfigError, match="partitions_start: must be a date"):
        load_settings(env)


def test_a_declaration_built_in_code_is_checked_like_one_read_from_a_file():
    from dataclasses import replace

    customers = load_sources()["customers"]
    with pytest.raises(ValueError, match="history is kept for snapshot sources"):
        replace(customers, delivery="events")
