"""Pipeline specs (issue 15): pipelines/<p>.yaml declares what config/sources.yaml and the bronze
contracts declared, errors name file:line, key and reason, and the code location reads the
generated fragments. Pure: no Spark, no Dagster."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from pydantic import TypeAdapter

from lake_assets.config import ConfigError
from lake_assets.contracts.model import CONTRACTS_DIR, Contract, load_contracts
from lake_assets.pipelines.spec import check_hooks, load_spec, load_specs, spec_hash
from lake_assets.pipelines.stamp import Generation, stamped
from lake_assets.settings import (
    DEFAULT_PIPELINES_DIR,
    REPO_ROOT,
    SourceConfig,
    load_settings,
    load_sources,
)

SPECS = REPO_ROOT / "pipelines"
NAMES = ("card_transactions", "crm_contacts", "customers", "fx_rates", "order_events")


@pytest.fixture
def specs(tmp_path) -> Path:
    """A copy of the repository's specs and their contracts, to edit."""
    return Path(shutil.copytree(SPECS, tmp_path / "pipelines"))


def edit(path: Path, old: str, new: str) -> Path:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1))
    return path


def test_the_five_specs_declare_the_lakes_sources_and_contracts():
    """The dogfooding proof: each spec gives the SourceConfig and the Contract (freshness, now
    the spec's sla, included) the lake runs: config/sources.yaml's entry and config/contracts'
    file until lake_pipelines/ is generated, the generated ones after."""
    specs = load_specs(SPECS)
    assert sorted(specs) == sorted(NAMES)
    sources = load_sources()
    contracts = load_contracts(CONTRACTS_DIR, pipelines_dir=DEFAULT_PIPELINES_DIR)
    for name, spec in specs.items():
        assert spec.source_config(name) == replace(sources[name], generation=None), name
        contract = Contract.model_validate(spec.contract_document(name, SPECS))
        assert contract == contracts[name], name
    assert specs["card_transactions"].contract_document("card_transactions", SPECS)[
        "freshness"
    ] == {"deadline_hours": 6.0, "max_staleness_hours": 30.0}


HOOKS = """
def shout(record):
    return {key: value.upper() if value else value for key, value in record.items()}


def two_arguments(record, context):
    return record
"""

# file, old text, new text, line, key, reason (a part of it)
ERRORS = {
    "unknown_key": (
        "card_transactions.yaml",
        "  format: json\n",
        "  format: json\n  formt: csv\n",
        8,
        "source.formt",
        "unknown key",
    ),
    "hook_path_not_dotted": (
        "card_transactions.yaml",
        "compatibility: FULL\n",
        "compatibility: FULL\nhooks:\n  record_transform: shout\n",
        11,
        "hooks.record_transform",
        "must match",
    ),
    "history_without_snapshot": (
        "customers.yaml",
        "delivery: snapshot ",
        "delivery: events   ",
        10,
        "history",
        "history is kept for snapshot sources (delivery: snapshot)",
    ),
    "pull_with_csv": (
        "customers.yaml",
        "  format: csv\n",
        "  format: csv\n  pull:\n    kind: sql\n    url: sqlite:///crm.sqlite\n    table: t\n"
        "    watermark: {column: updated_at, tie_breaker: id}\n",
        7,
        "source.pull",
        "a pulled source lands JSON lines: declare format: json",
    ),
    "monthly_partitions": (
        "fx_rates.yaml",
        "compatibility: FULL\n",
        "compatibility: FULL\npartitioning: monthly\n",
        11,
        "partitioning",
        "monthly partitions are not supported",
    ),
    "partitioner_by_ingest_date": (
        "fx_rates.yaml",
        "compatibility: FULL\n",
        "compatibility: FULL\npartitioning: ingest_date\n"
        "hooks:\n  partitioner: lake_hooks.examples:friday_for_weekends\n",
        13,
        "hooks.partitioner",
        "a partitioner maps event dates: it goes with partitioning: event_date",
    ),
    "sla_and_contract_freshness": (
        "contracts/order_events.yaml",
        "version: 1\n",
        "version: 1\nfreshness: {max_staleness_hours: 26}\n",
        12,
        "sla",
        "contracts/order_events.yaml also declares freshness: declare it once, as sla",
    ),
    "sla_and_inline_contract_freshness": (
        "card_transactions.yaml",
        "contract: {file: contracts/card_transactions.yaml}\n",
        "contract:\n  version: 1\n  freshness: {max_staleness_hours: 26}\n  schema:\n"
        "    - {name: transaction_date, type: timestamp}\n",
        10,
        "sla",
        "the inline contract also declares freshness: declare it once, as sla",
    ),
    "two_hooks_of_one_function_name": (
        "card_transactions.yaml",
        "compatibility: FULL\n",
        "compatibility: FULL\nhooks:\n  record_transform: lake_hooks.examples:trim_text\n"
        "  frame_transform: bank_hooks.cleanup:trim_text\n",
        12,
        "hooks.frame_transform",
        "bank_hooks.cleanup:trim_text and lake_hooks.examples:trim_text share the function name",
    ),
    "missing_contract_file": (
        "card_transactions.yaml",
        "contracts/card_transactions.yaml",
        "contracts/cards.yaml",
        13,
        "contract.file",
        "cards.yaml not found",
    ),
    "inline_contract": (
        "card_transactions.yaml",
        "contract: {file: contracts/card_transactions.yaml}\n",
        "contract:\n  version: 1\n  schema:\n    - {name: amount, type: decimal}\n",
        16,
        "contract.schema[0].type",
        "got 'decimal'",
    ),
}


