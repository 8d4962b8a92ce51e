"""The aws profile's backends: S3, DynamoDB, Glue, SNS and SQS behind the lake's interfaces.

Every class builds its own boto3 client from `endpoint_url` and `region`, so the same code talks
to AWS or to a local emulator (the tests use a moto server over HTTP).
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote_plus

import boto3
from boto3.dynamodb.types import TypeSerializer
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

from lake_assets.ingestion.field_types import UNTYPED, is_widening
from lake_assets.ingestion.raw_zone import RawFile, check_key
from lake_assets.ingestion.schema_versions import SchemaVersion
from resources.arrivals import Arrival, ArrivalFeed
from resources.catalog import (
    PartitionCatalog,
    PublishedPartition,
    StalePublish,
    SupersededLocation,
    now_iso,
)
from resources.notifier import Alert, Notifier
from resources.registry_store import RegistryStore, VersionConflict
from resources.storage import LakeStorage, ObjectInfo

log = logging.getLogger("lakehouse.aws")

MiB = 1024**2


def _client(service: str, endpoint_url: str | None, region: str) -> Any:
    # A session per client: boto3's default session is not safe to share across the threads
    # Dagster runs sensors and ops in, while the clients themselves are.
    return boto3.session.Session().client(
        service,
        region_name=region,
        endpoint_url=endpoint_url,
        config=Config(retries={"mode": "standard", "max_attempts": 5}),
    )


def ensure_table(dynamo: Any, table: str, *keys: str) -> None:
    """Create an on-demand table keyed by `keys` (hash, then optional range; all strings)
    unless it exists, and wait until it is usable. Terraform creates them in production."""
    try:
        dynamo.create_table(
            TableName=table,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in keys],
            KeySchema=[
                {"AttributeName": k, "KeyType": kind}
                for k, kind in zip(keys, ("HASH", "RANGE"), strict=False)
            ],
        )
    except dynamo.exceptions.ResourceInUseException:
        pass
    dynamo.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 2})


def _error_code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


# --- S3 ----------------------------------------------------------------------------------------

_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}


def _key_prefix(prefix: str) -> str:
    """Where the lake starts inside its bucket: "lake", "/lake/" -> "lake/"; "" -> ""."""
    prefix = prefix.strip("/")
    return f"{prefix}/" if prefix else ""


class S3Storage(LakeStorage):
    """The lake as a bucket, optionally under a key prefix; lake keys never include the prefix.

    `multipart_threshold` is also the part size; S3 requires parts of at least 5 MiB.
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None,
        region: str,
        multipart_threshold: int = 8 * MiB,
    ):
        self.bucket, self.prefix = bucket, _key_prefix(prefix)
        self._s3 = _client("s3", endpoint_url, region)
        self._transfer = TransferConfig(
            multipart_threshold=multipart_threshold, multipart_chunksize=multipart_threshold
        )

    def _s3_key(self, key: str, prefix: bool = False) -> str:
        return self.prefix + check_key(key, prefix)

    @staticmethod
    def _info(key: str, size: int, etag: str, last_modified: datetime) -> ObjectInfo:
        return ObjectInfo(
            key=key, size=size, etag=etag.strip('"'), last_modified=last_modified.astimezone(UTC)
        )

    def _missing(self, key: str) -> FileNotFoundError:
        return FileNotFoundError(f"no object {key!r} in {self.uri('')}")

    def put_bytes(self, key: str, data: bytes) -> ObjectInfo:
        self._s3.put_object(Bucket=self.bucket, Key=self._s3_key(key), Body=data)
        return self._head_written(key)

    def put_file(self, key: str, local_path: Path) -> ObjectInfo:
        self._s3.upload_file(str(local_path), self.bucket, self._s3_key(key), Config=self._transfer)
        return self._head_written(key)

    def _head_written(self, key: str) -> ObjectInfo:
        info = self.head(key)
        if info is None:  # S3 reads after writes are strongly consistent; this is a real fault
            raise RuntimeError(f"{self.uri(key)} is missing right after it was written")
        return info

    def get_bytes(self, key: str) -> bytes:
        try:
            response = self._s3.get_object(Bucket=self.bucket, Key=self._s3_key(key))
        except self._s3.exceptions.NoSuchKey:
            raise self._missing(key) from None
        return response["Body"].read()

    @contextmanager
    def local_path(self, key: str) -> Iterator[Path]:
        with tempfile.TemporaryDirectory(prefix="lake-s3-") as folder:
            # Keep the object's name: readers pick compression and format from the suffix.
            path = Path(folder) / PurePosixPath(key).name
            try:
                self._s3.download_file(
                    self.bucket, self._s3_key(key), str(path), Config=self._transfer
                )
            except ClientError as error:
                if _error_code(error) in _NOT_FOUND:
                    raise self._missing(key) from None
                raise
            yield path

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        pages = self._s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self._s3_key(prefix, prefix=True)
        )
        # S3 lists in UTF-8 byte order, which is the key order Python's str comparison gives.
        for page in pages:
            for item in page.get("Contents", []):
                yield self._info(
                    item["Key"][len(self.prefix) :],
                    item["Size"],
                    item["ETag"],
                    item["LastModified"],
                )

    def head(self, key: str) -> ObjectInfo | None:
        try:
            response = self._s3.head_object(Bucket=self.bucket, Key=self._s3_key(key))
        except ClientError as error:
            if _error_code(error) in _NOT_FOUND:
                return None
            raise
        return self._info(
            key, response["ContentLength"], response["ETag"], response["LastModified"]
        )

    def copy(self, source_key: str, target_key: str) -> None:
        # The managed copy switches to multipart copy above 5 GB, where copy_object stops.
        try:
            self._s3.copy(
                {"Bucket": self.bucket, "Key": self._s3_key(source_key)},
                self.bucket,
                self._s3_key(target_key),
                Config=self._transfer,
            )
        except ClientError as error:
            if _error_code(error) in _NOT_FOUND:
                raise self._missing(source_key) from None
            raise

    def delete_prefix(self, prefix: str) -> int:
        deleted = 0
        pages = self._s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self._s3_key(prefix, prefix=True)
        )
        # A page holds at most 1000 keys, the most one delete_objects call accepts.
        for page in pages:
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if not keys:
                continue
            response = self._s3.delete_objects(
                Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True}
            )
            if errors := response.get("Errors"):
                first = errors[0]
                raise RuntimeError(
                    f"could not delete {len(errors)} objects under {self.uri(prefix)}, "
                    f"e.g. {first['Key']}: {first.get('Code')} {first.get('Message')}"
                )
            deleted += len(keys)
        return deleted

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._s3_key(key, prefix=True)}"


