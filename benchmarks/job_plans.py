"""Plans for every registered Spark job over one benchmark lake, made by the orchestrator's own
planning functions, so a runner benchmark runs each job on what the orchestrator would hand it.

The lake (setup, never timed): the card payload landed, profiled and promoted into EVENT_DAY,
and a customer snapshot of the payload's CUSTOMERS for EVENT_DAY and the day after (every
CHANGED_EVERY-th customer changes segment, every LEFT_EVERY-th leaves), both promoted. The
history apply plan is made before the history exists (both snapshots, no earlier version); the
history is then applied in-process, so the as-of query has a version to read. A day of order
changes (an insert and an update per order of each customer, placed over the week before
EVENT_DAY), promoted into order_events, is what the silver orders merge plans from.

`JOB_PLANS` names, per job, its plan and the plan key of the folder it writes (None: it writes
nothing), so each run writes a folder of its own.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from dagster import DagsterInstance

from benchmarks.data import CUSTOMERS, EVENT_DAY
from benchmarks.gold import gold_job_plan, publish_gold_inputs
from benchmarks.lake import SOURCE, land_and_profile, local_lake
from benchmarks.timing import timed
from lake_assets.cli.runs import materialize_partitions, step_failures
from lake_assets.history.apply import apply_snapshots, as_of_plan, merge_plan, plan_snapshots
from lake_assets.ingestion.asset_keys import curated_key_of
from lake_assets.ingestion.lateness import lateness_plan
from lake_assets.ingestion.promotion_plan import PromotionPlan, plan_promotion
from lake_assets.layers.gate import InputState
from lake_assets.layers.step import run_step
from lake_assets.lineage.emitter import recorder_for
from lake_assets.runtime.jobs import run_job
from lake_assets.silver.orders_table import CHANGES_DATASET, SILVER_ORDERS
from lake_assets.tables.reader import published_uris, resolve_published

CUSTOMER_SOURCE = "customers"
SNAPSHOT_DAYS = (EVENT_DAY, EVENT_DAY + timedelta(days=1))
CHANGED_EVERY, LEFT_EVERY = 10, 100
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
    return gold_job_plan(resources, "gold_fact_card_spend", output_uri="")


class _Planned(Exception):
    """Stops the derived-layer step once it has handed its job the plan."""


def _orders_merge(resources: dict[str, Any]) -> dict:
    """The plan silver/orders' step makes for EVENT_DAY's changes (the step stopped there)."""
    catalog, storage, day = resources["catalog"], resources["storage"], EVENT_DAY.isoformat()
    plans = []

    def keep(job: str, plan: dict) -> dict:
        plans.append(plan)
        raise _Planned

    recorder = recorder_for(resources["lineage"], resources["settings"].state_dir, storage.uri(""))
    states = [InputState(CHANGES_DATASET, day, published=True)]
    try:
        run_step(SILVER_ORDERS, day, "bench", states, catalog, storage, recorder, keep)
    except _Planned:
        return plans[0]
    raise RuntimeError("setup: the silver/orders step ran no job")


@dataclass(frozen=True)
class JobPlan:
    make: Callable[[dict[str, Any]], dict]
    writes: str | None  # the plan key of the folder the job writes


# In the order they are made: the apply plan before the as-of query's setup applies the history.
JOB_PLANS: dict[str, JobPlan] = {
    "promote": JobPlan(_promote, "output_uri"),
    "history_apply": JobPlan(_history_apply, "output_uri"),
    "history_as_of": JobPlan(_history_as_of, None),
    "compaction_rewrite": JobPlan(_compaction_rewrite, "target_uri"),
    "spend_by_customer": JobPlan(_spend_by_customer, "output_uri"),
    "lateness": JobPlan(_lateness, None),
    "gold_table": JobPlan(_gold_table, "output_uri"),
    "orders_merge": JobPlan(_orders_merge, "output_uri"),
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
    instance = DagsterInstance.ephemeral()
    promotions = [(SOURCE, EVENT_DAY), (CHANGES_DATASET, EVENT_DAY)] + [
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
