"""Plans for every registered Spark job over one benchmark lake, made by the orchestrator's own
planning functions, so a runner benchmark runs each job on what the orchestrator would hand it.

The lake (setup, never timed): the card payload landed, profiled and promoted into EVENT_DAY,
and a customer snapshot of the payload's CUSTOMERS for EVENT_DAY and the day after (every
CHANGED_EVERY-th customer changes segment, every LEFT_EVERY-th leaves), both promoted. The
history apply plan is made before the history exists (both snapshots, no earlier version); the
history is then applied in-process, so the as-of query has a version to read. A day of order
changes (an insert and an update per order of each customer, placed over the week before
EVENT_DAY), promoted into order_events, is what the silver orders merge plans from. A
generated month of CUR, about a line item per card, is what the cost jobs read: as Data Exports
delivers it (cost_cur), and curated with the drivers of its runs (cost_allocate). `lake contract
try` (contract_trial) tries a card contract with a row, a unique and a referential rule (each
card's customer against the day's snapshot) on the promoted day.

`JOB_PLANS` names, per job, its plan and the plan key of the folder it writes (None: it writes
nothing), so each run writes a folder of its own.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache, partial
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from dagster import DagsterInstance

from benchmarks import cost
from benchmarks.data import CUSTOMERS, EVENT_DAY
from benchmarks.gold import publish_gold_inputs
from benchmarks.lake import SOURCE, land_and_profile, local_lake
from benchmarks.timing import timed
from lake_assets.cli.runs import materialize_partitions, step_failures
from lake_assets.contracts.model import Contract
from lake_assets.contracts.trial import reference_checks, trial_plan
from lake_assets.cost.cur_data import CostWorld, as_curated, generate_month
from lake_assets.cost.cur_delivery import delivery_objects
from lake_assets.demo.medallion_data import fx_rate_days
from lake_assets.history.apply import apply_snapshots, as_of_plan, merge_plan, plan_snapshots
from lake_assets.ingestion.asset_keys import curated_key_of
from lake_assets.ingestion.lateness import lateness_plan
from lake_assets.ingestion.promotion_plan import PromotionPlan, plan_promotion
from lake_assets.layers.definitions import GOLD_DERIVED_TABLES
from lake_assets.layers.gate import InputState
from lake_assets.layers.model import DerivedTable
from lake_assets.layers.step import run_step, step_plan
from lake_assets.lineage.emitter import recorder_for
from lake_assets.runtime.jobs import run_job
from lake_assets.silver.customer_table import CRM, SILVER_CRM_CONTACTS, SILVER_CUSTOMER
from lake_assets.silver.fx_rates_table import RATES, SILVER_FX_RATES
from lake_assets.silver.orders_table import CHANGES_DATASET, SILVER_ORDERS
from lake_assets.tables.reader import published_uris, resolve_published

CUSTOMER_SOURCE = "customers"
CRM_DATASET, FX_DATASET = CRM.dataset, RATES.dataset
GOLD_CARD_SPEND = next(t for t in GOLD_DERIVED_TABLES if t.dataset == "gold_fact_card_spend")
SNAPSHOT_DAYS = (EVENT_DAY, EVENT_DAY + timedelta(days=1))
CHANGED_EVERY, LEFT_EVERY, DUPLICATE_EVERY = 10, 100, 50
COMPACTION_TARGET_BYTES = 128 * 2**20  # the compaction policy's default target file size


@dataclass(frozen=True)
class JobPlans:
    """The lake's resources and, per job, the plan the orchestrator would make for it."""

    resources: dict[str, Any]
    plans: dict[str, dict]

    def plan(self, job: str, label: str) -> dict:
        """The job's plan, writing (if it writes) under a folder named by `label`."""
        writes = JOB_PLANS[job].writes
        if writes is None:
            return self.plans[job]
        return {
            **self.plans[job],
            writes: self.resources["storage"].uri(f"bench/{job}/{label.replace(' ', '-')}/"),
        }


def promotion_plan(resources: dict[str, Any]) -> PromotionPlan:
    """The promotion plan of EVENT_DAY's landed cards, as the curated asset makes it."""
    registry, storage = resources["registry"], resources["storage"]
    source = resources["settings"].source(SOURCE)
    return plan_promotion(
        SOURCE,
        source.event_time_field,
        source.format,
        [EVENT_DAY.isoformat()],
        registry.versions(SOURCE),
        registry.raw_files(SOURCE),
        storage.uri,
    )


def _promote(resources: dict[str, Any]) -> dict:
    return {"plan": promotion_plan(resources).to_dict()}