# --- DynamoDB ----------------------------------------------------------------------------------

_serialize = TypeSerializer().serialize


def _attribute(value: Any) -> dict:
    """A DynamoDB attribute value; boto3 refuses floats, so numbers travel as Decimal."""
    return _serialize(json.loads(json.dumps(value), parse_float=Decimal))


class DynamoRegistryStore(RegistryStore):
    """Schema versions and the raw-file index in two DynamoDB tables.

    Items carry the record's main fields as native attributes, for the console and ad-hoc
    queries, and the whole record as the JSON string `body`, the lossless source of truth
    (native numbers come back as Decimal and could not tell 1.0 from 1).
    """

    _VERSION_ATTRIBUTES = (
        "fields",
        "field_diff",
        "status",
        "compatibility",
        "created_at",
        "fingerprint",
        "approved_at",
        "promoted_at",
    )
    _RAW_FILE_ATTRIBUTES = (
        "etag",
        "ingest_date",
        "size",
        "status",
        "version",
        "row_count",
        "malformed_rows",
    )
    # Key attributes appear in expressions as placeholders: "key" is a DynamoDB reserved word.
    _KEY_NAMES = {"#pk": "source_id", "#sk": "version"}

    def __init__(
        self, versions_table: str, files_table: str, *, endpoint_url: str | None, region: str
    ):
        self.versions_table, self.files_table = versions_table, files_table
        self._dynamo = _client("dynamodb", endpoint_url, region)

    @classmethod
    def create_tables(
        cls, versions_table: str, files_table: str, *, endpoint_url: str | None, region: str
    ) -> DynamoRegistryStore:
        """Create both tables (on-demand capacity) unless they exist, and wait until usable."""
        store = cls(versions_table, files_table, endpoint_url=endpoint_url, region=region)
        ensure_table(store._dynamo, versions_table, "source_id", "version")
        ensure_table(store._dynamo, files_table, "source_id", "key")
        return store

    @staticmethod
    def _item(keys: dict[str, str], record: dict, readable: tuple[str, ...]) -> dict:
        item = {name: {"S": value} for name, value in keys.items()}
        item.update({name: _attribute(record[name]) for name in readable})
        item["body"] = {"S": json.dumps(record, sort_keys=True)}
        return item

    def _version_item(self, version: SchemaVersion) -> dict:
        keys = {"source_id": version.source_id, "version": version.version}
        return self._item(keys, version.to_dict(), self._VERSION_ATTRIBUTES)

    def _query(
        self, table: str, source_id: str, sk: tuple[str, str] | None = None
    ) -> Iterator[dict]:
        """Bodies of a source's items; `sk` (name, prefix) narrows them to a sort-key prefix."""
        condition, names = "#pk = :source", {"#pk": "source_id"}
        values = {":source": {"S": source_id}}
        if sk is not None:
            condition += " AND begins_with(#sk, :prefix)"
            names["#sk"], values[":prefix"] = sk[0], {"S": sk[1]}
        pages = self._dynamo.get_paginator("query").paginate(
            TableName=table,
            KeyConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ProjectionExpression="body",
            ScanIndexForward=True,
            ConsistentRead=True,
        )
        for page in pages:
            for item in page["Items"]:
                yield json.loads(item["body"]["S"])

    def versions(self, source_id: str) -> list[SchemaVersion]:
        return [
            SchemaVersion.from_dict(body) for body in self._query(self.versions_table, source_id)
        ]

    def put_version(self, version: SchemaVersion) -> None:
        try:
            self._dynamo.put_item(
                TableName=self.versions_table,
                Item=self._version_item(version),
                ConditionExpression="attribute_not_exists(#pk) AND attribute_not_exists(#sk)",
                ExpressionAttributeNames=self._KEY_NAMES,
            )
        except self._dynamo.exceptions.ConditionalCheckFailedException:
            raise VersionConflict(f"{version.source_id} {version.version} exists") from None

    def update_version(self, version: SchemaVersion) -> None:
        try:
            self._dynamo.put_item(
                TableName=self.versions_table,
                Item=self._version_item(version),
                ConditionExpression="attribute_exists(#pk) AND attribute_exists(#sk)",
                ExpressionAttributeNames=self._KEY_NAMES,
            )
        except self._dynamo.exceptions.ConditionalCheckFailedException:
            raise KeyError(
                f"source {version.source_id!r} has no version {version.version!r}"
            ) from None

    def raw_files(self, source_id: str) -> list[RawFile]:
        # Only raw objects: content claims share the table under keys outside the raw zone.
        files = self._query(self.files_table, source_id, ("key", "raw/"))
        return [RawFile(**body) for body in files]

    def get_raw_file(self, source_id: str, key: str) -> RawFile | None:
        response = self._dynamo.get_item(
            TableName=self.files_table,
            Key={"source_id": {"S": source_id}, "key": {"S": key}},
            ProjectionExpression="body",
            ConsistentRead=True,
        )
        item = response.get("Item")
        return RawFile(**json.loads(item["body"]["S"])) if item else None

    def put_raw_file(self, record: RawFile) -> None:
        keys = {"source_id": record.source_id, "key": record.key}
        self._dynamo.put_item(
            TableName=self.files_table,
            Item=self._item(keys, asdict(record), self._RAW_FILE_ATTRIBUTES),
        )

    def claim_content(self, source_id: str, sha256: str, key: str) -> str:
        # A claim is an item of the files table keyed `content#sha256:<hex>`: no raw key starts
        # so, and the conditional put makes the first writer the owner.
        claim = {"source_id": {"S": source_id}, "key": {"S": f"content#sha256:{sha256}"}}
        try:
            self._dynamo.put_item(
                TableName=self.files_table,
                Item={**claim, "owner": {"S": key}},
                ConditionExpression="attribute_not_exists(#sk)",
                ExpressionAttributeNames={"#sk": "key"},
            )
            return key
        except self._dynamo.exceptions.ConditionalCheckFailedException:
            item = self._dynamo.get_item(
                TableName=self.files_table, Key=claim, ConsistentRead=True
            )["Item"]
            return item["owner"]["S"]


