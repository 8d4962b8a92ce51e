"""A field with no values has no type evidence (issue 9, item 8): it is registered as "null",
which any later evidence refines without a BREAKING version, and its curated column holds
nulls until then; the partitions published meanwhile migrate to the evidenced type."""

from __future__ import annotations

import json

import boto3
from lake_harness import card, failure_message
from pyspark.sql import types as T

from resources.aws.glue import GlueCatalog
from resources.catalog import PublishedPartition

CARDS = "card_transactions"
CUSTOMERS = "customers"
HEADER = "customer_id,name,segment,snapshot_date"


def _statuses(lake, source: str) -> list[str]:
    return [v.status for v in lake.registry.versions(source)]


def test_a_header_only_first_file_is_typed_by_the_first_real_one(lake, spark):
    first, second = "2026-03-02", "2026-03-03"
    lake.deliver(CUSTOMERS, first, "header-only.csv", HEADER + "\n")
    assert lake.profile(CUSTOMERS, first).success
    assert lake.registry.versions(CUSTOMERS)[-1].fields["snapshot_date"] == "null"

    rows = "".join(f"C{n:05d},Name {n},retail,{second}\n" for n in range(3))
    lake.deliver(CUSTOMERS, second, "customers.csv", f"{HEADER}\n{rows}")
    assert lake.profile(CUSTOMERS, second).success
    versions = lake.registry.versions(CUSTOMERS)
    assert "BREAKING" not in _statuses(lake, CUSTOMERS), versions[-1].violations
    assert versions[-1].status == "ACTIVE"
    assert versions[-1].fields["snapshot_date"] == "date"

    for day in (first, second):
        result = lake.promote(CUSTOMERS, day)
        assert result.success, failure_message(result)
    table = lake.rows(spark, CUSTOMERS)
    assert table.schema["snapshot_date"].dataType == T.DateType()
    assert sorted(r.customer_id for r in table.collect()) == ["C00000", "C00001", "C00002"]


def test_an_all_null_key_is_refined_by_later_values_and_older_days_migrate(lake, spark):
    first, second = "2026-03-02", "2026-03-03"
    nulls = [{**card(n, first), "amount": None} for n in range(3)]
    lake.deliver(CARDS, first, "null-amounts.json", "".join(json.dumps(r) + "\n" for r in nulls))
    assert lake.profile(CARDS, first).success
    assert lake.registry.versions(CARDS)[-1].fields["amount"] == "null"
    result = lake.promote(CARDS, first)
    assert result.success, failure_message(result)
    assert lake.catalog.current(CARDS, first).columns["amount"] == "null"

    lake.deliver_cards(second, range(3))
    assert lake.profile(CARDS, second).success
    versions = lake.registry.versions(CARDS)
    assert "BREAKING" not in _statuses(lake, CARDS), versions[-1].violations
    assert versions[-1].fields["amount"] == "double"
    result = lake.promote(CARDS, second)
    assert result.success, failure_message(result)

    # The first day's files were rewritten at the evidenced type (ADR-0027): one table.
    assert lake.catalog.current(CARDS, first).columns["amount"] == "double"
    table = lake.rows(spark, CARDS)
    assert table.schema["amount"].dataType == T.DoubleType()
    amounts = {(str(r.event_date), r.amount) for r in table.collect()}
    assert amounts == {(first, None), (second, 12.5)}


def test_the_glue_column_of_an_untyped_field_takes_the_first_evidenced_type(aws_endpoint: str):
    """Athena reads the migrated files with the table's types: the string column that held an
    untyped field must become the evidenced type, and a real string column must not."""
    catalog = GlueCatalog(
        "lake_curated", "lake-evidence", endpoint_url=aws_endpoint, region="eu-west-1"
    )
    catalog.ensure_database()

    def publish(partition: str, run_id: str, columns: dict) -> dict:
        location = f"curated/{CARDS}/run={run_id}/_zone=published/event_date={partition}/"
        catalog.publish(
            PublishedPartition(
                CARDS,
                partition,
                location,
                run_id,
                f"{partition}T12:00:00+00:00",
                5,
                run_id,
                columns,
            )
        )
        glue = boto3.client("glue", endpoint_url=aws_endpoint, region_name="eu-west-1")
        table = glue.get_table(DatabaseName="lake_curated", Name=CARDS)["Table"]
        return {c["Name"]: c["Type"] for c in table["StorageDescriptor"]["Columns"]}

    assert publish("2026-03-02", "run-1", {"merchant": "string", "amount": "null"}) == {
        "merchant": "string",
        "amount": "string",
    }
    typed = {"merchant": "string", "amount": "double"}
    assert publish("2026-03-03", "run-2", typed) == {"merchant": "string", "amount": "double"}
    # An older plan publishing afterwards never turns the column back into a string.
    assert publish("2026-03-04", "run-3", {"merchant": "null", "amount": "null"}) == {
        "merchant": "string",
        "amount": "double",
    }
