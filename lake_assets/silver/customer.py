"""The Spark jobs of `silver/crm_contacts` and `silver/customer`.

CRM files carry only the contacts changed that day, so the CRM state as of day d is a table of
its own, `silver_crm_contacts` (the latest version of every contact up to d). Both jobs compute
it the same way, from the newest state published before the late-data lookback window (no late
change can alter it) and the CRM changes after it (customer_table.py plans which); the customer
job then conforms the master snapshot of d with it: one row per customer, merges folded,
survivorship per attribute, a stable surrogate key."""

from __future__ import annotations

import hashlib

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from lake_assets.layers.job import write_derived
from lake_assets.silver.crm_merges import surviving_contacts
from lake_assets.silver.customer_schema import CUSTOMER_COLUMNS, MASTER_COLUMNS, STATE_COLUMNS
from lake_assets.tables.frames import conformed, ddl, read_resolved
from lake_assets.tables.types import SPARK_TYPES

MASTER_VALUES = tuple(c for c in MASTER_COLUMNS if c != "customer_id")
CRM_ATTRIBUTES = ("full_name", "email", "phone", "city", "country", "lifecycle_stage")


def crm_values() -> dict[str, Column]:
    """The CRM's value of each attribute it carries, from a contact's columns."""
    return {
        "full_name": F.when(
            F.col("name__first").isNotNull() | F.col("name__last").isNotNull(),
            F.concat_ws(" ", "name__first", "name__last"),
        ),
        "email": F.get_json_object("emails", "$[0]"),  # the CRM lists the primary one first
        "phone": F.col("phone"),
        "city": F.col("address__city"),
        "country": F.col("address__country"),
        "lifecycle_stage": F.col("lifecycle_stage"),
    }


SK_NAMESPACE = "silver_customer|"


def customer_sk_of(customer_id: str) -> str:
    """The surrogate key of a customer: the first 32 hex digits of SHA-256 over a namespace and
    the master's customer_id. Deterministic (every run, every day, any engine), and untouched by
    CRM merges, which move contacts between customers but never change a customer_id."""
    return hashlib.sha256(f"{SK_NAMESPACE}{customer_id}".encode()).hexdigest()[:32]


def customer_sk(customer_id: Column) -> Column:
    """`customer_sk_of` as a Spark column."""
    return F.substring(F.sha2(F.concat(F.lit(SK_NAMESPACE), customer_id), 256), 1, 32)


def crm_state(base: DataFrame | None, changes: DataFrame | None) -> DataFrame:
    """The latest version of every contact: `base` (a state) with `changes` (CRM rows) applied.
    The later updated_at wins; on a tie, the later ingestion, then a change over the base."""
    frames = [
        conformed(frame, STATE_COLUMNS).select(*STATE_COLUMNS).withColumn("_change", F.lit(order))
        for order, frame in enumerate((base, changes))
        if frame is not None
    ]
    rows = frames[0] if len(frames) == 1 else frames[0].unionByName(frames[1])
    latest = Window.partitionBy("contact_id").orderBy(
        F.col("updated_at").desc_nulls_last(),
        F.col("_ingested_at").desc_nulls_last(),
        F.col("_change").desc(),
    )
    return (
        rows.withColumn("_version", F.row_number().over(latest))
        .where("_version = 1")
        .select(*STATE_COLUMNS)
    )


def survivors_frame(spark: SparkSession, state: DataFrame) -> DataFrame:
    """contact_id -> survivor, the contact it folds into (merge chains resolved on the driver:
    one pair per contact; a cycle raises crm_merges.MergeCycle naming its contacts)."""
    pairs = {
        r["contact_id"]: r["merged_into"]
        for r in state.select("contact_id", "merged_into").collect()
    }
    mapping = surviving_contacts(pairs)
    return spark.createDataFrame(sorted(mapping.items()), "contact_id string, survivor string")


