"""Every config file goes through one loader (lake_assets/config.py): a wrong type, an unknown key
and a missing required key each give a ConfigError naming the file, the key path and the reason,
in the same words for every file. Each case edits one line of a copy of the shipped file."""

from __future__ import annotations

from pathlib import Path

import pytest

from lake_assets.compaction.policy import CompactionPolicy, Prices, Selection, load_policy
from lake_assets.config import ConfigError
from lake_assets.contracts.model import load_contract
from lake_assets.events.model import load_rules
from lake_assets.settings import (
    REPO_ROOT,
    load_lake_file,
    load_settings,
    load_sources,
    record_partitions_start,
)

CONFIG = REPO_ROOT / "config"
LOADERS = {
    "sources.yaml": load_sources,
    "contracts/customers.yaml": load_contract,
    "dependencies.yaml": load_rules,
    "compaction.yaml": load_policy,
    "lake.yaml": load_lake_file,
}

# file, text in the shipped file, its replacement, the key path, the reason (whole).
CASES = {
    "lake_wrong_type": (
        "lake.yaml",
        "partitions_start: 2026-03-01",
        "partitions_start: last spring",
        "partitions_start",
        "must be a date (YYYY-MM-DD), got 'last spring'",
    ),
    "sources_wrong_type": (
        "sources.yaml",
        "keys: [customer_id]",
        "keys: [5]",
        "sources.customers.history.keys[0]",
        "must be a string, got 5",
    ),
    "sources_wrong_type_of_number": (
        "sources.yaml",
        "    compatibility: FULL\n    owner: payments-data",
        "    compatibility: FULL\n    lookback_days: yes\n    owner: payments-data",
        "sources.card_transactions.lookback_days",
        "must be a whole number, got True",
    ),
    "sources_unknown_key": (
        "sources.yaml",
        "owner: payments-data",
        "ownr: payments-data",
        "sources.card_transactions.ownr",
        "unknown key",
    ),
    "sources_id_inside_a_declaration": (
        "sources.yaml",
        "  card_transactions:\n",
        "  card_transactions:\n    source_id: cards\n",
        "sources.card_transactions.source_id",
        "unknown key",
    ),
    "sources_missing_required_key": (
        "sources.yaml",
        "    event_time_field: transaction_date\n",
        "",
        "sources.card_transactions.event_time_field",
        "required",
    ),
    "contract_wrong_type": (
        "contracts/customers.yaml",
        "bootstrap_partitions: 7",
        "bootstrap_partitions: [7]",
        "bootstrap_partitions",
        "must be a whole number, got [7]",
    ),
    "contract_unknown_key": (
        "contracts/customers.yaml",
        "{name: email, type: string}",
        "{name: email, type: string, pii: true}",
        "schema[2].pii",
        "unknown key",
    ),
    "contract_missing_required_key": (
        "contracts/customers.yaml",
        "owner: customer-data\n",
        "",
        "owner",
        "required",
    ),
    "dependencies_wrong_type": (
        "dependencies.yaml",
        "timeout_hours: 6",
        "timeout_hours: six",
        "rules[0].timeout_hours",
        "must be a number, got 'six'",
    ),
    "dependencies_unknown_key": (
        "dependencies.yaml",
        "    on_timeout: run_partial\n",
        "    on_timeout: run_partial\n    retries: 3\n",
        "rules[0].retries",
        "unknown key",
    ),
    "dependencies_missing_required_key": (
        "dependencies.yaml",
        "    target: marts/spend_by_customer\n",
        "",
        "rules[0].target",
        "required",
    ),
    "dependencies_wrong_choice": (
        "dependencies.yaml",
        "on_timeout: wait",
        "on_timeout: later",
        "rules[1].on_timeout",
        "must be one of wait, run_partial or skip, got 'later'",
    ),
    # Every key of the compaction policy is optional (the file states the defaults), so it has
    # no required key to leave out.
    "compaction_wrong_type": (
        "compaction.yaml",
        "min_files: 5",
        "min_files: five",
        "selection.min_files",
        "must be a whole number, got 'five'",
    ),
    "compaction_unknown_key": (
        "compaction.yaml",
        "  vcpus: 4 ",
        "  vcpu: 4 ",
        "cost.vcpu",
        "unknown key",
    ),
}


def edited_copy(tmp_path: Path, file: str, old: str, new: str) -> Path:
    text = (CONFIG / file).read_text()
    assert old in text, f"{old!r} not in {file}"
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
    assert str(refused.value) == f"{path}: {key}: {reason}"


@pytest.mark.parametrize("file", LOADERS)
def test_every_shipped_config_file_loads(file):
    assert LOADERS[file](CONFIG / file)


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
