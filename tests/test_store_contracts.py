"""One contract per interface, run against the embedded backend and its aws counterpart.

The aws backends talk to the moto server over HTTP, so these tests exercise the real boto3
requests, pagination and error mapping, not in-process fakes.
"""

from __future__ import annotations

import json
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest

from lake_assets.ingestion.raw_zone import RawFile
from lake_assets.ingestion.schema_versions import FieldDiff, RenameCandidate, SchemaVersion
from resources.aws.dynamo_registry import DynamoRegistryStore
from resources.aws.glue import GlueCatalog
from resources.aws.s3 import S3Storage
from resources.catalog import (
    PartitionCatalog,
    PublishedPartition,
    SQLiteCatalog,
    StalePublish,
)
from resources.registry_store import RegistryStore, SQLiteRegistryStore, VersionConflict
from resources.storage import LakeStorage, LocalStorage

REGION = "eu-west-1"
BUCKET = "lake-contract"
MiB = 1024**2


def _bucket(endpoint: str) -> None:
    boto3.client("s3", endpoint_url=endpoint, region_name=REGION).create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
    )


# --- storage -----------------------------------------------------------------------------------


@pytest.fixture(params=["local", "aws"])
def storage(request, tmp_path) -> LakeStorage:
    if request.param == "local":
        return LocalStorage(tmp_path / "lake")
    endpoint = request.getfixturevalue("aws_endpoint")
    _bucket(endpoint)
    # A key prefix and the smallest part size S3 allows, so a 6 MB file goes multipart.
    return S3Storage(
        BUCKET, "lake", endpoint_url=endpoint, region=REGION, multipart_threshold=5 * MiB
    )


def _binary(size: int, seed: int = 7) -> bytes:
    return random.Random(seed).randbytes(size)


def test_put_bytes_round_trips_binary_data(storage: LakeStorage):
    data = bytes(range(256)) * 4 + b"\r\n\x00\xff"
    info = storage.put_bytes("raw/source=a/ingest_date=2026-03-02/blob.bin", data)

    assert storage.get_bytes(info.key) == data
    assert (info.key, info.size) == ("raw/source=a/ingest_date=2026-03-02/blob.bin", len(data))
    assert info.etag and '"' not in info.etag
    assert info.last_modified.utcoffset() == timedelta(0)
    assert storage.head(info.key) == info


def test_put_overwrites(storage: LakeStorage):
    storage.put_bytes("raw/x.json", b"first")
    storage.put_bytes("raw/x.json", b"second")

    assert storage.get_bytes("raw/x.json") == b"second"
    assert storage.head("raw/x.json").size == len(b"second")


def test_put_file_streams_a_large_file_byte_for_byte(storage: LakeStorage, tmp_path: Path):
    data = _binary(6 * 10**6)
    source = tmp_path / "payload.json.gz"
    source.write_bytes(data)

    info = storage.put_file("raw/source=a/ingest_date=2026-03-02/payload.json.gz", source)

    assert info.size == len(data)
    assert storage.get_bytes(info.key) == data
    with storage.local_path(info.key) as local:
        assert local.name.endswith(".json.gz")
        assert local.read_bytes() == data


def test_missing_objects(storage: LakeStorage):
    assert storage.head("raw/missing.json") is None
    assert not storage.exists("raw/missing.json")
    with pytest.raises(FileNotFoundError):
        storage.get_bytes("raw/missing.json")
    with pytest.raises(FileNotFoundError), storage.local_path("raw/missing.json"):
        pass
    with pytest.raises(FileNotFoundError):
        storage.copy("raw/missing.json", "raw/target.json")


def test_list_returns_objects_under_the_prefix_in_key_order(storage: LakeStorage):
    keys = [
        "raw/source=b/ingest_date=2026-03-01/1.json",
        "raw/source=a/ingest_date=2026-03-02/2.json",
        "raw/source=a/ingest_date=2026-03-01/9.json",
        "raw/source=a/ingest_date=2026-03-01/10.json",
        "curated/source=a/part-0.parquet",
    ]
    for key in keys:
        storage.put_bytes(key, key.encode())

    listed = list(storage.list("raw/source=a/"))

    assert [info.key for info in listed] == sorted(k for k in keys if k.startswith("raw/source=a/"))
    assert [info.size for info in listed] == [len(info.key) for info in listed]
    assert [info.key for info in storage.list("raw/source=")] == sorted(
        k for k in keys if k.startswith("raw/")
    )
    assert list(storage.list("quarantine/")) == []