# --- Glue --------------------------------------------------------------------------------------

PARTITION_KEY = "event_date"
GLUE_TYPES = {
    UNTYPED: "string",
    "boolean": "boolean",
    "integer": "bigint",
    "double": "double",
    "date": "date",
    "timestamp": "timestamp",
    "string": "string",
    "json": "string",
}
# Glue types a table column may change between: a file of the first reads as the second.
_GLUE_WIDENINGS = {
    (GLUE_TYPES[narrow], GLUE_TYPES[wide])
    for narrow in GLUE_TYPES
    for wide in GLUE_TYPES
    if narrow != UNTYPED and is_widening(narrow, wide)
}
# The Comment that tells the string column of an UNTYPED field (all null so far) from a real
# string: only the former takes the first evidenced type (ADR-0031).
_UNTYPED_COMMENT = "no values yet"
_PARQUET = {
    "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
    "SerdeInfo": {
        "SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
        "Parameters": {"serialization.format": "1"},
    },
}
_TABLE_INPUT_FIELDS = (
    "Name",
    "Description",
    "Owner",
    "Retention",
    "StorageDescriptor",
    "PartitionKeys",
    "TableType",
    "Parameters",
)
_SUPERSEDED = "lake_superseded"  # table parameter: JSON list of SupersededLocation dicts


