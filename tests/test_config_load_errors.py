"""Invalid configuration fails when the code location loads and in `lake`, naming file, key and
reason, instead of at run time or never. Each case edits one line of the shipped config."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lake_assets.cli.main import main
from lake_assets.definitions import build_definitions
from lake_assets.settings import REPO_ROOT, ConfigError, load_settings

CONFIG = REPO_ROOT / "config"


def configure(tmp_path: Path, monkeypatch, file: str, old: str, new: str) -> Path:
    """A copy of the shipped config and of the generated pipelines (what the code location loads;
    an edit there is a hand edit of generated code, or a bad template) with `old` replaced by
    `new` in `file`, selected through the environment as a deployment would."""
    shutil.copytree(CONFIG, tmp_path / "config")
    shutil.copytree(REPO_ROOT / "lake_pipelines", tmp_path / "lake_pipelines")
    edited = tmp_path / file
    text = edited.read_text()
    assert old in text, f"{old!r} not in {file}"
    edited.write_text(text.replace(old, new, 1))
    monkeypatch.setenv("LAKE_ROOT", str(tmp_path / "lake"))
    monkeypatch.setenv("LAKE_PIPELINES_DIR", str(tmp_path / "lake_pipelines"))
    monkeypatch.setenv("LAKE_DEPENDENCIES_FILE", str(tmp_path / "config" / "dependencies.yaml"))
    monkeypatch.setenv("LAKE_COMPACTION_FILE", str(tmp_path / "config" / "compaction.yaml"))
    return edited


def load_code_location():
    """What `dagster definitions validate` does with lake_assets/definitions.py."""
    defs = build_definitions(load_settings())
    defs.resolve_all_job_defs()
    return defs


CASES = {
    "lookback_days_not_a_number": (
        "lake_pipelines/card_transactions/source.yaml",
        "    lookback_days: 3\n",
        "    lookback_days: three\n",
        "sources.card_transactions.lookback_days",
        "must be a whole number, got 'three'",
    ),
    "regex_valid_in_python_only": (
        "lake_pipelines/customers/contract.yaml",
        r"pattern: ^C\d{5}$",
        r"pattern: ^(?P<prefix>C)\d{5}$",
        "rules[2].regex.pattern",
        "Java (Spark) writes (?<name>...)",
    ),
    "sql_rule_naming_a_missing_column": (
        "lake_pipelines/customers/contract.yaml",
        "expression: date_of_birth BETWEEN",
        "expression: date_of_brith BETWEEN",
        "rules[6].sql.expression",
        "rule 'date_of_birth_plausible' reads column 'date_of_brith', not in schema",
    ),
    "referential_rule_naming_an_unknown_dataset": (
        "lake_pipelines/card_transactions/contract.yaml",
        "      dataset: customers\n",
        "      dataset: customer\n",
        "referential_integrity.references.dataset",
        "unknown dataset 'customer'",
    ),
    "dependency_rule_with_an_unknown_input": (
        "config/dependencies.yaml",
        "inputs: [card_transactions, customers]",
        "inputs: [card_transactions, customer]",
        "rules[0].inputs[1]",
        "unknown dataset 'customer': nothing announces it",
    ),
    "dependency_rule_with_an_unknown_target": (
        "config/dependencies.yaml",
        "target: history/customers",
        "target: history/customer",
        "rules[1].target",
        "no asset 'history/customer' in the graph",
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_invalid_config_fails_when_the_code_location_loads_and_in_lake(
    case, tmp_path, monkeypatch, capsys
):
    file, old, new, key, reason = CASES[case]
    edited = configure(tmp_path, monkeypatch, file, old, new)
    with pytest.raises(ConfigError) as refused:
        load_code_location()
    assert Path(refused.value.file) == edited and refused.value.key.endswith(key), refused.value
    assert reason in refused.value.reason
    assert main(["status"]) == 2
    err = capsys.readouterr().err
    assert str(edited) in err and key in err and reason in err
    if file.endswith("source.yaml"):  # read by every command, those that build no asset graph too
        assert main(["lineage", "trace", "card_transactions[2026-03-02]"]) == 2
        assert capsys.readouterr().err == err


def test_the_shipped_config_loads(tmp_path, monkeypatch):
    configure(tmp_path, monkeypatch, "config/lake.yaml", "partitions_start", "partitions_start")
    assert load_code_location().resolve_asset_graph().get_all_asset_keys()


@pytest.mark.parametrize(
    "pattern",
    [r"^C\d{5}\z", r"^[A-Z]{2}$", r"[]a-z]+", r"(?i)^abc", r"^\{\d{2,}\}$"],
)
def test_regexes_that_read_the_same_in_java_are_accepted(pattern):
    from lake_assets.contracts.dialects import java_regex_problem

    assert java_regex_problem(pattern) is None


def test_sql_columns_skip_functions_keywords_fields_and_lambda_parameters():
    from lake_assets.contracts.dialects import sql_columns

    expression = (
        "size(filter(items, x -> x.price > 0)) > 0 AND `odd col` IS NOT NULL "
        "AND cast(amount AS DECIMAL(10,2)) > 1.5D AND ts < current_timestamp - INTERVAL 1 DAY "
        "AND note RLIKE 'a b' AND merchant.country = \"MY\""
    )
    assert sql_columns(expression) == ["items", "odd col", "amount", "ts", "note", "merchant"]
