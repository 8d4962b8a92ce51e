"""The whole definition set as the code location loads it, with the repository's own config: an
asset, check, job, sensor or schedule that appears, disappears or changes its default status
shows here, in review."""

from __future__ import annotations

import pytest
from dagster import AssetKey

from lake_assets.definitions import build_definitions
from lake_assets.settings import load_settings

ASSETS = [
    "access/masked_views",
    "classification/card_transactions",
    "classification/crm_contacts",
    "classification/customers",
    "classification/fx_rates",
    "classification/order_events",
    "contracts/card_transactions",
    "contracts/crm_contacts",
    "contracts/customers",
    "contracts/fx_rates",
    "contracts/order_events",
    "contracts/silver_customer",
    "contracts/silver_fx_rates",
    "contracts/silver_orders",
    "cost/cur",
    "cost/drivers",
    "cost/lake_commands",
    "cost/ledger",
    "curated/card_transactions",
    "curated/crm_contacts",
    "curated/customers",
    "curated/fx_rates",
    "curated/order_events",
    "gold/dim_customer",
    "gold/fact_card_spend",
    "gold/fact_orders",
    "gold/kpi_daily",
    "history/customers",
    "maintenance/compaction",
    "marts/spend_by_customer",
    "raw/card_transactions",
    "raw/crm_contacts",
    "raw/customers",
    "raw/fx_rates",
    "raw/order_events",
    "recovery/catalog_export",
    "registry/card_transactions",
    "registry/crm_contacts",
    "registry/customers",
    "registry/fx_rates",
    "registry/order_events",
    "silver/crm_contacts",
    "silver/customer",
    "silver/fx_rates",
    "silver/orders",
    "slo/evaluation",
]
CHECKS = [
    "access/masked_views:no_profile_reads_a_masked_column_in_clear",
    "contracts/card_transactions:contract_holds_on_published",
    "contracts/crm_contacts:contract_holds_on_published",
    "contracts/customers:contract_holds_on_published",
    "contracts/fx_rates:contract_holds_on_published",
    "contracts/order_events:contract_holds_on_published",
    "contracts/silver_customer:contract_holds_on_published",
    "contracts/silver_fx_rates:contract_holds_on_published",
    "contracts/silver_orders:contract_holds_on_published",
    "contracts/silver_orders:references_still_hold",
    "cost/cur:cur_contract",
    "cost/cur:tags_complete",
    "cost/ledger:ledger_reconciles",
    "curated/card_transactions:contract_amount_positive",
    "curated/card_transactions:contract_amount_unusually_large",
    "curated/card_transactions:contract_channel_known",
    "curated/card_transactions:contract_currency_known",
    "curated/card_transactions:contract_customer_exists",
    "curated/card_transactions:contract_customer_id_format",
    "curated/card_transactions:contract_daily_quality_score",
    "curated/card_transactions:contract_daily_volume",
    "curated/card_transactions:contract_merchant_country_iso",
    "curated/card_transactions:contract_merchant_named",
    "curated/card_transactions:contract_online_has_device",
    "curated/card_transactions:contract_schema_not_null_amount",
    "curated/card_transactions:contract_schema_not_null_currency",
    "curated/card_transactions:contract_schema_not_null_customer_id",
    "curated/card_transactions:contract_schema_not_null_transaction_date",
    "curated/card_transactions:contract_schema_not_null_transaction_id",
    "curated/card_transactions:contract_transaction_id_present",
    "curated/card_transactions:contract_transaction_id_unique",
    "curated/card_transactions:generated_code_current",
    "curated/card_transactions:partition_deadline",
    "curated/card_transactions:slo",
    "curated/crm_contacts:contract_contact_id_format",
    "curated/crm_contacts:contract_customer_has_ref",
    "curated/crm_contacts:contract_customer_ref_format",
    "curated/crm_contacts:contract_lifecycle_stage_known",
    "curated/crm_contacts:contract_merged_into_another",
    "curated/crm_contacts:contract_merged_into_format",
    "curated/crm_contacts:contract_postcode_format",
    "curated/crm_contacts:contract_schema_not_null_contact_id",
    "curated/crm_contacts:contract_schema_not_null_updated_at",
    "curated/crm_contacts:generated_code_current",
    "curated/crm_contacts:slo",
    "curated/customers:contract_customer_id_format",
    "curated/customers:contract_customer_id_present",
    "curated/customers:contract_customer_id_unique",
    "curated/customers:contract_date_of_birth_plausible",
    "curated/customers:contract_email_format",
    "curated/customers:contract_risk_score_range",
    "curated/customers:contract_schema_not_null_customer_id",
    "curated/customers:contract_schema_not_null_full_name",
    "curated/customers:contract_schema_not_null_snapshot_date",
    "curated/customers:contract_segment_known",
    "curated/customers:contract_snapshot_volume",
    "curated/customers:generated_code_current",
    "curated/customers:partition_deadline",
    "curated/customers:slo",
    "curated/fx_rates:contract_base_currency_known",
    "curated/fx_rates:contract_base_currency_present",
    "curated/fx_rates:contract_currencies_complete",
    "curated/fx_rates:contract_quote_currency_myr",
    "curated/fx_rates:contract_rate_date_base_unique",
    "curated/fx_rates:contract_rate_plausible",
    "curated/fx_rates:contract_rate_positive",
    "curated/fx_rates:contract_rate_present",
    "curated/fx_rates:contract_schema_not_null_base_currency",
    "curated/fx_rates:contract_schema_not_null_quote_currency",
    "curated/fx_rates:contract_schema_not_null_rate_date",
    "curated/fx_rates:generated_code_current",
    "curated/fx_rates:slo",
    "curated/order_events:contract_amount_not_negative",
    "curated/order_events:contract_change_carries_the_order",
    "curated/order_events:contract_currency_known",
    "curated/order_events:contract_customer_exists",
    "curated/order_events:contract_customer_id_format",
    "curated/order_events:contract_daily_volume",
    "curated/order_events:contract_op_known",
    "curated/order_events:contract_order_id_format",
    "curated/order_events:contract_order_seq_unique",
    "curated/order_events:contract_schema_not_null_changed_at",
    "curated/order_events:contract_schema_not_null_op",
    "curated/order_events:contract_schema_not_null_order_date",
    "curated/order_events:contract_schema_not_null_order_id",
    "curated/order_events:contract_schema_not_null_seq",
    "curated/order_events:contract_seq_from_one",
    "curated/order_events:contract_status_known",
    "curated/order_events:generated_code_current",
    "curated/order_events:partition_deadline",
    "curated/order_events:slo",
    "gold/dim_customer:contract_as_of_date_not_null",
    "gold/dim_customer:contract_customer_id_not_null",
    "gold/dim_customer:contract_customer_sk_not_null",
    "gold/dim_customer:contract_one_row_per_customer_sk",
    "gold/dim_customer:inputs_passed_gate",
    "gold/fact_card_spend:contract_amount_myr_not_null",
    "gold/fact_card_spend:contract_amount_not_null",
    "gold/fact_card_spend:contract_currency_not_null",
    "gold/fact_card_spend:contract_customer_id_not_null",
    "gold/fact_card_spend:contract_customer_sk_found",
    "gold/fact_card_spend:contract_fx_rate_carried_forward_not_null",
    "gold/fact_card_spend:contract_fx_rate_not_null",
    "gold/fact_card_spend:contract_one_row_per_transaction_id",
    "gold/fact_card_spend:contract_spend_date_not_null",
    "gold/fact_card_spend:contract_transaction_date_not_null",
    "gold/fact_card_spend:contract_transaction_id_not_null",
    "gold/fact_card_spend:inputs_passed_gate",
    "gold/fact_orders:contract_customer_sk_found",
    "gold/fact_orders:contract_fx_rate_not_null",
    "gold/fact_orders:contract_last_change_seq_not_null",
    "gold/fact_orders:contract_last_changed_at_not_null",
    "gold/fact_orders:contract_one_row_per_order_id",
    "gold/fact_orders:contract_order_date_not_null",
    "gold/fact_orders:contract_order_id_not_null",
    "gold/fact_orders:inputs_passed_gate",
    "gold/kpi_daily:contract_active_customers_not_null",
    "gold/kpi_daily:contract_card_spend_myr_not_null",
    "gold/kpi_daily:contract_card_transactions_not_null",
    "gold/kpi_daily:contract_kpi_date_not_null",
    "gold/kpi_daily:contract_one_row_per_kpi_date_segment",
    "gold/kpi_daily:contract_order_revenue_myr_not_null",
    "gold/kpi_daily:contract_orders_not_null",
    "gold/kpi_daily:contract_segment_not_null",
    "gold/kpi_daily:inputs_passed_gate",
    "gold/kpi_daily:slo",
    "history/customers:valid_intervals_disjoint",
    "marts/spend_by_customer:customer_id_not_null",
    "marts/spend_by_customer:slo",
    "marts/spend_by_customer:transactions_reconcile",
    "registry/card_transactions:schema_compatible",
    "registry/crm_contacts:schema_compatible",
    "registry/customers:schema_compatible",
    "registry/fx_rates:schema_compatible",
    "registry/order_events:schema_compatible",
    "silver/crm_contacts:inputs_passed_gate",
    "silver/customer:contract_customer_id_unique",
    "silver/customer:contract_customer_sk_unique",
    "silver/customer:contract_lifecycle_stage_known",
    "silver/customer:contract_schema_not_null_as_of_date",
    "silver/customer:contract_schema_not_null_crm_contact_ids",
    "silver/customer:contract_schema_not_null_customer_id",
    "silver/customer:contract_schema_not_null_customer_sk",
    "silver/customer:inputs_passed_gate",
    "silver/customer:slo",
    "silver/fx_rates:contract_carried_from_an_earlier_day",
    "silver/fx_rates:contract_one_rate_per_currency",
    "silver/fx_rates:contract_rate_positive",
    "silver/fx_rates:contract_rate_within_treasury_band",
    "silver/fx_rates:contract_schema_not_null_base_currency",
    "silver/fx_rates:contract_schema_not_null_carried_forward",
    "silver/fx_rates:contract_schema_not_null_quote_currency",
    "silver/fx_rates:contract_schema_not_null_rate",
    "silver/fx_rates:contract_schema_not_null_rate_date",
    "silver/fx_rates:contract_schema_not_null_source_rate_date",
    "silver/fx_rates:inputs_passed_gate",
    "silver/fx_rates:slo",
    "silver/orders:contract_customer_known",
    "silver/orders:contract_schema_not_null_deleted",
    "silver/orders:contract_schema_not_null_order_date",
    "silver/orders:contract_schema_not_null_order_id",
    "silver/orders:contract_schema_not_null_seq",
    "silver/orders:inputs_passed_gate",
    "silver/orders:slo",
]
# Jobs named in the code; Dagster's own (the implicit asset job, a schedule's anonymous job)
# start with "__".
JOBS = [
    "catalog_export",
    "classify",
    "compaction",
    "contract_trials",
    "cost",
    "gold",
    "history",
    "ingestion",
    "marts",
    "partition_deadlines",
    "pipeline_drift",
    "profile",
    "promote",
    "pull_crm_contacts",
    "references_watch",
    "silver",
    "slo",
]
SENSORS = [
    ("classification_staleness", "RUNNING"),
    ("contract_changes", "RUNNING"),
    ("data_ready_dependencies", "RUNNING"),
    ("failed_runs_metric", "RUNNING"),
    ("failed_ticks_metric", "RUNNING"),
    ("masked_views_refresh", "STOPPED"),
    ("raw_arrivals", "RUNNING"),
]
# (name, cron, default status)
SCHEDULES = [
    ("catalog_export_schedule", "*/15 * * * *", "RUNNING"),
    ("compaction_schedule", "0 4 * * *", "RUNNING"),
    ("cost_daily", "30 6 * * *", "RUNNING"),
    ("daily_card_transactions", "0 2 * * *", "RUNNING"),
    ("daily_crm_contacts", "0 2 * * *", "RUNNING"),
    ("daily_customers", "0 2 * * *", "RUNNING"),
    ("daily_fx_rates", "0 2 * * *", "RUNNING"),
    ("daily_order_events", "0 2 * * *", "RUNNING"),
    ("partition_deadlines_schedule", "15 * * * *", "RUNNING"),
    ("pipeline_drift_schedule", "45 * * * *", "RUNNING"),
    ("pull_crm_contacts_schedule", "*/15 * * * *", "STOPPED"),
    ("references_watch_schedule", "50 6 * * *", "RUNNING"),
    ("slo_schedule", "*/5 * * * *", "RUNNING"),
]


