"""`silver/crm_contacts` (the CRM state) and `silver/customer` declared as derived tables
(lake_assets/layers), with the plan part that is theirs: which CRM state and changes to read.

The CRM state as of d is the newest silver_crm_contacts partition published on or before
d - L - 1 (L: crm_contacts' `lookback_days`, the late-data window, so no late change can alter
that base) with every CRM change after it through d applied. A late change of day p re-runs
p..p+L (the rules' lookback in config/dependencies.yaml), each from a base before p: those runs
do not depend on each other, in whatever order they run.

The state of d - L - 1 is an input of both tables (`STATE_BASE`, ADR-0202): the gate holds a day
whose base was held back or failed, the base's version is among what a day is built from, and
the rules' `base` re-runs d when its base is published again, so a corrected day older than the
window reaches every later state, one base at a time. Only where that day has no state (the
first days, a gap) is an older one read, as the newest before it."""

from __future__ import annotations

from datetime import date, timedelta

from lake_assets.layers.model import DerivedTable, LayerInput, PlanInputs
from lake_assets.lineage.model import ColumnInput, Transformation, derived_from
from lake_assets.settings import load_sources
from lake_assets.silver.conformance import CARRIED_BY, load_survivorship
from lake_assets.silver.customer_schema import CUSTOMER_COLUMNS, STATE_COLUMNS
from lake_assets.tables.reader import resolve_published

CRM_STATE = "silver_crm_contacts"
# The lookback of seed 000 project 3: how late a CRM change may still land in its own day.
CRM_LOOKBACK_DAYS = load_sources()["crm_contacts"].lookback_days
CRM = LayerInput("crm_contacts", ("curated", "crm_contacts"), False, CRM_LOOKBACK_DAYS)
MASTER = LayerInput("customers", ("curated", "customers"))
STATE_BASE = LayerInput(
    CRM_STATE, ("silver", "crm_contacts"), required=False, base_days=CRM_LOOKBACK_DAYS + 1
)


def crm_reads(inputs: PlanInputs, lookback_days: int = CRM_LOOKBACK_DAYS) -> dict:
    """`crm_base` (the state of partition - lookback - 1, else the newest before it) and
    `crm_changes` (crm_contacts after it through the partition), resolved for the job; None
    when none."""
    before = (date.fromisoformat(inputs.partition) - timedelta(days=lookback_days + 1)).isoformat()
    catalog, storage = inputs.catalog, inputs.storage
    bases = [p.partition for p in catalog.partitions(CRM_STATE) if p.partition <= before]
    base = bases[-1] if bases else None
    changes = [
        p.partition
        for p in catalog.partitions("crm_contacts")
        if (base is None or p.partition > base) and p.partition <= inputs.partition
    ]
    # The state of `before` is the declared input (STATE_BASE), resolved as the gate passed it.
    crm_base = inputs.resolved.get(CRM_STATE) or (
        resolve_published(catalog, storage, CRM_STATE, [base]) if base else None
    )
    return {
        "crm_base": crm_base,
        "crm_changes": (
            resolve_published(catalog, storage, "crm_contacts", changes) if changes else None
        ),
    }


# Loaded with the code location, so a bad survivorship file fails there, naming file and key.
SURVIVORSHIP = load_survivorship()


def _customer_plan(inputs: PlanInputs) -> dict:
    return {**crm_reads(inputs), "prefer": dict(SURVIVORSHIP.prefer)}


# Each attribute from the columns of the systems that carry it; the key from customer_id.
_MASTER_SOURCES = {a: [f"customers.{a}"] for a in CARRIED_BY if "master" in CARRIED_BY[a]}
_CRM_SOURCES = {
    "full_name": ["crm_contacts.name__first", "crm_contacts.name__last"],
    "email": ["crm_contacts.emails"],
    "phone": ["crm_contacts.phone"],
    "city": ["crm_contacts.address__city"],
    "country": ["crm_contacts.address__country"],
    "lifecycle_stage": ["crm_contacts.lifecycle_stage"],
}


def _derived(
    inputs: list[str], transformation: Transformation = "TRANSFORMATION"
) -> list[ColumnInput]:
    return derived_from(*inputs, transformation=transformation)


CUSTOMER_LINEAGE = {
    "customer_sk": _derived(["customers.customer_id"]),
    "customer_id": _derived(["customers.customer_id"], "IDENTITY"),
    **{a: _derived(_MASTER_SOURCES.get(a, []) + _CRM_SOURCES.get(a, [])) for a in CARRIED_BY},
    "crm_contact_ids": _derived(["crm_contacts.contact_id", "crm_contacts.merged_into"]),
    "as_of_date": _derived(["customers.snapshot_date"]),
}

SILVER_CRM_CONTACTS = DerivedTable(
    dataset=CRM_STATE,
    asset=("silver", "crm_contacts"),
    job="silver_crm_contacts",
    inputs=(CRM, STATE_BASE),
    columns=STATE_COLUMNS,
    description="The CRM's state as of each day: the latest version of every contact (CRM "
    "files carry only the contacts changed that day). silver/customer's incremental base.",
    column_lineage={c: _derived([f"crm_contacts.{c}"], "IDENTITY") for c in STATE_COLUMNS},
    plan_extra=crm_reads,
)
SILVER_CUSTOMER = DerivedTable(
    dataset="silver_customer",
    asset=("silver", "customer"),
    job="silver_customer",
    inputs=(MASTER, CRM, STATE_BASE),
    columns=CUSTOMER_COLUMNS,
    description="One row per customer of the day's master snapshot, conformed with the CRM "
    "as of that day: merges folded, survivorship by config/silver/customer.yaml, and a "
    "customer_sk that never changes for a customer.",
    column_lineage=CUSTOMER_LINEAGE,
    plan_extra=_customer_plan,
)
