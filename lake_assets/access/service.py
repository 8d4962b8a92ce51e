"""The masked views of one lake: what the asset, its check and `lake query` call. It reads the
policies (config/access), the published datasets (catalog) and their attributes (classification
and lineage, access/attributes.py), and on `aws` keeps the Glue views database in step.

The token key: on `aws` none reaches the Glue views (views.py says why), so tokens read as null
there; locally the key is the one lake_token uses (LAKE_TOKEN_KEY), handed to DuckDB in-process.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from contextlib import ExitStack
from datetime import datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

import duckdb

from lake_assets.access.audit import audit_entry
from lake_assets.access.local_views import (
    local_token_key,
    masked_connection,
    published_partition_files,
)
from lake_assets.access.model import Context
from lake_assets.access.view_plan import Leak, ViewPlan, find_leaks, plan_views
from lake_assets.access.views import ViewSource, named_tables, views_database
from lake_assets.settings import DEFAULT_ACCESS_DIR, Settings
from lake_assets.tables.locations import PARTITION
from lake_assets.tables.reader import table_columns
from resources.access_audit import AccessAuditTrail
from resources.catalog import PublishedPartition


class MaskedViews:
    def __init__(
        self,
        settings: Settings,
        resources: Mapping[str, Any],
        policies_dir: Path = DEFAULT_ACCESS_DIR,
    ):
        self.settings = settings
        self.catalog, self.storage = resources["catalog"], resources["storage"]
        self.classifications = resources["classification"]
        self.policies_dir = policies_dir
        self.database = views_database(settings.aws.glue_database)
        # Glue views hold no key; the local engine gets it.
        self.token_key = None if settings.profile == "aws" else local_token_key()

    def datasets(self) -> list[str]:
        """Every dataset with a published partition, by name: from the catalog, which on aws
        answers in one call per 100 tables, where listing the curated zone reads every object."""
        return [name for name in self.catalog.datasets() if self.catalog.partitions(name)]

    def sources(self, datasets: Iterable[str]) -> dict[str, ViewSource]:
        found = {}
        for dataset in datasets:
            columns = table_columns(self.catalog.partitions(dataset))
            # The partition is a folder (a Glue partition key), read as a column everywhere.
            columns.setdefault(PARTITION, "date")
            found[dataset] = ViewSource(dataset, self.settings.aws.glue_database, columns)
        return found

    @cached_property
    def policies(self):
        """The PolicySet of config/access (an invalid file fails it all: fail closed)."""
        from lake_assets.access.engine import load_policy_set

        return load_policy_set(self.policies_dir)

    def plan(self, now: datetime, datasets: Sequence[str] | None = None) -> ViewPlan:
        from lake_assets.access.attributes import LakeAttributes

        policies = self.policies
        sources = self.sources(self.datasets() if datasets is None else datasets)
        lake = LakeAttributes(self.catalog, self.classifications, self.settings.sources)
        resources = [lake.resource(name, list(s.columns)) for name, s in sources.items()]
        return plan_views(
            policies,
            resources,
            sources,
            Context(now=now, environment=self.settings.environment),
            token_key=self.token_key,
            database=self.database,
        )

    def leaks(self, plan: ViewPlan) -> list[Leak]:
        """The check: every view executed over the latest published partition of its dataset
        (enough to see a column shown in clear, and bounded on a large lake)."""
        with ExitStack() as stack:
            files = published_partition_files(
                self.catalog, self.storage, {v.dataset for v in plan.views}, stack, latest=True
            )
            return find_leaks(plan, files, self.token_key)

    def register(self, plan: ViewPlan) -> dict[str, list[str]]:
        """On `aws`, the Glue views database made to hold exactly the plan's views, and each
        consumer role granted exactly its profile's, all as the view definer (ADR-0161);
        locally the views are built per query (`lake query`), so there is nothing to register.
        Grants that must go are revoked first, before anything else changes."""
        if self.settings.profile != "aws":
            return {}
        from resources.aws.glue_views import register_views

        return register_views(plan.views, self.database, self.settings.aws)

    def query(
        self,
        profile: str,
        sql: str,
        now: datetime,
        trail: AccessAuditTrail,
        as_of: datetime | None = None,
    ) -> tuple[list[str], list[tuple]]:
        """`sql` (Trino, as on Athena) as `profile`: the datasets it names, read through the
        profile's views only, each dataset's decision appended to `trail`. Returns (column
        names, rows). With `as_of`, every partition is read at the version readers saw then
        (tables/rollback.py `table_at`), through today's views: the policies decide now."""
        self.policies.profile(profile)  # an unknown profile is an error naming the known
        named = referenced_tables(sql)
        present = set(self.datasets())
        missing = sorted(named - present)
        if missing:
            raise LookupError(f"no published dataset {', '.join(missing)} in this lake")
        plan = self.plan(now, sorted(named))
        # A query is an access question per dataset it names: each answer goes to the trail.
        subject = self.policies.profile(profile)
        for decision in plan.decisions_of(profile):
            resource = plan.resources[decision.dataset]
            trail.append(audit_entry(subject, resource, plan.context, decision))
        views = plan.views_of(profile)
        denied = sorted(named - {v.dataset for v in views})
        if denied:
            raise LookupError(f"{profile} may not read {', '.join(denied)}: the policies deny it")
        versions_of = None if as_of is None else self._versions_at(as_of, now)
        with ExitStack() as stack:
            files = published_partition_files(
                self.catalog, self.storage, named, stack, versions_of=versions_of
            )
            con = masked_connection(views, list(plan.sources.values()), files, self.token_key)
        return run_query(con, sql)

    def _versions_at(self, instant: datetime, now: datetime):
        from lake_assets.tables.rollback import table_at

        kept_for = timedelta(days=self.settings.retention_days)

        def versions_of(dataset: str) -> list[PublishedPartition]:
            found = table_at(
                self.catalog, self.storage, dataset, instant, now=now, kept_for=kept_for
            )
            if not found:
                raise LookupError(f"{dataset} had no partition published by {instant.isoformat()}")
            return found

        return versions_of


def referenced_tables(sql: str) -> set[str]:
    """The tables a Trino query names (its CTEs excluded)."""
    return {name for _, name in named_tables(sql)}


def run_query(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[list[str], list[tuple]]:
    from lake_assets.access.views import query_to_duckdb

    cursor = con.execute(query_to_duckdb(sql))
    return [d[0] for d in cursor.description], cursor.fetchall()