def _history_apply(resources: dict[str, Any]) -> dict:
    catalog, storage = resources["catalog"], resources["storage"]
    source = resources["settings"].source(CUSTOMER_SOURCE)
    days = [day.isoformat() for day in SNAPSHOT_DAYS]
    planned = plan_snapshots(catalog, storage, source, days)
    return merge_plan(catalog, storage, source, planned, "bench/1", "bench/history_apply/")


def _history_as_of(resources: dict[str, Any]) -> dict:
    """After the history is applied (setup, in-process): the as-of query of the first day,
    as the platform believes it now, for every customer."""
    catalog, storage, settings = resources["catalog"], resources["storage"], resources["settings"]
    source = settings.source(CUSTOMER_SOURCE)
    days = [day.isoformat() for day in SNAPSHOT_DAYS]
    spark = resources["spark_runner"].spark_session
    apply_snapshots(partial(run_job, spark), catalog, storage, source, days, "bench-setup")
    return as_of_plan(catalog, storage, source, days[0], datetime.now(UTC))


def _compaction_rewrite(resources: dict[str, Any]) -> dict:
    """The promoted card partition rewritten to the policy's target size, as
    compaction.service stages it (same columns: no migration)."""
    published = resources["catalog"].current(SOURCE, EVENT_DAY.isoformat())
    return {
        "source_uris": published_uris(resources["storage"], published),
        "target_file_bytes": COMPACTION_TARGET_BYTES,
        "columns": None,
    }


def _spend_by_customer(resources: dict[str, Any]) -> dict:
    catalog, storage, day = resources["catalog"], resources["storage"], [EVENT_DAY.isoformat()]
    return {
        "cards": resolve_published(catalog, storage, SOURCE, day),
        "customers": resolve_published(catalog, storage, CUSTOMER_SOURCE, day),
    }


def _lateness(resources: dict[str, Any]) -> dict:
    catalog, storage = resources["catalog"], resources["storage"]
    event_time = resources["settings"].source(SOURCE).event_time_field
    return lateness_plan(resolve_published(catalog, storage, SOURCE), event_time)


def _gold_table(resources: dict[str, Any]) -> dict:
    """The card spend fact of the promoted cards, over silver inputs published for the day."""
    cards = resources["catalog"].current(SOURCE, EVENT_DAY.isoformat()).row_count
    publish_gold_inputs(resources["spark_runner"].spark_session, resources, cards)
    return _derived_plan(resources, GOLD_CARD_SPEND)


def _cost_month(resources: dict[str, Any]) -> CostWorld:
    """A generated month of CUR (the cost benchmark's generator) of about as many line items as
    the day has cards, and the drivers of its runs."""
    return _generated_month(resources["catalog"].current(SOURCE, EVENT_DAY.isoformat()).row_count)