def _glue_columns(columns: dict[str, str]) -> list[dict[str, str]]:
    # The partition key is a directory level, not a column in the files; Hive-style engines
    # refuse a table that declares it twice.
    unknown = {name: kind for name, kind in columns.items() if kind not in GLUE_TYPES}
    if unknown:
        raise ValueError(f"no Glue type for columns {unknown}; known: {sorted(GLUE_TYPES)}")
    return [
        {"Name": name, "Type": GLUE_TYPES[kind]}
        | ({"Comment": _UNTYPED_COMMENT} if kind == UNTYPED else {})
        for name, kind in columns.items()
        if name != PARTITION_KEY
    ]


def _replaces(old: dict[str, str] | None, new: dict[str, str]) -> bool:
    """Whether the published column `new` replaces the table's `old` one: a new column, a
    widening, or the first evidenced type of an untyped one; never a narrowing."""
    if old is None:
        return True
    if old.get("Comment") == _UNTYPED_COMMENT:
        return new.get("Comment") != _UNTYPED_COMMENT
    return (old["Type"], new["Type"]) in _GLUE_WIDENINGS


class GlueCatalog(PartitionCatalog):
    """One Glue table per dataset, partitioned by `event_date`; a partition's
    StorageDescriptor.Location is the publish pointer, its Parameters the rest of the record.

    Superseded locations wait for `expire` in the dataset table's parameters, a JSON list
    (Glue allows 512,000 characters, some 2,500 entries, plenty while expire keeps it to the
    retention window). `bucket` and `prefix` say where the lake lives, as for S3Storage.
    """

    def __init__(
        self,
        database: str,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None,
        region: str,
    ):
        self.database = database
        self._lake_uri = f"s3://{bucket}/{_key_prefix(prefix)}"
        self._glue = _client("glue", endpoint_url, region)

    def ensure_database(self) -> None:
        try:
            self._glue.create_database(DatabaseInput={"Name": self.database})
        except self._glue.exceptions.AlreadyExistsException:
            pass

    def _table(self, dataset: str) -> dict | None:
        try:
            return self._glue.get_table(DatabaseName=self.database, Name=dataset)["Table"]
        except self._glue.exceptions.EntityNotFoundException:
            return None

    def _create_table(self, published: PublishedPartition) -> None:
        try:
            self._glue.create_table(
                DatabaseName=self.database,
                TableInput={
                    "Name": published.dataset,
                    "TableType": "EXTERNAL_TABLE",
                    "Parameters": {"classification": "parquet", "EXTERNAL": "TRUE"},
                    "PartitionKeys": [{"Name": PARTITION_KEY, "Type": "string"}],
                    "StorageDescriptor": {
                        **_PARQUET,
                        "Columns": _glue_columns(published.columns),
                        "Location": f"{self._lake_uri}curated/{published.dataset}/",
                    },
                },
            )
        except self._glue.exceptions.AlreadyExistsException:
            pass  # a concurrent first publish of another partition created it

    @staticmethod
    def _decode(dataset: str, partition: dict) -> PublishedPartition:
        parameters = partition["Parameters"]
        return PublishedPartition(
            dataset=dataset,
            partition=partition["Values"][0],
            location=parameters["location"],
            run_id=parameters["run_id"],
            published_at=parameters["published_at"],
            row_count=int(parameters["row_count"]),
            schema_version=parameters["schema_version"],
            columns=json.loads(parameters["columns"]),
            sealed_at=parameters.get("sealed_at"),
        )

    def _partition_input(self, published: PublishedPartition) -> dict:
        parameters = {
            "location": published.location,
            "run_id": published.run_id,
            "published_at": published.published_at,
            "row_count": str(published.row_count),
            "schema_version": published.schema_version,
            "columns": json.dumps(published.columns),
        }
        if published.sealed_at:
            parameters["sealed_at"] = published.sealed_at
        return {
            "Values": [published.partition],
            "StorageDescriptor": {
                **_PARQUET,
                "Columns": _glue_columns(published.columns),
                "Location": self._lake_uri + published.location,
            },
            "Parameters": parameters,
        }

    def current(self, dataset: str, partition: str) -> PublishedPartition | None:
        try:
            response = self._glue.get_partition(
                DatabaseName=self.database, TableName=dataset, PartitionValues=[partition]
            )
        except self._glue.exceptions.EntityNotFoundException:
            return None
        return self._decode(dataset, response["Partition"])

    def partitions(self, dataset: str) -> list[PublishedPartition]:
        pages = self._glue.get_paginator("get_partitions").paginate(
            DatabaseName=self.database, TableName=dataset
        )
        try:
            found = [self._decode(dataset, p) for page in pages for p in page["Partitions"]]
        except self._glue.exceptions.EntityNotFoundException:
            return []
        return sorted(found, key=lambda published: published.partition)

    def publish(
        self, published: PublishedPartition, expected_run_id: str | None = None
    ) -> PublishedPartition | None:
        if self._table(published.dataset) is None:
            self._create_table(published)
        previous = self.current(published.dataset, published.partition)
        if expected_run_id is not None and (previous.run_id if previous else "") != (
            expected_run_id
        ):
            raise StalePublish(
                f"{published.dataset}[{published.partition}] is at run "
                f"{previous.run_id if previous else '(none)'}, expected {expected_run_id!r}"
            )
        partition_input = self._partition_input(published)
        # Before the switch: the table's types are the newest before any file of them is read.
        self._widen_columns(published)
        if previous is None:
            try:
                self._glue.create_partition(
                    DatabaseName=self.database,
                    TableName=published.dataset,
                    PartitionInput=partition_input,
                )
            except self._glue.exceptions.AlreadyExistsException:
                # CreatePartition is atomic, so "not yet published" is checked exactly.
                if expected_run_id is not None:
                    raise StalePublish(
                        f"{published.dataset}[{published.partition}] was published meanwhile"
                    ) from None
                return self.publish(published)
        else:
            # UpdatePartition cannot be made conditional: between current() and this call another
            # publisher could switch the pointer and we would overwrite it. The check is
            # best-effort, which is enough because Dagster's run concurrency keeps one writer per
            # partition; what it must catch is a stale run (a retry or an old backfill), and
            # that it does unless the stale run races the current one by milliseconds.
            self._glue.update_partition(
                DatabaseName=self.database,
                TableName=published.dataset,
                PartitionValueList=[published.partition],
                PartitionInput=partition_input,
            )
        if previous and previous.location != published.location:
            # Recorded after the switch: a crash in between leaks the old folder, while the
            # reverse order could let expire delete the folder the pointer still names.
            entry = SupersededLocation(
                previous.dataset, previous.partition, previous.location, now_iso()
            )
            self._update_superseded(published.dataset, lambda entries: [*entries, entry])
        return previous

    @staticmethod
    def _superseded_of(table: dict) -> list[SupersededLocation]:
        entries = json.loads(table.get("Parameters", {}).get(_SUPERSEDED, "[]"))
        return [SupersededLocation(**entry) for entry in entries]

    def _update_superseded(
        self, dataset: str, change: Callable[[list[SupersededLocation]], list[SupersededLocation]]
    ) -> None:
        def with_entries(table: dict) -> dict:
            entries = [asdict(entry) for entry in change(self._superseded_of(table))]
            return {"Parameters": {**table.get("Parameters", {}), _SUPERSEDED: json.dumps(entries)}}

        # Bookkeeping changes need no archived table version; the account's table-version
        # quota would fill up with them.
        self._update_table(dataset, with_entries, "superseded list", archive=False)

    def _widen_columns(self, published: PublishedPartition) -> None:
        """Add the published partition's new columns to the table, and widen the ones it
        holds at a wider type (ADR-0027): Athena reads every partition's files with the
        table's types, so they must be the newest, never narrowed by an older publish."""

        def widened(table: dict) -> dict | None:
            descriptor = table["StorageDescriptor"]
            columns = {c["Name"]: c for c in descriptor.get("Columns", [])}
            merged = dict(columns)
            for column in _glue_columns(published.columns):
                if _replaces(merged.get(column["Name"]), column):
                    merged[column["Name"]] = column
            if merged == columns:
                return None
            return {"StorageDescriptor": {**descriptor, "Columns": list(merged.values())}}

        self._update_table(published.dataset, widened, "columns", archive=True)

    def _update_table(
        self,
        dataset: str,
        change: Callable[[dict], dict | None],
        what: str,
        archive: bool,
        attempts: int = 10,
    ) -> None:
        """Read-modify-write of the table (`change` returns the fields to replace, or None for
        none), safe against concurrent publishes of other partitions: UpdateTable with
        VersionId fails if the table changed meanwhile."""
        for _ in range(attempts):
            table = self._table(dataset)
            if table is None:
                return
            changed = change(table)
            if changed is None:
                return
            table_input = {name: table[name] for name in _TABLE_INPUT_FIELDS if name in table}
            try:
                self._glue.update_table(
                    DatabaseName=self.database,
                    TableInput={**table_input, **changed},
                    VersionId=table["VersionId"],
                    SkipArchive=not archive,
                )
                return
            except self._glue.exceptions.ConcurrentModificationException:
                continue
        raise RuntimeError(f"{self.database}.{dataset} kept changing; {what} not saved")

    def superseded(self, older_than: datetime) -> list[SupersededLocation]:
        pages = self._glue.get_paginator("get_tables").paginate(DatabaseName=self.database)
        found = [
            entry
            for page in pages
            for table in page["TableList"]
            for entry in self._superseded_of(table)
            if datetime.fromisoformat(entry.superseded_at) < older_than
        ]
        return sorted(found, key=lambda entry: entry.superseded_at)

    def forget_superseded(self, location: SupersededLocation) -> None:
        self._update_superseded(
            location.dataset,
            lambda entries: [entry for entry in entries if entry.location != location.location],
        )