@pytest.mark.parametrize("storage", ["local", "aws"], indirect=True)
def test_list_orders_by_whole_key_not_by_folder(storage: LakeStorage):
    keys = ["raw/a/x", "raw/a-b/x", "raw/a.txt"]
    for key in keys:
        storage.put_bytes(key, b"1")

    assert [info.key for info in storage.list("raw/")] == sorted(keys)


def test_list_and_delete_span_more_than_one_page(storage: LakeStorage, request):
    # S3 returns at most 1000 keys per listing page and deletes at most 1000 per request.
    keys = [f"quarantine/ds/event_date=2026-03-02/run=r1/part-{n:04d}" for n in range(1003)]
    if isinstance(storage, S3Storage):
        # Listing is under test, not writing: one request per object instead of put_bytes' two.
        endpoint = request.getfixturevalue("aws_endpoint")
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name=REGION)
        for key in keys:
            s3.put_object(Bucket=BUCKET, Key=storage.prefix + key, Body=b"")
    else:
        for key in keys:
            storage.put_bytes(key, b"")

    assert [info.key for info in storage.list("quarantine/ds/")] == keys
    assert storage.delete_prefix("quarantine/ds/") == len(keys)
    assert list(storage.list("quarantine/")) == []


def test_copy_duplicates_bytes_and_keeps_the_source(storage: LakeStorage):
    data = _binary(1024)
    storage.put_bytes("raw/source=a/in.bin", data)
    storage.put_bytes("dead-letter/source=a/in.bin", b"older")

    storage.copy("raw/source=a/in.bin", "dead-letter/source=a/in.bin")

    assert storage.get_bytes("dead-letter/source=a/in.bin") == data
    assert storage.get_bytes("raw/source=a/in.bin") == data


def test_delete_prefix_deletes_only_under_the_prefix(storage: LakeStorage):
    for key in (
        "curated/ds/event_date=2026-03-02/run=1/a.parquet",
        "curated/ds/event_date=2026-03-02/run=1/b.parquet",
        "curated/ds/event_date=2026-03-02/run=1/sub/c.parquet",
        "curated/ds/event_date=2026-03-02/run=10/a.parquet",
    ):
        storage.put_bytes(key, b"x")

    assert storage.delete_prefix("curated/ds/event_date=2026-03-02/run=1/") == 3
    assert [i.key for i in storage.list("curated/")] == [
        "curated/ds/event_date=2026-03-02/run=10/a.parquet"
    ]
    assert storage.delete_prefix("curated/ds/event_date=2026-03-02/run=1/") == 0


def test_folders_are_the_folders_directly_under_a_prefix(storage: LakeStorage):
    for key in (
        "curated/ds/run=1/_zone=published/event_date=2026-03-02/a.parquet",
        "curated/ds/run=1/_SUCCESS",
        "curated/ds/compaction=2/event_date=2026-03-02/b.parquet",
        "curated/ds/loose.json",
        "curated/dt/run=3/c.parquet",
    ):
        storage.put_bytes(key, b"x")
    assert storage.folders("curated/ds/") == ["curated/ds/compaction=2/", "curated/ds/run=1/"]
    assert storage.folders("curated/") == ["curated/ds/", "curated/dt/"]
    assert storage.folders("quarantine/") == []


def test_uri_spells_the_key_as_engines_need_it(storage: LakeStorage):
    # Hadoop paths take the characters literally, so `=` in partition folders must stay `=`.
    key = "curated/ds/run=1/event_date=2026-03-02/"

    assert storage.uri(key).endswith("/" + key)