@cache  # both cost jobs read the same month: generated once
def _generated_month(cards: int) -> CostWorld:
    return generate_month(cost.MONTH, runs=max(10, cards // 100), seed=16, lines_per_run=117)


def _cost_cur(resources: dict[str, Any]) -> dict:
    """The month's delivery as Data Exports writes it, curated as cost/cur plans it."""
    storage = resources["storage"]
    delivered = delivery_objects(_cost_month(resources).cur, cost.MONTH, "bench", "2026-12-01")
    files = []
    for key, body in delivered.items():
        if key.endswith(".parquet"):
            storage.put_bytes(f"bench-inputs/{key}", body)
            files.append(storage.uri(f"bench-inputs/{key}"))
    return {"files": files, "delivery_id": "bench", "output_uri": None}


def _cost_allocate(resources: dict[str, Any]) -> dict:
    """The month's curated CUR and its drivers, allocated as cost/ledger plans it."""
    storage, month = resources["storage"], _cost_month(resources)
    uris = {}
    for name, table in (("cur", as_curated(month.cur)), ("drivers", month.drivers)):
        sink = io.BytesIO()
        pq.write_table(table, sink)
        storage.put_bytes(f"bench-inputs/cost-{name}.parquet", sink.getvalue())
        uris[name] = [storage.uri(f"bench-inputs/cost-{name}.parquet")]
    return cost.allocation_plan(uris["cur"], uris["drivers"], None)


# A card contract as `lake contract try` would try it: a row rule, a unique rule (read back on
# the driver) and a referential rule (a broadcast existence join against the day's customers).
CARD_TRIAL = Contract.model_validate({
    "dataset": SOURCE, "owner": "payments-data", "version": 2,
    "schema": [{"name": "transaction_id", "type": "string", "nullable": False},
               {"name": "customer_id", "type": "string", "nullable": False},
               {"name": "amount", "type": "double", "nullable": False}],
    "rules": [
        {"name": "amount_positive", "severity": "error", "action": "drop",
         "range": {"column": "amount", "min": 0.01}},
        {"name": "one_row_per_transaction", "severity": "error", "action": "fail",
         "unique": {"columns": ["transaction_id"]}},
        {"name": "customer_known", "severity": "error", "action": "fail",
         "referential_integrity": {"column": "customer_id",
                                   "references": {"dataset": CUSTOMER_SOURCE,
                                                  "column": "customer_id"}}},
    ],
})  # fmt: skip


def _contract_trial(resources: dict[str, Any]) -> dict:
    """CARD_TRIAL tried on the promoted card day, as `lake contract try` plans it."""
    catalog, storage, day = resources["catalog"], resources["storage"], [EVENT_DAY.isoformat()]
    resolved = resolve_published(catalog, storage, SOURCE, day)
    references = reference_checks(catalog, storage, CARD_TRIAL, day, sliced=False)
    return trial_plan(resolved, CARD_TRIAL, references)


def _silver_customer(resources: dict[str, Any]) -> dict:
    """After the CRM state is built (setup, in-process, through the step): the conformed
    customers of EVENT_DAY from the master snapshot and that state."""
    catalog, storage, day = resources["catalog"], resources["storage"], EVENT_DAY.isoformat()
    recorder = recorder_for(resources["lineage"], resources["settings"].state_dir, storage.uri(""))
    spark = resources["spark_runner"].spark_session
    states = [InputState(CRM_DATASET, day, published=True)]
    built = run_step(
        SILVER_CRM_CONTACTS, day, "bench-setup", states, catalog, storage, recorder,
        partial(run_job, spark),
    )  # fmt: skip
    if not built.published_any:
        raise RuntimeError(f"setup: silver_crm_contacts[{day}] held by {built.held_by}")
    return _derived_plan(resources, SILVER_CUSTOMER)


def _derived_plan(resources: dict[str, Any], table: DerivedTable) -> dict:
    """The plan a derived table's step makes for EVENT_DAY over the catalog as it is."""
    day, catalog, storage = EVENT_DAY.isoformat(), resources["catalog"], resources["storage"]
    return step_plan(table, day, "bench", catalog, storage).plan


@dataclass(frozen=True)
class JobPlan:
    make: Callable[[dict[str, Any]], dict]
    writes: str | None  # the plan key of the folder the job writes


# In the order they are made: the apply plan before the as-of query's setup applies the history.
JOB_PLANS: dict[str, JobPlan] = {
    "promote": JobPlan(_promote, "output_uri"),
    "history_apply": JobPlan(_history_apply, "output_uri"),
    "history_as_of": JobPlan(_history_as_of, "output_uri"),
    "compaction_rewrite": JobPlan(_compaction_rewrite, "target_uri"),
    "spend_by_customer": JobPlan(_spend_by_customer, "output_uri"),
    "lateness": JobPlan(_lateness, None),
    "silver_crm_contacts": JobPlan(partial(_derived_plan, table=SILVER_CRM_CONTACTS), "output_uri"),
    "silver_fx_rates": JobPlan(partial(_derived_plan, table=SILVER_FX_RATES), "output_uri"),
    "silver_customer": JobPlan(_silver_customer, "output_uri"),
    "gold_table": JobPlan(_gold_table, "output_uri"),
    "orders_merge": JobPlan(partial(_derived_plan, table=SILVER_ORDERS), "output_uri"),
    "cost_cur": JobPlan(_cost_cur, "output_uri"),
    "cost_allocate": JobPlan(_cost_allocate, "output_uri"),
    "contract_trial": JobPlan(_contract_trial, None),
}


def job_plans(root: Path, payload: Path) -> JobPlans:
    """A fresh local lake (no contracts) under `root` holding the card payload and the customer
    snapshots, promoted, and every job's plan over it."""
    (root / "contracts").mkdir(parents=True)
    settings, resources = local_lake(root / "lake", LAKE_CONTRACTS_DIR=str(root / "contracts"))
    land_and_profile(resources, SOURCE, [(EVENT_DAY, payload)])
    snapshots = [(day, _customer_snapshot(root / "incoming", day)) for day in SNAPSHOT_DAYS]
    land_and_profile(resources, CUSTOMER_SOURCE, snapshots)
    land_and_profile(resources, CHANGES_DATASET, [(EVENT_DAY, _order_events(root / "incoming"))])
    land_and_profile(resources, CRM_DATASET, [(EVENT_DAY, _crm_contacts(root / "incoming"))])
    land_and_profile(resources, FX_DATASET, [(EVENT_DAY, _fx_rates(root / "incoming"))])
    instance = DagsterInstance.ephemeral()
    promotions = [(s, EVENT_DAY) for s in (SOURCE, CHANGES_DATASET, CRM_DATASET, FX_DATASET)] + [
        (CUSTOMER_SOURCE, day) for day in SNAPSHOT_DAYS
    ]
    for source_id, day in promotions:
        seconds, result = timed(
            lambda source_id=source_id, day=day: materialize_partitions(
                settings,
                [curated_key_of(source_id)],
                day.isoformat(),
                resources=resources,
                instance=instance,
            )
        )
        if not result.success:
            raise RuntimeError(f"setup: {source_id}[{day}] failed: {step_failures(result)}")
        print(f"  setup (not timed): promoted {source_id}[{day}] in {seconds:.1f} s")
    return JobPlans(resources, {job: JOB_PLANS[job].make(resources) for job in JOB_PLANS})


def _customer_snapshot(folder: Path, day) -> Path:
    """The customer master of `day` as CSV: after the first day, every CHANGED_EVERY-th
    customer changes segment and every LEFT_EVERY-th has left."""
    later = day != SNAPSHOT_DAYS[0]
    lines = ["customer_id,segment,snapshot_date\n"]
    for n in range(1, CUSTOMERS + 1):
        if later and n % LEFT_EVERY == 0:
            continue
        segment = "premier" if (n % 2 == 0) != (later and n % CHANGED_EVERY == 0) else "retail"
        lines.append(f"C{n:05d},{segment},{day}\n")
    path = folder / f"customers_{day:%Y%m%d}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(lines))
    return path


def _order_events(folder: Path) -> Path:
    """EVENT_DAY's order changes as JSON lines: per customer an order placed on one of the
    seven days before, inserted and then paid (the update first in the file: seq orders them)."""
    lines = []
    for n in range(1, CUSTOMERS + 1):
        order = {
            "order_id": f"O{n:07d}",
            "order_date": (EVENT_DAY - timedelta(days=n % 7)).isoformat(),
            "customer_id": f"C{n:05d}",
            "amount": 10.0 + n % 500,
            "currency": "MYR",
        }
        for seq, op, status in ((2, "update", "paid"), (1, "insert", "placed")):
            changed_at = f"{EVENT_DAY}T{n % 24:02d}:{seq:02d}:00Z"
            change = {**order, "op": op, "seq": seq, "status": status, "changed_at": changed_at}
            lines.append(json.dumps(change) + "\n")
    path = folder / f"order_events_{EVENT_DAY:%Y%m%d}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(lines))
    return path


def _crm_contacts(folder: Path) -> Path:
    """EVENT_DAY's CRM changes as JSON lines: a contact per customer (nested name and address,
    a list of e-mails), and every DUPLICATE_EVERY-th customer a duplicate merged into it."""
    lines = []
    for n in range(1, CUSTOMERS + 1):
        contact = {
            "contact_id": f"K{n:06d}",
            "customer_ref": f"C{n:05d}",
            "name": {"first": f"Name{n}", "last": "Tan"},
            "emails": [f"customer{n}@example.com.my"],
            "phone": f"+6012{n:07d}",
            "address": {
                "city": "Kuala Lumpur",
                "postcode": f"{50000 + n % 900:05d}",
                "country": "MY",
            },
            "lifecycle_stage": "customer",
            "merged_into": None,
            "updated_at": f"{EVENT_DAY}T{n % 24:02d}:00:00Z",
        }
        lines.append(json.dumps(contact) + "\n")
        if n % DUPLICATE_EVERY == 0:
            duplicate = {**contact, "contact_id": f"K{CUSTOMERS + n:06d}", "merged_into": contact["contact_id"]}  # fmt: skip
            lines.append(json.dumps(duplicate) + "\n")
    return _write(folder / f"crm_contacts_{EVENT_DAY:%Y%m%d}.json", lines)


def _fx_rates(folder: Path) -> Path:
    """The vendor's rates of EVENT_DAY (a business day) as CSV, as the demo generates them."""
    rows = fx_rate_days(EVENT_DAY, 1)[EVENT_DAY]
    lines = [",".join(rows[0]) + "\n"] + [",".join(map(str, r.values())) + "\n" for r in rows]
    return _write(folder / f"fx_rates_{EVENT_DAY:%Y%m%d}.csv", lines)


def _write(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(lines))
    return path