# --- SNS ---------------------------------------------------------------------------------------


def _sns_subject(alert: Alert) -> str:
    """SNS accepts at most 100 ASCII characters without line breaks as a subject."""
    text = " ".join(alert.subject.split()).encode("ascii", "replace").decode("ascii")
    return text[:100].strip() or alert.kind[:100]


class SNSNotifier(Notifier):
    def __init__(self, topic_arn: str, *, endpoint_url: str | None, region: str):
        self.topic_arn = topic_arn
        self._sns = _client("sns", endpoint_url, region)

    def send(self, alert: Alert) -> None:
        self._sns.publish(
            TopicArn=self.topic_arn,
            Subject=_sns_subject(alert),
            Message=alert.to_json(),
            MessageAttributes={"kind": {"DataType": "String", "StringValue": alert.kind}},
        )


# --- SQS ---------------------------------------------------------------------------------------

RAW_ZONE = "raw/"  # only objects landing here are arrivals


def _created_objects(body: str) -> list[tuple[str, str, str]]:
    """(bucket, key, etag) of each object-created record of an S3 event notification, directly
    or wrapped by SNS; [] for S3's test event. Raises ValueError (or KeyError, TypeError) for
    anything else."""
    message = json.loads(body)
    if isinstance(message, dict) and isinstance(message.get("Message"), str):
        message = json.loads(message["Message"])
    if not isinstance(message, dict):
        raise ValueError("not a JSON object")
    if message.get("Event") == "s3:TestEvent":
        return []
    records = message.get("Records")
    if not isinstance(records, list):
        raise ValueError("no Records list")
    return [
        (
            record["s3"]["bucket"]["name"],
            unquote_plus(record["s3"]["object"]["key"]),
            record["s3"]["object"]["eTag"].strip('"'),
        )
        for record in records
        if record["eventName"].startswith("ObjectCreated:")
    ]