def crm_customers(state: DataFrame, survivors: DataFrame) -> DataFrame:
    """The CRM's view of each customer (customer_ref): merged contacts folded into their
    survivor, the survivor's reference and values first, then the most recently updated member's
    where it has none; the contacts of every group naming the same customer together."""
    members = state.join(survivors, "contact_id")
    in_group = Window.partitionBy("survivor").orderBy(*_survivor_first())
    group_ref = F.first("customer_ref", ignorenulls=True).over(_whole(in_group))
    members = members.withColumn("customer_id", group_ref).where(F.col("customer_id").isNotNull())
    in_customer = _whole(Window.partitionBy("customer_id").orderBy(*_survivor_first()))
    values = [
        F.first(expression, ignorenulls=True).over(in_customer).alias(name)
        for name, expression in crm_values().items()
    ]
    contacts = F.to_json(F.array_sort(F.collect_set("contact_id").over(in_customer)))
    return members.select("customer_id", *values, contacts.alias("crm_contact_ids")).dropDuplicates(
        ["customer_id"]
    )


def conformed_customers(
    master: DataFrame, crm: DataFrame, prefer: dict[str, str], day: str
) -> DataFrame:
    """One row per master customer: each attribute from the system `prefer` names, the other
    system's value where the winner has none."""
    m, c = with_master_columns(master).alias("m"), crm.alias("c")
    joined = m.join(c, F.col("m.customer_id") == F.col("c.customer_id"), "left")

    def surviving(attribute: str) -> Column:
        carried = {"master": attribute in MASTER_VALUES, "crm": attribute in CRM_ATTRIBUTES}
        order = sorted(carried, key=lambda system: system != prefer[attribute])
        values = [F.col(f"{system[0]}.{attribute}") for system in order if carried[system]]
        return (F.coalesce(*values) if len(values) > 1 else values[0]).alias(attribute)

    rows = joined.select(
        customer_sk(F.col("m.customer_id")).alias("customer_sk"),
        F.col("m.customer_id").alias("customer_id"),
        *[surviving(a) for a in prefer],
        F.coalesce(F.col("c.crm_contact_ids"), F.lit("[]")).alias("crm_contact_ids"),
        F.to_date(F.lit(day)).alias("as_of_date"),
    )
    return conformed(rows, CUSTOMER_COLUMNS).select(*CUSTOMER_COLUMNS)


def crm_state_of(spark: SparkSession, plan: dict) -> DataFrame:
    """The CRM state the plan names: `crm_base` (a silver_crm_contacts partition, or None) with
    `crm_changes` (crm_contacts partitions after it, or None) applied."""
    base = read_resolved(spark, plan["crm_base"]) if plan["crm_base"] else None
    changes = read_resolved(spark, plan["crm_changes"]) if plan["crm_changes"] else None
    if base is None and changes is None:  # no CRM yet
        return spark.createDataFrame([], ddl(STATE_COLUMNS))
    return crm_state(base, changes)


def with_master_columns(master: DataFrame) -> DataFrame:
    """The master snapshot with every attribute the conformance reads: one its snapshots never
    carried (a column added later, a source without it) is null, not an error."""
    for name, kind in MASTER_COLUMNS.items():
        if name not in master.columns:
            master = master.withColumn(name, F.lit(None).cast(SPARK_TYPES[kind]))
    return master


def silver_crm_contacts_job(spark: SparkSession, plan: dict) -> dict:
    """The registered Spark job `silver_crm_contacts`: the CRM state as of `plan["partition"]`
    (plan: `crm_base`, `crm_changes`, as crm_state_of reads them), written by write_derived."""
    return write_derived(spark, crm_state_of(spark, plan), plan)


def silver_customer_job(spark: SparkSession, plan: dict) -> dict:
    """The registered Spark job `silver_customer`. Plan: `inputs["customers"]`, the master
    snapshot of `partition`; `crm_base` and `crm_changes` (crm_state_of); `prefer`
    (attribute -> system). Result: write_derived's, with `crm_unmatched`, the CRM customer
    references the master does not hold (not customers of the bank's record: left out)."""
    master = read_resolved(spark, plan["inputs"]["customers"])
    master = master.where(F.col("customer_id").isNotNull())
    state = crm_state_of(spark, plan).cache()
    crm = crm_customers(state, survivors_frame(spark, state)).cache()
    customers = conformed_customers(master, crm, plan["prefer"], plan["partition"])
    written = write_derived(spark, customers, plan)
    return {**written, "crm_unmatched": crm.join(master, "customer_id", "left_anti").count()}


def _survivor_first() -> list[Column]:
    return [
        (F.col("contact_id") != F.col("survivor")).asc(),
        F.col("updated_at").desc_nulls_last(),
        F.col("contact_id").asc(),
    ]


def _whole(window) -> Window:
    return window.rowsBetween(Window.unboundedPreceding, Window.unboundedFollowing)