def test_s3_storage_specifics(aws_endpoint: str, tmp_path: Path):
    _bucket(aws_endpoint)
    storage = S3Storage(
        BUCKET, "/lake/", endpoint_url=aws_endpoint, region=REGION, multipart_threshold=5 * MiB
    )
    source = tmp_path / "big.bin"
    source.write_bytes(_binary(6 * 10**6))

    info = storage.put_file("raw/big.bin", source)
    with storage.local_path("raw/big.bin") as local:
        downloaded = local
        assert downloaded.exists()

    assert info.etag.endswith("-2")  # two parts: the upload streamed as multipart
    assert not downloaded.exists()
    assert storage.uri("raw/big.bin") == f"s3://{BUCKET}/lake/raw/big.bin"
    s3 = boto3.client("s3", endpoint_url=aws_endpoint, region_name=REGION)
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]] == ["lake/raw/big.bin"]


# --- registry store ----------------------------------------------------------------------------


@pytest.fixture(params=["local", "aws"])
def registry(request, tmp_path) -> RegistryStore:
    if request.param == "local":
        return SQLiteRegistryStore(tmp_path / "registry.db")
    return DynamoRegistryStore.create_tables(
        "schema-registry",
        "raw-file-index",
        endpoint_url=request.getfixturevalue("aws_endpoint"),
        region=REGION,
    )


def _version(source_id: str = "payments", stamp: str = "2026-03-02T10:00:00.000001Z"):
    return SchemaVersion(
        source_id=source_id,
        version=f"version#{stamp}",
        fields={"amount": "double", "booked_at": "timestamp", "iban": "string"},
        field_diff=FieldDiff(
            added={"iban": "string"},
            widened={"amount": ("integer", "double")},
            renamed=(RenameCandidate("acct", "iban", 0.8125, {"name": 0.5, "values": 0.9375}),),
        ),
        status="ACTIVE",
        compatibility="FULL",
        created_at=stamp,
        fingerprint="f" * 64,
        profiles={"amount": {"min": 0.1, "max": 1e12, "nulls": 0, "mean": 1.0}},
        violations=[],
        approved_renames={"iban": "acct"},
    )


def test_version_round_trips_losslessly(registry: RegistryStore):
    version = _version()
    registry.put_version(version)

    assert registry.versions("payments") == [version]
    assert registry.version("payments", version.version) == version
    assert registry.versions("cards") == []


def test_versions_come_oldest_first_per_source(registry: RegistryStore):
    stamps = [
        "2026-03-02T10:00:00.000003Z",
        "2026-03-01T09:00:00.000000Z",
        "2026-03-02T10:00:00.000001Z",
    ]
    for stamp in stamps:
        registry.put_version(_version(stamp=stamp))
    registry.put_version(_version(source_id="cards"))

    assert [v.version for v in registry.versions("payments")] == [
        f"version#{s}" for s in sorted(stamps)
    ]
    with pytest.raises(KeyError, match="no version"):
        registry.version("payments", "version#1999-01-01T00:00:00.000000Z")


def test_registering_an_existing_version_conflicts(registry: RegistryStore):
    registry.put_version(_version())
    rival = replace(_version(), status="BREAKING", violations=["removed acct"])

    with pytest.raises(VersionConflict):
        registry.put_version(rival)
    assert registry.versions("payments") == [_version()]


def test_update_replaces_an_existing_version_only(registry: RegistryStore):
    registry.put_version(_version())
    promoted = replace(_version(), status="DEPRECATED", promoted_at="2026-03-03T00:00:00+00:00")

    registry.update_version(promoted)

    assert registry.versions("payments") == [promoted]
    with pytest.raises(KeyError):
        registry.update_version(_version(stamp="2026-04-01T00:00:00.000000Z"))
    assert registry.versions("payments") == [promoted]


def _raw_file(key: str, **changes) -> RawFile:
    record = RawFile(
        source_id="payments",
        key=key,
        etag="0cc175b9c0f1b6a831c399e269772661",
        ingest_date="2026-03-02",
        size=1234,
        status="PROFILED",
        profiled_at="2026-03-02T10:05:00+00:00",
        version="version#2026-03-02T10:00:00.000001Z",
        row_count=10,
        field_dates={"booked_at": ["2026-03-01", "2026-03-02"]},
        field_nulls={"booked_at": 0},
    )
    return replace(record, **changes)