class SQSArrivalFeed(ArrivalFeed):
    """Arrivals from the queue that receives the bucket's S3 event notifications.

    The queue is the cursor: `poll` passes the sensor's cursor through, and messages leave the
    queue only when `acknowledge` deletes them (or, for messages without arrivals, when `poll`
    reads them). A message not acknowledged within the queue's visibility timeout is delivered
    again, which the sensor's run keys make harmless. One S3 notification holds one record, so
    acknowledging an arrival deletes the message it came in.

    `bucket` and `prefix` say where the lake lives, as for S3Storage; events for objects
    elsewhere (another bucket, when `bucket` is given) are not arrivals.
    """

    def __init__(
        self,
        queue_url: str,
        bucket: str | None = None,
        prefix: str = "",
        *,
        endpoint_url: str | None,
        region: str,
        wait_seconds: int = 1,
    ):
        self.queue_url, self.bucket, self.prefix = queue_url, bucket, _key_prefix(prefix)
        self.wait_seconds = wait_seconds
        self._sqs = _client("sqs", endpoint_url, region)

    def poll(self, cursor: str | None, limit: int = 1000) -> tuple[list[Arrival], str | None]:
        arrivals: list[Arrival] = []
        seen: set[str] = set()
        while len(arrivals) < limit:
            response = self._sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(10, limit - len(arrivals)),
                WaitTimeSeconds=self.wait_seconds,
            )
            # Stop when nothing new comes back: with a short visibility timeout a message
            # left on the queue would otherwise be received again and again.
            messages = [m for m in response.get("Messages", []) if m["MessageId"] not in seen]
            if not messages:
                break
            without_arrivals = []
            for message in messages:
                seen.add(message["MessageId"])
                found = self._arrivals(message)
                if found is None:
                    continue
                if found:
                    arrivals.extend(found)
                else:
                    without_arrivals.append(message["ReceiptHandle"])
            self._delete(without_arrivals)
        return arrivals, cursor

    def _arrivals(self, message: dict) -> list[Arrival] | None:
        """The message's arrivals; None when it cannot be read, so it stays on the queue and
        its redrive policy moves it to the dead-letter queue for a person to look at."""
        try:
            created = _created_objects(message["Body"])
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            log.warning(
                "leaving unreadable message %s on %s for its dead-letter queue: %r; body: %.500s",
                message["MessageId"],
                self.queue_url,
                error,
                message["Body"],
            )
            return None
        return [
            Arrival(key=s3_key[len(self.prefix) :], etag=etag, receipt=message["ReceiptHandle"])
            for bucket, s3_key, etag in created
            if (self.bucket is None or bucket == self.bucket)
            and s3_key.startswith(self.prefix + RAW_ZONE)
        ]

    def acknowledge(self, arrivals: list[Arrival]) -> None:
        self._delete(list(dict.fromkeys(a.receipt for a in arrivals if a.receipt)))

    def _delete(self, receipts: list[str]) -> None:
        for start in range(0, len(receipts), 10):
            batch = receipts[start : start + 10]
            response = self._sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": r} for i, r in enumerate(batch)],
            )
            for failure in response.get("Failed", []):
                # The message comes back after its visibility timeout; a repeat is harmless.
                log.warning(
                    "could not delete message from %s: %s %s",
                    self.queue_url,
                    failure.get("Code"),
                    failure.get("Message"),
                )
