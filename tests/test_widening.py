"""A dataset reads as one table whatever its history: a widened type and an empty partition."""

from __future__ import annotations

import json

import boto3
import duckdb
import pyarrow.dataset as pads
import pyarrow.parquet as pq
from lake_harness import failure_message
from pyspark.sql import functions as F

from lake_assets.lineage import partition_address
from lake_assets.lineage.graph import trace
from lake_assets.tables.types import SPARK_TYPES
from resources.aws.glue import GlueCatalog
from resources.catalog import PublishedPartition, SQLiteCatalog, StalePublish

CARDS = "card_transactions"


def published_files(lake, dataset: str, partitions) -> list[str]:
    """Every data file of the given published partitions, as an engine that reads the files
    the catalog names sees them (Athena over Glue): no casts, no skipping."""
    files = []
    for published in partitions:
        names = [
            info.key
            for info in lake.storage.list(published.location)
            if not info.key.rsplit("/", 1)[-1].startswith(("_", "."))
        ]
        assert names, f"{published.partition} is published with no data file"
        files += [str(lake.root / key) for key in names]
    return files


def catalog_ddl(partitions) -> str:
    newest = max(partitions, key=lambda p: p.published_at)
    return ", ".join(f"`{c}` {SPARK_TYPES[k]}" for c, k in newest.columns.items())


class RefusingCatalog(SQLiteCatalog):
    """The lake's catalog, where one partition's migration loses its optimistic check, as it
    would to a writer that published the partition meanwhile."""

    refuse: str | None = None

    def publish(self, published, expected_run_id=None):
        if "/compaction=" in published.location and published.partition == self.refuse:
            raise StalePublish(f"{published.dataset}[{published.partition}] changed meanwhile")
        return super().publish(published, expected_run_id)


def files_hold_catalog_types(lake) -> None:
    for published in lake.catalog.partitions(CARDS):
        for file in published_files(lake, CARDS, [published]):
            kind = str(pq.read_schema(file).field("amount").type)
            assert kind == ARROW[published.columns["amount"]], (published.partition, file)


ARROW = {"integer": "int64", "double": "double"}


def test_a_widened_type_reads_as_one_table_in_spark_pyarrow_and_duckdb(lake, spark):
    for day in ("2026-03-02", "2026-03-03"):
        lake.deliver(CARDS, day, f"whole-{day}.json", _cards(day, range(5), 12))
        assert lake.profile(CARDS, day).success
    result = lake.promote(CARDS, "2026-03-02", "2026-03-03")
    assert result.success, failure_message(result)
    assert {p.columns["amount"] for p in lake.catalog.partitions(CARDS)} == {"integer"}
    before = {p.partition: p for p in lake.catalog.partitions(CARDS)}

    # The producer starts sending fractional amounts: the registry accepts the widening.
    lake.deliver(CARDS, "2026-03-05", "cents.json", _cards("2026-03-05", range(10, 13), 7.25))
    assert lake.profile(CARDS, "2026-03-05").success
    widened = max(v.version for v in lake.registry.versions(CARDS))

    # The promotion migrates the older partitions first; one migration loses its optimistic
    # check, so the run fails and nothing is published under the widened schema.
    refusing = RefusingCatalog(lake.catalog.path)
    refusing.refuse = "2026-03-03"
    lake.resources["catalog"] = refusing
    result = lake.promote(CARDS, "2026-03-04", "2026-03-05")
    assert not result.success and "Re-run the promotion" in failure_message(result)
    partitions = {p.partition: p for p in lake.catalog.partitions(CARDS)}
    assert sorted(partitions) == ["2026-03-02", "2026-03-03"]
    assert partitions["2026-03-02"].columns["amount"] == "double"
    assert partitions["2026-03-03"] == before["2026-03-03"]
    # Half-way, every file still holds the types its catalog entry names, and the reader
    # reads the two as one table.
    files_hold_catalog_types(lake)
    assert dict(lake.rows(spark, CARDS).dtypes)["amount"] == "double"
    assert lake.rows(spark, CARDS).count() == 10
    # One type per column whichever partitions are read.
    assert dict(lake.rows(spark, CARDS, ["2026-03-03"]).dtypes)["amount"] == "double"

    # The rerun migrates what is left, then publishes; the range's empty day gets a file too.
    refusing.refuse = None
    result = lake.promote(CARDS, "2026-03-04", "2026-03-05")
    assert result.success, failure_message(result)
    partitions = lake.catalog.partitions(CARDS)
    assert [p.partition for p in partitions] == [
        "2026-03-02",
        "2026-03-03",
        "2026-03-04",
        "2026-03-05",
    ]
    assert {p.columns["amount"] for p in partitions} == {"double"}
    assert {p.schema_version for p in partitions} == {widened}
    files_hold_catalog_types(lake)
    expected = {"2026-03-02": 5 * 12.0, "2026-03-03": 5 * 12.0, "2026-03-05": 3 * 7.25}

    # The project's reader, through the catalog.
    rows = lake.rows(spark, CARDS)
    assert dict(rows.dtypes)["amount"] == "double"
    totals = {
        r["day"]: r["total"]
        for r in rows.groupBy(F.col("event_date").cast("string").alias("day"))
        .agg(F.sum("amount").alias("total"))
        .collect()
    }
    assert totals == expected

    files = published_files(lake, CARDS, partitions)
    # Spark over the files with the catalog's schema, as a Glue table reads them.
    direct = spark.read.schema(catalog_ddl(partitions)).parquet(*files)
    assert direct.count() == 13
    assert direct.agg(F.sum("amount")).first()[0] == sum(expected.values())
    # pyarrow over the files, no schema given: every file agrees, the empty day included.
    table = pads.dataset(files, format="parquet").to_table(columns=["amount"])
    assert table.num_rows == 13 and str(table.schema.field("amount").type) == "double"
    # DuckDB over the same files, without union_by_name: one schema throughout.
    total, count, kind = (
        duckdb.connect()
        .execute(
            "SELECT sum(amount), count(*), any_value(typeof(amount)) FROM read_parquet(?)",
            [files],
        )
        .fetchone()
    )
    assert (total, count, kind) == (sum(expected.values()), 13, "DOUBLE")

    # Each rewrite is recorded: its history with the version it migrated to, and a lineage
    # run that traces the migrated partition back to its raw files.
    records = [r for r in lake.compaction_history.records(CARDS)]
    assert [(r.partition, r.outcome, r.migrated_to) for r in records] == [
        ("2026-03-02", "compacted", widened),
        ("2026-03-03", "aborted", widened),
        ("2026-03-03", "compacted", widened),
    ]
    for day in ("2026-03-02", "2026-03-03"):
        tree = trace(lake.lineage.runs(), partition_address(CARDS, day))
        assert tree.job == f"schema-migration/{CARDS}" and tree.supersedes == before[day].run_id
        raw = {r.key for r in lake.registry.raw_files(CARDS) if r.ingest_date == day}
        assert len(raw) == 1 and tree.leaves() == raw

    # Idempotent: promoting again under the same schema rewrites nothing.
    locations = {p.partition: p.location for p in partitions}
    assert lake.promote(CARDS, "2026-03-05").success
    assert len(lake.compaction_history.records(CARDS)) == 3
    assert {p.partition: p.location for p in lake.catalog.partitions(CARDS)}.items() >= {
        d: locations[d] for d in ("2026-03-02", "2026-03-03", "2026-03-04")
    }.items()


