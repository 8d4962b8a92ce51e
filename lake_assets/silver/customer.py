"""The Spark job of `silver/customer`: one row per customer of the master snapshot of day d,
conformed with the CRM's state as of d (merges folded, survivorship per attribute), under a
stable surrogate key.

CRM files carry only the contacts changed that day, so the CRM state as of d is kept as a table
of its own, `silver_crm_contacts` (the latest version of every contact up to d): the job reads
a base state (the newest published before the late-data lookback window) and the CRM changes
after it, and writes both the customers of d and the state of d (ADR pending-silver)."""

from __future__ import annotations

import hashlib

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from lake_assets.silver.crm_merges import surviving_contacts
from lake_assets.silver.written import write_counted
from lake_assets.tables.frames import conformed, read_resolved

# silver_crm_contacts: a contact's latest version; _ingested_at breaks ties of updated_at.
STATE_COLUMNS = {
    "contact_id": "string",
    "customer_ref": "string",
    "name__first": "string",
    "name__last": "string",
    "emails": "json",
    "phone": "string",
    "address__city": "string",
    "address__postcode": "string",
    "address__country": "string",
    "lifecycle_stage": "string",
    "merged_into": "string",
    "updated_at": "timestamp",
    "_ingested_at": "timestamp",
}
CUSTOMER_COLUMNS = {
    "customer_sk": "string",
    "customer_id": "string",
    "full_name": "string",
    "email": "string",
    "phone": "string",
    "segment": "string",
    "date_of_birth": "date",
    "risk_score": "integer",
    "city": "string",
    "country": "string",
    "lifecycle_stage": "string",
    "crm_contact_ids": "json",
    "as_of_date": "date",
}
# Each system's value of an attribute (conformance.CARRIED_BY says which system has which).
MASTER_VALUES = ("full_name", "email", "phone", "segment", "date_of_birth", "risk_score")
CRM_VALUES: dict[str, Column] = {
    "full_name": F.when(
        F.col("name__first").isNotNull() | F.col("name__last").isNotNull(),
        F.concat_ws(" ", "name__first", "name__last"),
    ),
    "email": F.get_json_object("emails", "$[0]"),  # the CRM lists the primary address first
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
        for name, expression in CRM_VALUES.items()
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
    m, c = master.alias("m"), crm.alias("c")
    joined = m.join(c, F.col("m.customer_id") == F.col("c.customer_id"), "left")

    def surviving(attribute: str) -> Column:
        carried = {"master": attribute in MASTER_VALUES, "crm": attribute in CRM_VALUES}
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


def silver_customer_job(spark: SparkSession, plan: dict) -> dict:
    """The registered Spark job `silver_customer`. Plan: `day`; `master` (customers[day]),
    `crm_base` (silver_crm_contacts, the newest state before the lookback window, or None) and
    `crm_changes` (crm_contacts of the days after it through `day`, or None), each as
    `tables.reader.resolve_published` resolved them; `prefer` (attribute -> system); and
    `customers_uri`, `state_uri`, the run's folders of the two outputs. Result: each output's
    `rows` and `files`, the `master_rows` and `crm_changes` read, and `crm_unmatched`, the
    customer references of the CRM that the master does not hold."""
    master = read_resolved(spark, plan["master"]).where(F.col("customer_id").isNotNull())
    base = read_resolved(spark, plan["crm_base"]) if plan["crm_base"] else None
    changes = read_resolved(spark, plan["crm_changes"]) if plan["crm_changes"] else None
    if base is None and changes is None:  # no CRM yet: the master alone
        state = conformed(master.limit(0), STATE_COLUMNS).select(*STATE_COLUMNS)
    else:
        state = crm_state(base, changes).cache()
    crm = crm_customers(state, survivors_frame(spark, state)).cache()
    customers = conformed_customers(master, crm, plan["prefer"], plan["day"])
    written = write_counted(spark, customers, plan["customers_uri"])
    kept = write_counted(spark, state, plan["state_uri"])
    unmatched = crm.join(master, "customer_id", "left_anti").count()
    return {
        "customers": written,
        "state": kept,
        "master_rows": master.count(),
        "crm_changes": changes.count() if changes is not None else 0,
        "crm_unmatched": unmatched,
    }


def _survivor_first() -> list[Column]:
    return [
        (F.col("contact_id") != F.col("survivor")).asc(),
        F.col("updated_at").desc_nulls_last(),
        F.col("contact_id").asc(),
    ]


def _whole(window) -> Window:
    return window.rowsBetween(Window.unboundedPreceding, Window.unboundedFollowing)
