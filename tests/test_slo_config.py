"""The SLO declarations (lake_assets/slo/config.py): the lake's own load, tiers from contracts
and zones, and every refusal naming file, key and reason."""

from __future__ import annotations

import shutil
from datetime import timedelta

import pytest

from lake_assets.config import ConfigError
from lake_assets.contracts.model import lake_contracts
from lake_assets.settings import DEFAULT_SLO_DIR, load_settings
from lake_assets.slo.config import load_slos, tier_of
from lake_assets.slo.model import SLI_KINDS
from lake_assets.slo.service import lake_datasets, lake_slos


@pytest.fixture(scope="module")
def lake():
    settings = load_settings()
    return lake_contracts(settings), lake_datasets(settings)


def test_the_lakes_own_slos_load_and_cover_every_sli(lake):
    slos = lake_slos(load_settings())
    assert {s.sli for s in slos} == set(SLI_KINDS)
    by_id = {s.id: s for s in slos}
    # The tier is the contract's: card transactions feed regulatory reporting.
    assert by_id["card_transactions.freshness"].tier == "regulatory"
    assert by_id["card_transactions.freshness"].objective == 0.999
    assert by_id["card_transactions.freshness"].cadence == timedelta(minutes=1)
    # A group takes its most important member's tier; its events are summed.
    assert by_id["silver.success"].datasets == (
        "silver_customer",
        "silver_orders",
        "silver_fx_rates",
    )
    assert by_id["silver.success"].tier == "critical"
    # Gold without a contract: critical by zone; best effort keeps a 28-day window.
    assert by_id["gold_kpi_daily.success"].tier == "critical"
    assert by_id["crm_contacts.latency"].window == timedelta(days=28)


def test_tiers_come_from_the_contract_else_the_zone(lake):
    contracts, _ = lake
    assert tier_of("crm_contacts", contracts) == "best_effort"
    assert tier_of("gold_fact_orders", contracts) == "critical"
    assert tier_of("silver_orders", contracts) == "standard"


def _refusal(tmp_path, lake, body: str, other: str | None = None) -> ConfigError:
    folder = tmp_path / "slo"
    folder.mkdir()
    shutil.copy(DEFAULT_SLO_DIR / "tiers.yaml", folder / "tiers.yaml")
    (folder / "a.yaml").write_text(body)
    if other is not None:
        (folder / "b.yaml").write_text(other)
    with pytest.raises(ConfigError) as raised:
        load_slos(*lake, folder)
    return raised.value


@pytest.mark.parametrize(
    ("body", "key", "reason"),
    [
        (
            "slos:\n  - {dataset: customers, sli: speed}\n",
            "slos[0].sli",
            "must be one of freshness, latency",
        ),
        (
            "slos:\n  - {dataset: card_transactions, sli: quality, objective: 0.99}\n",
            "slos[0].objective",
            "below the regulatory tier's floor 0.995: dangerously loose",
        ),
        (
            "slos:\n  - {dataset: crm_contacts, sli: cost, objective: 0.999}\n",
            "slos[0].objective",
            "above the best_effort tier's ceiling 0.99: wasted effort",
        ),
        (
            "slos:\n  - {dataset: customers, sli: quality, tier: best_effort}\n",
            "slos[0].tier",
            "contradicts customers's tier critical",
        ),
        ("slos:\n  - {dataset: nowhere, sli: success}\n", "slos[0].dataset", "no dataset"),
        ("slos:\n  - {dataset: crm_contacts, sli: latency}\n", "slos[0].threshold", "seconds"),
        (
            "slos:\n  - {dataset: crm_contacts, sli: freshness}\n",
            "slos[0].sli",
            "crm_contacts's contract declares no freshness SLA",
        ),
        (
            "slos:\n  - {dataset: customers, sli: success, window_days: 7}\n",
            "slos[0].window_days",
            "must be 28 or 30, got 7",
        ),
    ],
)
def test_a_refusal_names_file_key_and_reason(tmp_path, lake, body, key, reason):
    error = _refusal(tmp_path, lake, body)
    assert error.file.endswith("a.yaml") and error.key == key, error
    assert reason in error.reason, error


def test_an_id_declared_twice_is_refused_naming_both_files(tmp_path, lake):
    body = "slos:\n  - {dataset: customers, sli: success}\n"
    error = _refusal(tmp_path, lake, body, other=body)
    assert error.file.endswith("b.yaml") and error.key == "slos[0].id"
    assert "customers.success is declared twice (also in" in error.reason
    assert "a.yaml" in error.reason