@pytest.mark.parametrize("case", ERRORS, ids=list(ERRORS))
def test_spec_errors_name_file_line_key_and_reason(case, specs):
    file, old, new, line, key, reason = ERRORS[case]
    edit(specs / file, old, new)
    spec_file = specs / (file if "/" not in file else f"{Path(file).stem}.yaml")
    with pytest.raises(ConfigError) as caught:
        load_spec(spec_file)
    error = caught.value
    assert (error.file, error.line, error.key) == (str(spec_file), line, key)
    assert reason in error.reason
    assert str(error).startswith(f"{spec_file}:{line}: {key}: ")


@pytest.mark.parametrize(
    "hook, reason",
    [
        ("absent_module:shout", "cannot import absent_module: ModuleNotFoundError"),
        ("spec_hooks:whisper", "spec_hooks has no function whisper"),
        (
            "spec_hooks:two_arguments",
            "spec_hooks:two_arguments takes (record, context); record_transform takes (record)",
        ),
    ],
)
def test_hooks_are_importable_with_their_points_signature(hook, reason, specs, monkeypatch):
    (specs.parent / "spec_hooks.py").write_text(HOOKS)
    monkeypatch.syspath_prepend(str(specs.parent))
    hooks = "compatibility: FULL\nhooks:\n  record_transform: spec_hooks:shout\n"
    path = edit(specs / "customers.yaml", "compatibility: FULL\n", hooks)
    check_hooks(load_spec(path), path)  # the right signature passes
    edit(path, "spec_hooks:shout", hook)
    with pytest.raises(ConfigError) as caught:
        check_hooks(load_spec(path), path)
    assert (caught.value.line, caught.value.key) == (10, "hooks.record_transform")
    assert reason in caught.value.reason


def test_the_example_partitioner_takes_an_event_date(specs):
    hooks = "hooks:\n  partitioner: lake_hooks.examples:friday_for_weekends\n"
    path = edit(specs / "fx_rates.yaml", "compatibility: FULL\n", hooks)
    check_hooks(load_spec(path), path)  # (event_date), as HOOK_POINTS says


def test_partitioning_by_ingest_date_reaches_the_source_declaration(specs):
    path = edit(specs / "fx_rates.yaml", "compatibility: FULL\n", "partitioning: ingest_date\n")
    assert load_spec(path).source_config("fx_rates").partitioning == "ingest_date"


def test_spec_hash_counts_content_not_comments_and_follows_the_contract(specs):
    path = specs / "customers.yaml"
    original = spec_hash(load_spec(path), specs)
    # Without comments, in another style and key order: the same spec.
    path.write_text(yaml.safe_dump(yaml.safe_load(path.read_text()), sort_keys=True))
    assert spec_hash(load_spec(path), specs) == original
    contract = edit(specs / "contracts" / "customers.yaml", "version: 1", "version: 2")
    assert spec_hash(load_spec(path), specs) != original
    edit(contract, "version: 2", "version: 1")
    assert spec_hash(load_spec(path), specs) == original
    edit(path, "owner: customer-data", "owner: customer-team")
    assert spec_hash(load_spec(path), specs) != original