def _cards(day: str, numbers, amount) -> str:
    return "".join(
        json.dumps(
            {
                "transaction_id": f"TXN-{day}-{n:03d}",
                "customer_id": f"C{n % 7:03d}",
                "amount": amount,
                "merchant": {"name": "Grab", "country": "MY"},
                "transaction_date": f"{day}T{n % 24:02d}:15:00Z",
            }
        )
        + "\n"
        for n in numbers
    )


def test_the_glue_table_takes_a_widened_type_and_an_added_column_and_never_narrows(
    aws_endpoint: str,
):
    """Athena reads every partition's files with the table's types: after a migration they
    must be the widened ones, even when an older plan publishes a partition afterwards."""
    catalog = GlueCatalog(
        "lake_curated", "lake-widening", endpoint_url=aws_endpoint, region="eu-west-1"
    )
    catalog.ensure_database()

    def publish(partition: str, run_id: str, columns: dict) -> None:
        catalog.publish(
            PublishedPartition(
                CARDS,
                partition,
                f"curated/{CARDS}/run={run_id}/_zone=published/event_date={partition}/",
                run_id,
                f"{partition}T12:00:00+00:00",
                5,
                run_id,
                columns,
            )
        )

    def table_columns() -> dict:
        glue = boto3.client("glue", endpoint_url=aws_endpoint, region_name="eu-west-1")
        table = glue.get_table(DatabaseName="lake_curated", Name=CARDS)["Table"]
        return {c["Name"]: c["Type"] for c in table["StorageDescriptor"]["Columns"]}

    publish("2026-03-02", "run-1", {"transaction_id": "string", "amount": "integer"})
    assert table_columns() == {"transaction_id": "string", "amount": "bigint"}
    widened = {"transaction_id": "string", "amount": "double", "channel": "string"}
    publish("2026-03-05", "run-2", widened)
    assert table_columns() == {"transaction_id": "string", "amount": "double", "channel": "string"}
    publish("2026-03-03", "run-3", {"transaction_id": "string", "amount": "integer"})
    assert table_columns() == {"transaction_id": "string", "amount": "double", "channel": "string"}