@pytest.fixture(scope="module")
def repository(tmp_path_factory):
    settings = load_settings({"LAKE_ROOT": str(tmp_path_factory.mktemp("lake"))})
    return build_definitions(settings).get_repository_def()


def test_asset_keys(repository):
    keys = repository.asset_graph.get_all_asset_keys()
    assert sorted(key.to_user_string() for key in keys) == ASSETS


def test_asset_checks(repository):
    checks = repository.asset_graph.asset_check_keys
    assert sorted(f"{c.asset_key.to_user_string()}:{c.name}" for c in checks) == CHECKS


def test_jobs(repository):
    names = [job.name for job in repository.get_all_jobs() if not job.name.startswith("__")]
    assert sorted(names) == JOBS


def test_a_table_wide_trial_runs_in_its_own_job_never_with_a_build(repository):
    """references_still_hold and contract_holds_on_published try whole tables with Spark: they
    hang on the contract's asset, so no job that builds a table (whose run would select its
    checks) runs them."""
    apart = {"references_still_hold", "contract_holds_on_published"}
    by_job = {
        job.name: {k.name for k in job.asset_layer.asset_graph.asset_check_keys} & apart
        for job in repository.get_all_jobs()
        if not job.name.startswith("__")
    }
    assert {name: checks for name, checks in by_job.items() if checks} == {
        "contract_trials": {"contract_holds_on_published"},
        "references_watch": {"references_still_hold"},
    }
    graph = repository.asset_graph
    assert {k.asset_key.path[0] for k in graph.asset_check_keys if k.name in apart} == {"contracts"}
    assert graph.get(AssetKey(["contracts", "silver_orders"])).parent_keys == {
        AssetKey(["silver", "orders"])
    }