def generate(specs: Path, pipelines: Path, name: str) -> SourceConfig:
    """What `lake generate` writes for the loaders, source.yaml and contract.yaml, stamped; the
    SourceConfig the lake should read back."""
    spec = load_spec(specs / f"{name}.yaml")
    source = replace(spec.source_config(name), generation=Generation(1, spec_hash(spec, specs)))
    declared = TypeAdapter(SourceConfig).dump_python(source, mode="json", exclude_none=True)
    del declared["source_id"], declared["generation"]
    (pipelines / name).mkdir(parents=True)
    for file, body in (
        ("source.yaml", {"sources": {name: declared}}),
        ("contract.yaml", spec.contract_document(name, specs)),
    ):
        text = yaml.safe_dump(body, sort_keys=True)
        (pipelines / name / file).write_text(
            stamped(text, source.generation, f"pipelines/{name}.yaml")
        )
    return source


def test_the_lake_reads_the_generated_sources_and_contracts(specs, tmp_path):
    pipelines, hand_written = tmp_path / "lake_pipelines", tmp_path / "contracts"
    hand_written.mkdir()
    expected = {
        name: generate(specs, pipelines, name) for name in ("card_transactions", "customers")
    }
    env = {"LAKE_ROOT": str(tmp_path / "lake"), "LAKE_PIPELINES_DIR": str(pipelines)}

    settings = load_settings(env)
    assert settings.sources == expected  # generation included: read from the stamps
    assert settings.pipelines_dir == settings.pipeline_contracts_dir == pipelines
    contracts = load_contracts(hand_written, settings.sources, settings.pipeline_contracts_dir)
    assert sorted(contracts) == ["card_transactions", "customers"]
    customers = load_spec(specs / "customers.yaml").contract_document("customers", specs)
    assert contracts["customers"] == Contract.model_validate(customers)

    # LAKE_CONTRACTS_DIR names all the contracts; LAKE_SOURCES_FILE all the sources.
    chosen = load_settings({**env, "LAKE_CONTRACTS_DIR": str(hand_written)})
    assert (chosen.pipelines_dir, chosen.pipeline_contracts_dir) == (pipelines, None)
    sources_file = tmp_path / "sources.yaml"
    sources_file.write_text("sources:\n  feed: {format: json, event_time_field: at}\n")
    fixture = load_settings({**env, "LAKE_SOURCES_FILE": str(sources_file)})
    assert (fixture.pipelines_dir, list(fixture.sources)) == (None, ["feed"])

    # A contract left in the hand-written folder beside the generated one is refused.
    shutil.copy(pipelines / "customers" / "contract.yaml", hand_written / "customers.yaml")
    with pytest.raises(ConfigError, match="'customers' is also the contract of .*contract.yaml"):
        load_contracts(hand_written, settings.sources, pipelines)


@pytest.mark.parametrize(
    "file, old, new, key, reason",
    [
        (
            "source.yaml",
            "\n  customers:",
            "\n  clients:",
            "sources",
            "must declare 'customers' only",
        ),
        ("source.yaml", "# lake-generated", "# hand-made", "-", "no lake-generated stamp"),
        ("contract.yaml", "dataset: customers", "dataset: clients", "dataset", "pipeline's folder"),
    ],
)
def test_generated_files_name_their_pipeline(file, old, new, key, reason, specs, tmp_path):
    pipelines = tmp_path / "lake_pipelines"
    generate(specs, pipelines, "customers")
    path = edit(pipelines / "customers" / file, old, new)
    with pytest.raises(ConfigError) as caught:
        load_settings({"LAKE_ROOT": str(tmp_path / "lake"), "LAKE_PIPELINES_DIR": str(pipelines)})
        load_contracts(tmp_path, pipelines_dir=pipelines)
    assert (caught.value.file, caught.value.key) == (str(path), key)
    assert reason in caught.value.reason