def test_raw_files_upsert_and_list_in_key_order(registry: RegistryStore):
    prefix = "raw/source=payments/ingest_date=2026-03-02/"
    for name in ("b.json", "a.json", "a b+c.json"):
        registry.put_raw_file(_raw_file(prefix + name))
    registry.put_raw_file(
        _raw_file("raw/source=cards/ingest_date=2026-03-02/a.json", source_id="cards")
    )
    dead = _raw_file(prefix + "b.json", status="DEAD_LETTER", version=None, reason="not JSON")

    registry.put_raw_file(dead)

    assert [f.key for f in registry.raw_files("payments")] == [
        prefix + "a b+c.json",
        prefix + "a.json",
        prefix + "b.json",
    ]
    assert registry.get_raw_file("payments", prefix + "b.json") == dead
    assert registry.get_raw_file("payments", prefix + "a.json") == _raw_file(prefix + "a.json")
    assert registry.get_raw_file("payments", prefix + "zzz.json") is None
    assert registry.raw_files("loans") == []


def test_a_content_hash_is_claimed_by_exactly_one_object(registry: RegistryStore):
    # Two `lake ingest` of one file both claim its hash: the first is the original, the other
    # learns its key, and claiming again changes nothing. (Racing threads are tested on SQLite in
    # test_redelivery: moto's server does not serialise conditional writes as DynamoDB does.)
    prefix = "raw/source=payments/ingest_date=2026-03-02/"
    digest = "ab" * 32
    first, second = f"{prefix}1-cards.json", f"{prefix}2-cards.json"

    assert registry.claim_content("payments", digest, first) == first
    assert registry.claim_content("payments", digest, second) == first
    assert registry.claim_content("payments", digest, first) == first
    assert registry.claim_content("cards", digest, second) == second  # per source
    assert registry.claim_content("payments", "cd" * 32, second) == second
    # Claims live beside the raw-file index but are not raw files.
    assert registry.raw_files("payments") == []
    duplicate = _raw_file(
        second, status="DUPLICATE", version=None, sha256=digest, duplicate_of=first
    )
    registry.put_raw_file(duplicate)
    assert registry.raw_files("payments") == [duplicate]


def test_dynamo_items_are_readable_without_the_body(aws_endpoint: str):
    store = DynamoRegistryStore.create_tables(
        "schema-registry", "raw-file-index", endpoint_url=aws_endpoint, region=REGION
    )
    store.put_version(_version())
    store.put_raw_file(_raw_file("raw/source=payments/ingest_date=2026-03-02/a.json"))
    tables = boto3.resource("dynamodb", endpoint_url=aws_endpoint, region_name=REGION)

    item = tables.Table("schema-registry").get_item(
        Key={"source_id": "payments", "version": "version#2026-03-02T10:00:00.000001Z"}
    )["Item"]
    file_item = tables.Table("raw-file-index").get_item(
        Key={"source_id": "payments", "key": "raw/source=payments/ingest_date=2026-03-02/a.json"}
    )["Item"]

    assert item["fields"] == {"amount": "double", "booked_at": "timestamp", "iban": "string"}
    assert item["field_diff"]["widened"] == {"amount": ["integer", "double"]}
    assert str(item["field_diff"]["renamed"][0]["confidence"]) == "0.8125"
    assert (item["status"], item["compatibility"], item["promoted_at"]) == ("ACTIVE", "FULL", None)
    assert json.loads(item["body"]) == json.loads(json.dumps(_version().to_dict()))
    assert (file_item["status"], file_item["size"], file_item["row_count"]) == (
        "PROFILED",
        1234,
        10,
    )
    # Creating again is harmless, as `lake init` may run twice.
    DynamoRegistryStore.create_tables(
        "schema-registry", "raw-file-index", endpoint_url=aws_endpoint, region=REGION
    )
    assert store.versions("payments") == [_version()]


# --- partition catalog -------------------------------------------------------------------------


@pytest.fixture(params=["local", "aws"])
def catalog(request, tmp_path) -> PartitionCatalog:
    if request.param == "local":
        return SQLiteCatalog(tmp_path / "catalog.db")
    endpoint = request.getfixturevalue("aws_endpoint")
    glue = GlueCatalog("lake_curated", BUCKET, endpoint_url=endpoint, region=REGION)
    glue.ensure_database()
    return glue


