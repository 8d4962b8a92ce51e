"""From the lake's policies and published datasets to its masked views, and the check that the
views mask what the policies say: every profile's Decision per dataset, each rendered as a view
(views.py), with a fingerprint of what they were decided from (policy versions, the datasets'
columns, classifications and lineage, the decisions), so the views are rebuilt when any changes.

The check executes the views (local_views.py, DuckDB over the published files) and compares
what they return with the clear columns: it trusts the generated SQL no more than a consumer
would.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import duckdb

from lake_assets.access.local_views import PartitionFiles, connect, load_sources, materialise
from lake_assets.access.model import Context, Decision, Resource
from lake_assets.access.views import View, ViewSource, render_views


@dataclass(frozen=True)
class ViewPlan:
    decisions: tuple[Decision, ...]
    sources: Mapping[str, ViewSource]
    views: tuple[View, ...]
    fingerprint: str
    # What the decisions answered: each dataset's Resource, and when and where they were asked.
    resources: Mapping[str, Resource] = field(default_factory=dict)
    context: Context | None = None

    def views_of(self, profile: str) -> list[View]:
        return [v for v in self.views if v.profile == profile]

    def decisions_of(self, profile: str) -> list[Decision]:
        return [d for d in self.decisions if d.subject == profile]


@dataclass(frozen=True)
class Leak:
    """A view that shows a profile more of a column than its Decision allows."""

    profile: str
    dataset: str
    column: str | None  # None: the whole dataset (a view of a denied dataset)
    reason: str

    def __str__(self) -> str:
        where = self.dataset if self.column is None else f"{self.dataset}.{self.column}"
        return f"{self.profile} reads {where}: {self.reason}"


def plan_views(
    policies: Any,
    resources: Sequence[Resource],
    sources: Mapping[str, ViewSource],
    context: Context,
    *,
    token_key: str | None,
    database: str,
) -> ViewPlan:
    """Every profile of `policies` (a PolicySet) decided against every resource, and the views.
    The Context's `now` is the time the views are built: a time-window condition is evaluated
    then, and holds until the next build."""
    decisions = tuple(
        policies.decide(subject, resource, context)
        for _, subject in sorted(policies.profiles.items())
        for resource in sorted(resources, key=lambda r: r.dataset)
    )
    views = render_views(decisions, sources, token_key=token_key, database=database)
    return ViewPlan(
        decisions,
        sources,
        tuple(views),
        views_fingerprint(policies.versions, resources, decisions),
        {r.dataset: r for r in resources},
        context,
    )


def views_fingerprint(
    policy_versions: Mapping[str, str],
    resources: Sequence[Resource],
    decisions: Sequence[Decision],
) -> str:
    """What the views are made of: a change in a policy, a dataset's columns, a column's
    classification or lineage (all in the Resources), or a decision (a time window that opened)
    changes it. The key is not in it: it never leaves the process."""
    answers = [
        [d.subject, d.dataset, d.outcome, d.row_filter]
        + sorted((c.column, str(c.treatment)) for c in d.columns.values())
        for d in decisions
    ]
    body = json.dumps(
        [
            sorted(policy_versions.items()),
            sorted((asdict(r) for r in resources), key=lambda r: r["dataset"]),
            answers,
        ],
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def find_leaks(
    plan: ViewPlan, files: Mapping[str, Sequence[PartitionFiles]], token_key: str | None
) -> list[Leak]:
    """Execute every view over the published files and report where a profile reads more than
    its Decision allows: a view of a denied dataset, a column it should not have (denied, or
    not named by the Decision), or a masked column whose every shown value is a clear value."""
    wanted = {v.dataset for v in plan.views}
    views = {(v.profile, v.dataset): v for v in plan.views}
    leaks = []
    with connect(token_key) as con:
        load_sources(con, [s for s in plan.sources.values() if s.dataset in wanted], files)
        materialise(con, plan.views, by_profile=True)
        for decision in plan.decisions:
            view = views.get((decision.subject, decision.dataset))
            if view is None:
                continue
            if decision.outcome != "allow":
                leaks.append(Leak(view.profile, view.dataset, None, "the dataset is denied"))
                continue
            leaks += _column_leaks(con, decision, view, plan.sources[view.dataset])
    return leaks


def _column_leaks(
    con: duckdb.DuckDBPyConnection, decision: Decision, view: View, source: ViewSource
) -> list[Leak]:
    table = f'"{view.profile}"."{view.dataset}"'
    shown = {row[0] for row in con.execute(f"DESCRIBE {table}").fetchall()}
    leaks = []
    for column in source.columns:
        granted = decision.columns.get(column)
        if granted is None or granted.treatment.kind == "deny":
            if column in shown:
                leaks.append(Leak(view.profile, view.dataset, column, "present, but denied"))
            continue
        if granted.treatment.kind == "clear" or column not in shown:
            continue
        text = f'CAST("{column}" AS VARCHAR)'
        values, clear = con.execute(
            f"SELECT count(*), count(*) FILTER (WHERE {text} IN "
            f'(SELECT {text} FROM "{source.database}"."{source.dataset}")) '
            f'FROM {table} WHERE "{column}" IS NOT NULL'
        ).fetchone()
        if values and values == clear:
            leaks.append(
                Leak(
                    view.profile,
                    view.dataset,
                    column,
                    f"{granted.treatment} by {granted.decided_by}, but all {values} values "
                    "shown are clear values",
                )
            )
    return leaks
