"""A dataset reads as one table whatever its history: a widened type and an empty partition."""

from __future__ import annotations

import json

import duckdb
import pyarrow.dataset as pads
import pyarrow.parquet as pq
from lake_harness import failure_message

from lake_assets.ingestion.promotion import SPARK_TYPES

CARDS = "card_transactions"


def published_files(lake, dataset: str) -> list[str]:
    """Every data file of every current partition, as an engine that reads the files the
    catalog names would see them (Athena over Glue): no casts, no skipping."""
    files = []
    for published in lake.catalog.partitions(dataset):
        names = [
            info.key
            for info in lake.storage.list(published.location)
            if not info.key.rsplit("/", 1)[-1].startswith(("_", "."))
        ]
        assert names, f"{published.partition} is published with no data file"
        files += [str(lake.root / key) for key in names]
    return files


def catalog_ddl(lake, dataset: str) -> str:
    newest = max(lake.catalog.partitions(dataset), key=lambda p: p.published_at)
    return ", ".join(f"`{c}` {SPARK_TYPES[k]}" for c, k in newest.columns.items())


def test_a_widened_type_reads_as_one_table_in_spark_pyarrow_and_duckdb(lake, spark):
    for day in ("2026-03-02", "2026-03-03"):
        lake.deliver("card_transactions", day, f"whole-{day}.json", _cards(day, range(5), 12))
        assert lake.profile(CARDS, day).success
    result = lake.promote(CARDS, "2026-03-02", "2026-03-03")
    assert result.success, failure_message(result)
    assert {p.columns["amount"] for p in lake.catalog.partitions(CARDS)} == {"integer"}

    # The producer starts sending fractional amounts: the registry accepts the widening.
    lake.deliver(CARDS, "2026-03-05", "cents.json", _cards("2026-03-05", range(10, 13), 7.25))
    assert lake.profile(CARDS, "2026-03-05").success
    # The range holds a day with no rows at all: it is published empty, with the full schema.
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
    expected = {"2026-03-02": 5 * 12.0, "2026-03-03": 5 * 12.0, "2026-03-05": 3 * 7.25}

    # The project's reader, through the catalog.
    rows = lake.rows(spark, CARDS)
    assert dict(rows.dtypes)["amount"] == "double"
    totals = {
        r["day"]: r["total"]
        for r in rows.groupBy(rows.event_date.cast("string").alias("day"))
        .agg({"amount": "sum"})
        .withColumnRenamed("sum(amount)", "total")
        .collect()
    }
    assert totals == expected

    files = published_files(lake, CARDS)
    # Spark over the files with the catalog's schema, as a Glue table reads them.
    direct = spark.read.schema(catalog_ddl(lake, CARDS)).parquet(*files)
    assert direct.count() == 13 and direct.agg({"amount": "sum"}).first()[0] == sum(
        expected.values()
    )
    # pyarrow: every file holds the catalog's types, the empty day included.
    for file in files:
        assert str(pq.read_schema(file).field("amount").type) == "double", file
    table = pads.dataset(files, format="parquet").to_table(columns=["amount"])
    assert table.num_rows == 13 and str(table.schema.field("amount").type) == "double"
    # DuckDB over the same files, without union_by_name: one schema throughout.
    total, count, kind = duckdb.sql(
        f"SELECT sum(amount), count(*), typeof(any_value(amount)) FROM read_parquet({files!r})"
    ).fetchone()
    assert (total, count, kind) == (sum(expected.values()), 13, "DOUBLE")


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