def test_sensors_and_their_default_status(repository):
    sensors = [(s.name, s.default_status.value) for s in repository.sensor_defs]
    assert sorted(sensors) == SENSORS


def test_schedules_and_their_default_status(repository):
    schedules = [
        (s.name, s.cron_schedule, s.default_status.value) for s in repository.schedule_defs
    ]
    assert sorted(schedules) == SCHEDULES


def test_the_cost_schedule_rebuilds_each_month_whose_bill_may_still_change():
    from datetime import date

    from lake_assets.cost.definitions import open_months

    assert open_months(date(2026, 12, 5)) == ["2026-11", "2026-12"]  # November still closing
    assert open_months(date(2026, 12, 6)) == ["2026-12"]
    assert open_months(date(2027, 1, 1)) == ["2026-12", "2027-01"]  # across the year


def test_every_table_asset_and_its_catalog_dataset_name_each_other(repository):
    """What cost drivers name a run's datasets by, and the asset the ledger's observation of a
    dataset lands on: one mapping, both ways, for every asset that publishes a table."""
    from dagster import AssetKey

    from lake_assets.ingestion.asset_keys import asset_of, dataset_of

    sources = {k.path[1] for k in repository.asset_graph.get_all_asset_keys() if k.path[0] == "raw"}
    tables = {
        key: dataset_of(key)
        for key in repository.asset_graph.get_all_asset_keys()
        if dataset_of(key) is not None
    }
    assert {tables[k] for k in tables if k.path[0] in ("silver", "cost")} >= {
        "silver_customer",
        "cost_ledger",
    }
    assert dataset_of(AssetKey(["history", "customers"])) == "customers_history"
    assert dataset_of(AssetKey(["registry", "customers"])) is None
    assert {key: asset_of(dataset, sources) for key, dataset in tables.items()} == {
        key: key for key in tables
    }


