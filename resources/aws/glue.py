"""The lake's tables in the Glue Data Catalog (PartitionCatalog)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime

from lake_assets.tables.locations import MONTH, PARTITION
from lake_assets.tables.types import GLUE_TYPES, UNTYPED, is_widening
from resources.aws.clients import _client
from resources.aws.s3 import _key_prefix
from resources.catalog import (
    PartitionCatalog,
    PublishedPartition,
    StalePublish,
    SupersededLocation,
    now_iso,
)

# --- Glue --------------------------------------------------------------------------------------

_MONTH_PARTITION = re.compile(r"^\d{4}-\d{2}$")


def partition_key_of(partition: str) -> str:
    """The Glue partition column of a table whose partitions look like `partition`."""
    return MONTH if _MONTH_PARTITION.match(partition) else PARTITION


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
        if name not in (PARTITION, MONTH)
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
                    "PartitionKeys": [
                        {"Name": partition_key_of(published.partition), "Type": "string"}
                    ],
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

    def datasets(self) -> list[str]:
        pages = self._glue.get_paginator("get_tables").paginate(DatabaseName=self.database)
        return sorted(table["Name"] for page in pages for table in page["TableList"])

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
        replaced = previous if previous and previous.location != published.location else None

        def listed(entries: list[SupersededLocation]) -> list[SupersededLocation]:
            # The published folder leaves the list: a restore (`lake dr restore --replace`)
            # makes a superseded version current again, and expire must never delete the
            # folder the pointer names. The replaced folder joins it, once.
            gone = {published.location, replaced.location if replaced else None}
            kept = [entry for entry in entries if entry.location not in gone]
            if replaced is not None:
                at = now_iso()
                kept.append(
                    SupersededLocation(replaced.dataset, replaced.partition, replaced.location, at)
                )
            return kept

        # Recorded after the switch: a crash in between leaks the old folder, while the reverse
        # order could let expire delete the folder the pointer still names.
        self._update_superseded(published.dataset, listed)
        return previous

    @staticmethod
    def _superseded_of(table: dict) -> list[SupersededLocation]:
        entries = json.loads(table.get("Parameters", {}).get(_SUPERSEDED, "[]"))
        return [SupersededLocation(**entry) for entry in entries]

    def _update_superseded(
        self, dataset: str, change: Callable[[list[SupersededLocation]], list[SupersededLocation]]
    ) -> None:
        def with_entries(table: dict) -> dict | None:
            before = self._superseded_of(table)
            after = change(before)
            if after == before:
                return None  # nothing to save: no UpdateTable
            entries = [asdict(entry) for entry in after]
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
                old = merged.get(column["Name"])
                if _replaces(old, column):
                    # A column's classification (its Parameters) outlives a widening.
                    kept = {"Parameters": old["Parameters"]} if old and "Parameters" in old else {}
                    merged[column["Name"]] = column | kept
            if merged == columns:
                return None
            return {"StorageDescriptor": {**descriptor, "Columns": list(merged.values())}}

        self._update_table(published.dataset, widened, "columns", archive=True)

    def ensure_table(self, table_input: dict, stamp_prefix: str) -> str:
        """The table of a generated pipeline, as `lake deploy --config` leaves it: created from
        its generated TableInput when absent (the lake's Parquet layout and location filled in
        where the input leaves them out), otherwise only the parameters under `stamp_prefix`
        merged in. The orchestrator owns the rest of an existing table (widened columns,
        classification, superseded locations), so a deploy never reverts it. Returns "created",
        "stamped" or "unchanged"."""
        dataset = table_input["Name"]
        stamps = {
            name: value
            for name, value in table_input.get("Parameters", {}).items()
            if name.startswith(stamp_prefix)
        }
        if self._table(dataset) is None:
            descriptor = table_input.get("StorageDescriptor", {})
            try:
                self._glue.create_table(
                    DatabaseName=self.database,
                    TableInput={
                        "TableType": "EXTERNAL_TABLE",
                        "PartitionKeys": [{"Name": PARTITION, "Type": "string"}],
                        **table_input,
                        "Parameters": {
                            "classification": "parquet",
                            "EXTERNAL": "TRUE",
                            **table_input.get("Parameters", {}),
                        },
                        "StorageDescriptor": {
                            **_PARQUET,
                            "Location": f"{self._lake_uri}curated/{dataset}/",
                            **descriptor,
                        },
                    },
                )
                return "created"
            except self._glue.exceptions.AlreadyExistsException:
                pass  # a first publish created it meanwhile: stamp it below
        outcome = "unchanged"

        def stamped(table: dict) -> dict | None:
            nonlocal outcome
            parameters = table.get("Parameters", {})
            if all(parameters.get(name) == value for name, value in stamps.items()):
                return None
            outcome = "stamped"
            return {"Parameters": {**parameters, **stamps}}

        self._update_table(dataset, stamped, "pipeline stamps", archive=True)
        return outcome

    def table(self, dataset: str) -> dict | None:
        """The dataset's Glue table as GetTable returns it (None before its first publish)."""
        return self._table(dataset)

    def update_table(self, dataset: str, change: Callable[[dict], dict | None], what: str) -> None:
        """A read-modify-write of the table's metadata, kept as a table version (for example
        the columns' classification: its history is the catalog's audit trail)."""
        self._update_table(dataset, change, what, archive=True)

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

    def keep_superseded(self, entries: list[SupersededLocation]) -> None:
        for dataset in sorted({entry.dataset for entry in entries}):
            mine = [entry for entry in entries if entry.dataset == dataset]

            def added(kept: list[SupersededLocation], mine=mine) -> list[SupersededLocation]:
                known = {entry.location for entry in kept}
                return [*kept, *(entry for entry in mine if entry.location not in known)]

            self._update_superseded(dataset, added)