COLUMNS = {
    "account_id": "string",
    "amount": "double",
    "count": "integer",
    "booked": "boolean",
    "booked_on": "date",
    "booked_at": "timestamp",
    "extra": "json",
    "event_date": "date",
}


def _published(partition: str = "2026-03-02", run_id: str = "run-1", **changes):
    published = PublishedPartition(
        dataset="payments_daily",
        partition=partition,
        location=f"curated/payments_daily/event_date={partition}/run={run_id}/",
        run_id=run_id,
        published_at=f"{partition}T12:00:00+00:00",
        row_count=1000,
        schema_version="version#2026-03-02T10:00:00.000001Z",
        columns=COLUMNS,
    )
    return replace(published, **changes)


def test_first_publish_creates_the_partition(catalog: PartitionCatalog):
    assert catalog.current("payments_daily", "2026-03-02") is None
    assert catalog.partitions("payments_daily") == []

    assert catalog.publish(_published()) is None

    assert catalog.current("payments_daily", "2026-03-02") == _published()
    assert catalog.current("payments_daily", "2026-03-03") is None
    assert catalog.superseded(datetime.now(UTC) + timedelta(days=1)) == []


def test_partitions_come_in_partition_order(catalog: PartitionCatalog):
    for partition in ("2026-03-03", "2026-02-28", "2026-03-01"):
        catalog.publish(_published(partition))
    catalog.publish(_published(dataset="cards_daily"))

    assert [p.partition for p in catalog.partitions("payments_daily")] == [
        "2026-02-28",
        "2026-03-01",
        "2026-03-03",
    ]
    assert catalog.partitions("payments_daily")[0] == _published("2026-02-28")
    assert catalog.datasets() == ["cards_daily", "payments_daily"]


def test_republish_switches_the_pointer_and_supersedes_the_old_folder(catalog: PartitionCatalog):
    first, second = _published(), _published(run_id="run-2", row_count=1001)
    catalog.publish(first)

    assert catalog.publish(second, expected_run_id="run-1") == first

    assert catalog.current("payments_daily", "2026-03-02") == second
    [superseded] = catalog.superseded(datetime.now(UTC) + timedelta(seconds=1))
    assert (superseded.dataset, superseded.partition, superseded.location) == (
        "payments_daily",
        "2026-03-02",
        first.location,
    )
    assert datetime.fromisoformat(superseded.superseded_at) <= datetime.now(UTC)


def test_republishing_the_same_folder_supersedes_nothing(catalog: PartitionCatalog):
    catalog.publish(_published())

    assert catalog.publish(_published(row_count=5)) == _published()
    assert catalog.superseded(datetime.now(UTC) + timedelta(days=1)) == []


@pytest.mark.parametrize("expected", ["run-0", ""])
def test_stale_publish_is_refused_and_leaves_the_pointer(catalog: PartitionCatalog, expected):
    catalog.publish(_published())

    with pytest.raises(StalePublish):
        catalog.publish(_published(run_id="run-2"), expected_run_id=expected)

    assert catalog.current("payments_daily", "2026-03-02") == _published()
    assert catalog.superseded(datetime.now(UTC) + timedelta(days=1)) == []


def test_expected_run_id_of_a_partition_not_yet_published(catalog: PartitionCatalog):
    with pytest.raises(StalePublish):
        catalog.publish(_published(), expected_run_id="run-0")
    assert catalog.current("payments_daily", "2026-03-02") is None

    assert catalog.publish(_published(), expected_run_id="") is None
    assert catalog.current("payments_daily", "2026-03-02") == _published()


def test_superseded_filters_by_age_and_forget_removes_one(catalog: PartitionCatalog):
    catalog.publish(_published(run_id="run-1"))
    catalog.publish(_published(run_id="run-2"))
    catalog.publish(_published("2026-03-03", run_id="run-1"))
    catalog.publish(_published("2026-03-03", run_id="run-2"))
    cutoff = datetime.now(UTC)
    catalog.publish(_published(run_id="run-3"))
    later = datetime.now(UTC) + timedelta(seconds=1)

    old = catalog.superseded(cutoff)
    assert [(s.partition, s.location) for s in old] == [
        ("2026-03-02", _published(run_id="run-1").location),
        ("2026-03-03", _published("2026-03-03", run_id="run-1").location),
    ]
    assert len(catalog.superseded(later)) == 3

    catalog.forget_superseded(old[0])

    assert [s.location for s in catalog.superseded(later)] == [
        _published("2026-03-03", run_id="run-1").location,
        _published(run_id="run-2").location,
    ]
    assert catalog.current("payments_daily", "2026-03-02") == _published(run_id="run-3")


