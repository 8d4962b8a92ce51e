"""Schema versions and the raw-file index on DynamoDB (RegistryStore)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict

from lake_assets.ingestion.raw_zone import RawFile
from lake_assets.ingestion.schema_versions import SchemaVersion
from resources.aws.clients import _attribute, _client, ensure_table
from resources.registry_store import RegistryStore, VersionConflict


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
        "alerted_at",
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
