"""The masked views as Athena views in the Glue Data Catalog (lake_assets/access/views.py renders
them). Athena reads a Glue table of type VIRTUAL_VIEW whose ViewOriginalText is
`/* Presto View: <base64 of a JSON with the SQL and the columns> */`; its Hive columns are
what other Glue readers list.

`sync` makes the views database hold exactly the given views: a view whose profile is now denied
the dataset is deleted, not left behind with yesterday's grants.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence

from lake_assets.access.views import View
from resources.aws.clients import _client

CATALOG = "awsdatacatalog"
FINGERPRINT = "lake_view_fingerprint"
# Trino names -> Hive names for the Glue columns of a view.
_HIVE_TYPES = {"varchar": "string"}


def presto_view_text(view: View) -> str:
    body = {
        "originalSql": view.sql,
        "catalog": CATALOG,
        "schema": view.database,
        "columns": [{"name": c.name, "type": c.type} for c in view.columns],
    }
    encoded = base64.b64encode(json.dumps(body, sort_keys=True).encode()).decode()
    return f"/* Presto View: {encoded} */"


def decode_presto_view(text: str) -> dict:
    """The JSON inside a Presto view's text (what Athena reads back)."""
    encoded = text.removeprefix("/* Presto View: ").removesuffix(" */")
    return json.loads(base64.b64decode(encoded))


def view_table_input(view: View) -> dict:
    text = presto_view_text(view)
    parameters = {
        "presto_view": "true",
        "comment": "Presto View",
        FINGERPRINT: hashlib.sha256(text.encode()).hexdigest(),
        "lake_dataset": view.dataset,
        "lake_profile": view.profile,
    }
    if view.withheld:
        # Columns read as null instead of their treatment, e.g. a token (no key in Glue, ADR).
        parameters["lake_withheld"] = json.dumps(dict(view.withheld), sort_keys=True)
    return {
        "Name": view.name,
        "TableType": "VIRTUAL_VIEW",
        "Parameters": parameters,
        "ViewOriginalText": text,
        "ViewExpandedText": "/* Presto View */",
        "StorageDescriptor": {
            "Columns": [
                {"Name": c.name, "Type": _HIVE_TYPES.get(c.type, c.type)} for c in view.columns
            ],
            "SerdeInfo": {},
            "Location": "",
        },
    }


class GlueViews:
    """The views database of the Glue Data Catalog (Terraform creates it)."""

    def __init__(self, database: str, *, endpoint_url: str | None, region: str):
        self.database = database
        self._glue = _client("glue", endpoint_url, region)

    def tables(self) -> dict[str, dict]:
        pages = self._glue.get_paginator("get_tables").paginate(DatabaseName=self.database)
        return {t["Name"]: t for page in pages for t in page["TableList"]}

    def sync(self, views: Sequence[View]) -> dict[str, list[str]]:
        """Create, update or delete views so the database holds exactly `views`; returns the
        names per action."""
        existing = self.tables()
        done: dict[str, list[str]] = {"created": [], "updated": [], "deleted": []}
        for view in views:
            table = view_table_input(view)
            current = existing.get(view.name)
            if current is None:
                self._glue.create_table(DatabaseName=self.database, TableInput=table)
                done["created"].append(view.name)
            elif current.get("Parameters", {}).get(FINGERPRINT) != table["Parameters"][FINGERPRINT]:
                self._glue.update_table(DatabaseName=self.database, TableInput=table)
                done["updated"].append(view.name)
        wanted = {v.name for v in views}
        for name, table in sorted(existing.items()):
            if name not in wanted and table.get("TableType") == "VIRTUAL_VIEW":
                self._glue.delete_table(DatabaseName=self.database, Name=name)
                done["deleted"].append(name)
        return done
