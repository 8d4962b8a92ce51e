"""Column classifications as Glue column `Parameters` (ClassificationStore on aws).

What Athena, Lake Formation and the access-control layer read sits on the dataset's Glue table:
each column's `classification.*` parameters (semantic type, sensitivity, confidence, evidence
digest, classifier version, partition range, who decided and why, and the whole record with
its evidence as JSON), and the table's `classification.highest_sensitivity`. UpdateTable is
called only when a column's fingerprint changed (ColumnRecord.fingerprint).

The baselines and the classified-partition marks are the classifier's working state, read on
every publish and rewritten on drift: they live in the raw-file index table (keyed by source id,
which is the dataset's name) under `classification#` sort keys, beside the content claims, so
they cost no new table and no new grant, and leave the Glue table's version history to changes
a consumer of the catalog can see.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from resources.aws.clients import _client
from resources.aws.glue import GlueCatalog
from resources.classification_store import (
    ClassificationStore,
    ColumnRecord,
    highest_sensitivity,
    keeping_decision,
)

PREFIX = "classification."
RECORD = PREFIX + "record"
HIGHEST = PREFIX + "highest_sensitivity"
_BASELINE, _CLASSIFIED = "classification#baseline#", "classification#classified#"


def column_parameters(record: ColumnRecord) -> dict[str, str]:
    """The Glue column parameters of a record: the current classification's fields, readable in
    the console, and the whole record (both opinions, candidates and evidence) as JSON."""
    current = record.current
    readable = {
        "semantic_type": current.semantic_type or "needs_review",
        "sensitivity": current.sensitivity or "needs_review",
        "confidence": f"{current.confidence:.3f}",
        "evidence_digest": current.evidence_digest,
        "classifier_version": current.classifier_version,
        "partitions": "..".join(current.partitions),
        "decided_by": current.decided_by,
        **({"reason": current.reason} if current.reason else {}),
    }
    return {PREFIX + k: v for k, v in readable.items()} | {
        RECORD: json.dumps(record.to_json(), sort_keys=True)
    }


class GlueClassificationStore(ClassificationStore):
    def __init__(
        self, catalog: GlueCatalog, state_table: str, *, endpoint_url: str | None, region: str
    ):
        self.catalog, self.state_table = catalog, state_table
        self._dynamo = _client("dynamodb", endpoint_url, region)

    def columns(self, dataset: str) -> dict[str, ColumnRecord]:
        table = self.catalog.table(dataset)
        if table is None:
            return {}
        return {
            c["Name"]: ColumnRecord.from_json(
                dataset, c["Name"], json.loads(c["Parameters"][RECORD])
            )
            for c in table["StorageDescriptor"].get("Columns", [])
            if RECORD in c.get("Parameters", {})
        }

    def write(
        self, dataset: str, records: Sequence[ColumnRecord], *, keep_decisions: bool = False
    ) -> list[str]:
        changed = {r.column: r for r in self.changed(dataset, records)}
        if not changed:
            return []  # nothing new: no UpdateTable, no table version

        def classified(table: dict) -> dict:
            descriptor = table["StorageDescriptor"]
            names = {c["Name"] for c in descriptor.get("Columns", [])}
            missing = sorted(set(changed) - names)
            if missing:
                raise LookupError(f"{dataset}: the Glue table has no column {', '.join(missing)}")
            columns = []
            for column in descriptor["Columns"]:
                record = changed.get(column["Name"])
                if record is not None and keep_decisions:
                    # The column as this try of the update reads it: a decision saved since the
                    # run read the catalog is kept (a concurrent save makes Glue retry the read).
                    now = column.get("Parameters", {}).get(RECORD)
                    held = now and ColumnRecord.from_json(dataset, column["Name"], json.loads(now))
                    record = keeping_decision(record, held or None)
                if record is not None:
                    kept = {
                        k: v
                        for k, v in column.get("Parameters", {}).items()
                        if not k.startswith(PREFIX)
                    }
                    column = {**column, "Parameters": kept | column_parameters(record)}
                columns.append(column)
            stored = [
                ColumnRecord.from_json(dataset, c["Name"], json.loads(c["Parameters"][RECORD]))
                for c in columns
                if RECORD in c.get("Parameters", {})
            ]
            parameters = {k: v for k, v in table.get("Parameters", {}).items() if k != HIGHEST}
            highest = highest_sensitivity(stored)
            return {
                "StorageDescriptor": {**descriptor, "Columns": columns},
                "Parameters": parameters | ({HIGHEST: highest} if highest else {}),
            }

        if self.catalog.table(dataset) is None:
            raise LookupError(f"{dataset}: no Glue table yet (nothing published)")
        self.catalog.update_table(dataset, classified, "column classification")
        return list(changed)

    def _items(self, dataset: str, prefix: str) -> dict[str, dict]:
        pages = self._dynamo.get_paginator("query").paginate(
            TableName=self.state_table,
            KeyConditionExpression="#pk = :dataset AND begins_with(#sk, :prefix)",
            ExpressionAttributeNames={"#pk": "source_id", "#sk": "key"},
            ExpressionAttributeValues={":dataset": {"S": dataset}, ":prefix": {"S": prefix}},
            ProjectionExpression="#sk, body",
            ConsistentRead=True,
        )
        return {
            item["key"]["S"][len(prefix) :]: json.loads(item["body"]["S"])
            for page in pages
            for item in page["Items"]
        }

    def _put(self, dataset: str, key: str, body) -> None:
        self._dynamo.put_item(
            TableName=self.state_table,
            Item={
                "source_id": {"S": dataset},
                "key": {"S": key},
                "body": {"S": json.dumps(body, sort_keys=True)},
            },
        )

    def baselines(self, dataset: str) -> dict[str, dict]:
        return self._items(dataset, _BASELINE)

    def put_baselines(self, dataset: str, baselines: dict[str, dict]) -> None:
        for column, profile in baselines.items():
            self._put(dataset, _BASELINE + column, profile)

    def classified(self, dataset: str) -> dict[str, str]:
        return self._items(dataset, _CLASSIFIED)

    def mark_classified(self, dataset: str, partition: str, run_id: str) -> None:
        self._put(dataset, _CLASSIFIED + partition, run_id)