def test_the_cost_job_checks_the_tags_before_it_builds_the_ledger(repository):
    """Issue 16: tagging compliance comes before attribution. The check blocks, so the ledger's
    step waits for it; it warns, so an untagged resource never stops the ledger."""
    from dagster._core.execution.api import create_execution_plan

    from lake_assets.cost.cur_assets import CUR_ASSET
    from lake_assets.cost.definitions import COST_JOB
    from lake_assets.cost.ledger_assets import LEDGER_ASSET
    from lake_assets.cost.tagging_assets import TAGGING_CHECK

    job = repository.get_job(COST_JOB)
    [check] = [c for c in job.asset_layer.asset_graph.asset_check_keys if c.name == TAGGING_CHECK]
    assert check.asset_key == CUR_ASSET
    spec = job.asset_layer.asset_graph.get_check_spec(check)
    assert spec.blocking
    plan = create_execution_plan(job, run_config={}, tags={"dagster/partition": "2026-11"})
    steps = {step.key: step for step in plan.steps}
    [check_step] = [key for key in steps if TAGGING_CHECK in key]
    ledger_step = steps[LEDGER_ASSET.to_python_identifier()]
    assert check_step in ledger_step.get_execution_dependency_keys()


def test_the_partition_tags_the_lake_spells_are_dagsters():
    """Dagster keeps them in a private module; a rename there must fail here, not leave the
    lake's range runs untagged (lake_assets/runtime/run_tags.py)."""
    from dagster._core.storage import tags as dagster_tags

    from lake_assets.runtime import run_tags

    assert run_tags.PARTITION_TAG == dagster_tags.PARTITION_NAME_TAG
    assert run_tags.RANGE_START_TAG == dagster_tags.ASSET_PARTITION_RANGE_START_TAG
    assert run_tags.RANGE_END_TAG == dagster_tags.ASSET_PARTITION_RANGE_END_TAG