def test_seal_records_the_version_it_was_given_and_a_republish_starts_unsealed(
    catalog: PartitionCatalog,
):
    catalog.publish(_published())
    listed = catalog.partitions("payments_daily")[0]

    sealed = catalog.seal(listed, "2026-03-07T04:00:00+00:00")

    assert sealed == replace(listed, sealed_at="2026-03-07T04:00:00+00:00")
    assert catalog.current("payments_daily", "2026-03-02") == sealed
    # Sealing switches nothing: the folder is the same, so nothing is superseded.
    assert catalog.superseded(datetime.now(UTC) + timedelta(days=1)) == []
    catalog.publish(_published(run_id="run-2"))
    assert catalog.current("payments_daily", "2026-03-02").sealed_at is None


def test_sealing_a_partition_republished_since_it_was_read_is_refused(catalog: PartitionCatalog):
    catalog.publish(_published())
    listed = catalog.current("payments_daily", "2026-03-02")
    catalog.publish(_published(run_id="run-2"))  # a late fold-in

    with pytest.raises(StalePublish):
        catalog.seal(listed, "2026-03-07T04:00:00+00:00")
    assert catalog.current("payments_daily", "2026-03-02") == _published(run_id="run-2")


def test_glue_carries_the_seal_as_a_partition_parameter(aws_endpoint: str):
    catalog = GlueCatalog("lake_curated", BUCKET, endpoint_url=aws_endpoint, region=REGION)
    catalog.ensure_database()
    catalog.publish(_published())
    glue = boto3.client("glue", endpoint_url=aws_endpoint, region_name=REGION)

    def parameters() -> dict:
        return glue.get_partition(
            DatabaseName="lake_curated", TableName="payments_daily", PartitionValues=["2026-03-02"]
        )["Partition"]["Parameters"]

    assert "sealed_at" not in parameters()
    catalog.seal(_published(), "2026-03-07T04:00:00+00:00")
    assert parameters()["sealed_at"] == "2026-03-07T04:00:00+00:00"
    assert parameters()["run_id"] == "run-1"


def test_glue_table_and_partition_layout(aws_endpoint: str):
    catalog = GlueCatalog("lake_curated", BUCKET, endpoint_url=aws_endpoint, region=REGION)
    catalog.ensure_database()
    catalog.ensure_database()  # idempotent, as `lake init` may run twice
    catalog.publish(_published())
    glue = boto3.client("glue", endpoint_url=aws_endpoint, region_name=REGION)

    table = glue.get_table(DatabaseName="lake_curated", Name="payments_daily")["Table"]
    partition = glue.get_partition(
        DatabaseName="lake_curated", TableName="payments_daily", PartitionValues=["2026-03-02"]
    )["Partition"]

    assert table["PartitionKeys"] == [{"Name": "event_date", "Type": "string"}]
    assert table["StorageDescriptor"]["Location"] == f"s3://{BUCKET}/curated/payments_daily/"
    assert {c["Name"]: c["Type"] for c in table["StorageDescriptor"]["Columns"]} == {
        "account_id": "string",
        "amount": "double",
        "count": "bigint",
        "booked": "boolean",
        "booked_on": "date",
        "booked_at": "timestamp",
        "extra": "string",
    }
    assert "Parquet" in table["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"]
    assert partition["StorageDescriptor"]["Location"] == (
        f"s3://{BUCKET}/curated/payments_daily/event_date=2026-03-02/run=run-1/"
    )
    assert partition["Parameters"]["run_id"] == "run-1"

    with pytest.raises(ValueError, match="no Glue type"):
        catalog.publish(_published(dataset="odd", columns={"x": "decimal"}))
