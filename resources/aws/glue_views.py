"""The masked views as AWS Glue Data Catalog views (lake_assets/access/views.py renders them):
definer views, each a Glue table of type VIRTUAL_VIEW with a `ViewDefinition` whose Definer is
the lake's view definer role and whose Athena representation is the view's SQL (ADR-0161).
Athena runs such a view with the definer's Lake Formation grant on the curated table it reads,
so a consumer granted the view reads the masked rows without any grant on the table or its S3
objects; a Presto view (the Athena-only kind) would run with the consumer's own and need both.
Protected: the engine does not push a consumer's filters into the view's plan, where they would
run on the clear values before the mask.

`sync` makes the views database hold exactly the given views: a view whose profile is now denied
the dataset is deleted, not left behind with yesterday's grants. It runs as the definer
(`AssumedRole`): only the role that creates a definer view may be its Definer.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

from lake_assets.access.views import View
from lake_assets.settings import AwsSettings
from resources.aws.clients import AssumedRole
from resources.aws.lake_formation import ViewGrant, ViewGrants, consumer_grants

FINGERPRINT = "lake_view_fingerprint"
# Athena's dialect and engine version of the view's SQL (Trino text, engine version 3).
DIALECT, DIALECT_VERSION = "ATHENA", "3"
# Trino names -> Hive names for the Glue columns of a view.
_HIVE_TYPES = {"varchar": "string"}


def table_arn(definer_arn: str, region: str, database: str, table: str) -> str:
    """The Glue ARN of a table in the definer's account (Glue names a view's base tables so)."""
    partition, account = definer_arn.split(":")[1], definer_arn.split(":")[4]
    return f"arn:{partition}:glue:{region}:{account}:table/{database}/{table}"


def view_table_input(view: View, definer_arn: str, region: str) -> dict:
    definition = {
        "IsProtected": True,
        "Definer": definer_arn,
        "Representations": [
            {
                "Dialect": DIALECT,
                "DialectVersion": DIALECT_VERSION,
                "ViewOriginalText": view.sql,
                "ViewExpandedText": view.sql,  # its one table is already named in full
            }
        ],
        "SubObjects": [table_arn(definer_arn, region, view.source_database, view.dataset)],
    }
    columns = [{"Name": c.name, "Type": _HIVE_TYPES.get(c.type, c.type)} for c in view.columns]
    body = json.dumps([definition, columns], sort_keys=True)
    parameters = {
        FINGERPRINT: hashlib.sha256(body.encode()).hexdigest(),
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
        "ViewDefinition": definition,
        "StorageDescriptor": {"Columns": columns, "SerdeInfo": {}, "Location": ""},
    }


class GlueViews:
    """The views database of the Glue Data Catalog (Terraform creates it), kept by `definer`."""

    def __init__(self, database: str, definer: AssumedRole):
        self.database, self.definer = database, definer
        self._glue = definer.client("glue")

    def tables(self) -> dict[str, dict]:
        pages = self._glue.get_paginator("get_tables").paginate(DatabaseName=self.database)
        return {t["Name"]: t for page in pages for t in page["TableList"]}

    def sync(self, views: Sequence[View]) -> dict[str, list[str]]:
        """Create, update or delete views so the database holds exactly `views`; returns the
        names per action."""
        existing = self.tables()
        done: dict[str, list[str]] = {"created": [], "updated": [], "deleted": []}
        for view in views:
            table = view_table_input(view, self.definer.role_arn, self.definer.region)
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


def register_views(views: Sequence[View], database: str, aws: AwsSettings) -> dict[str, list[str]]:
    """The views database made to hold exactly `views`, and each consumer role granted exactly
    its profile's, all as the view definer (ADR-0161); grants that must go are revoked first,
    before anything else changes. Returns the names per action."""
    definer, grants = _as_definer(database, aws)
    wanted = consumer_grants(views, grants.role_arn_prefix)
    current = grants.current()
    revoked = grants.revoke(current - wanted)
    done = GlueViews(database, definer).sync(views)
    return done | {"revoked": revoked, "granted": grants.grant(wanted - current)}


def view_grants(
    views: Sequence[View], database: str, aws: AwsSettings
) -> tuple[set[ViewGrant], set[ViewGrant]]:
    """(the grants `views` call for, the grants Lake Formation holds): `lake access grants`."""
    _, grants = _as_definer(database, aws)
    return consumer_grants(views, grants.role_arn_prefix), grants.current()


def _as_definer(database: str, aws: AwsSettings) -> tuple[AssumedRole, ViewGrants]:
    missing = [
        name
        for name, value in (
            ("LAKE_VIEW_DEFINER_ROLE_ARN", aws.view_definer_role_arn),
            ("LAKE_CONSUMER_ROLE_ARN_PREFIX", aws.consumer_role_arn_prefix),
        )
        if not value
    ]
    if missing:
        raise ValueError(
            f"{' and '.join(missing)} not set: the masked views are created by the view "
            "definer role and granted to the consumer roles (Terraform's outputs "
            "view_definer_role_arn and consumer_role_arn_prefix, in lake_env)"
        )
    definer = AssumedRole(
        aws.view_definer_role_arn, "view_definer", endpoint_url=aws.endpoint_url, region=aws.region
    )
    prefix = aws.consumer_role_arn_prefix
    return definer, ViewGrants(database, definer.client("lakeformation"), prefix)
