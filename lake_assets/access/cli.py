"""`lake access check|explain|audit|grants|reads`: ask the policies a question as a subject
profile, see why they answer so, read (or replay) the audit trail every answer is appended to,
compare the masked views' grants on AWS with what the policies call for (ADR-0161), and read who
actually read what on AWS from the CloudTrail trail's files (access/trail.py, ADR-0157).

Neither Dagster nor Spark is loaded (ADR-0063): the policies are YAML, a dataset's columns and
their attributes come from the catalog, the classification store and the derived tables'
declared column lineage (access/attributes.py).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lake_assets.access.audit import AuditEntry, audit_entry, replay
from lake_assets.access.model import Context, Decision
from lake_assets.cli.runs import date_argument
from lake_assets.instants import utc_now
from lake_assets.settings import DEFAULT_ACCESS_DIR, Settings

if TYPE_CHECKING:
    from lake_assets.access.trail import Read, TrailReads

ResourcesFor = Callable[[Settings], Any]


def load_policies(folder: Path):
    """The policy set in `folder` (lake_assets/access/engine.py)."""
    from lake_assets.access.engine import load_policy_set

    return load_policy_set(folder)


def resource_of(dataset: str, columns: Sequence[str] | None, *, catalog, classifications, settings):
    """The Resource of `dataset` (its `columns`, default all) with the attributes and lineage
    the lake records (access/attributes.py); an unknown dataset or column is an error naming
    what exists."""
    from lake_assets.access.attributes import MART_DATASET, SILVER_TABLES, LakeAttributes
    from lake_assets.history.apply import history_dataset

    lake = LakeAttributes(catalog, classifications, settings.sources)
    if lake.zone(dataset) is None:
        declared = [
            *lake.sources,
            *(history_dataset(s.source_id) for s in lake.sources.values() if s.history),
            *(t.dataset for t in SILVER_TABLES),
            *lake.gold,
            MART_DATASET,
        ]
        raise LookupError(
            f"unknown dataset {dataset!r}; the lake's datasets: {', '.join(declared)}"
        )
    known = lake.columns_of(dataset)
    unknown = [c for c in columns or () if c not in known]
    if unknown:
        raise LookupError(
            f"{dataset} has no column {', '.join(map(repr, unknown))}; its columns: "
            f"{', '.join(known) or 'none published yet'}"
        )
    return lake.resource(dataset, columns or None)


def _subject(policies, profile: str):
    if profile not in policies.profiles:
        raise LookupError(
            f"unknown profile {profile!r}; the policies' profiles: "
            f"{', '.join(sorted(policies.profiles)) or 'none'}"
        )
    return policies.profile(profile)


def decide_and_record(
    args: argparse.Namespace, settings: Settings, resources_for: ResourcesFor, columns
) -> Decision:
    """Ask the question, append the answer to the audit trail, return it."""
    policies = load_policies(Path(args.policies))
    subject = _subject(policies, args.profile)
    stores = resources_for(settings)
    resource = resource_of(
        args.dataset,
        columns,
        catalog=stores["catalog"],
        classifications=stores["classification"],
        settings=settings,
    )
    context = Context(now=utc_now(), environment=args.environment or settings.environment)
    decision = policies.decide(subject, resource, context)
    stores["access_audit"].append(audit_entry(subject, resource, context, decision))
    return decision


def _via(path: Sequence[str]) -> str:
    return f"  (via {' <- '.join(path)})" if path else ""


def check_lines(decision: Decision) -> list[str]:
    """What `lake access check` prints: the outcome, then each column's treatment."""
    lines = [
        f"{decision.subject} on {decision.dataset}: {decision.outcome.upper()}"
        + (f" (decided by {decision.decided_by})" if decision.decided_by else "")
    ]
    if decision.outcome == "deny":
        lines.append(f"  why: {decision.reason}")
    width = max((len(name) for name in decision.columns), default=0)
    for name, column in decision.columns.items():
        lines.append(
            f"  {name:<{width}}  {column.treatment!s:<16} {column.decided_by or '-'}"
            + _via(column.path)
        )
    if decision.row_filter:
        lines.append(f"  rows where {decision.row_filter}")
    lines.append(f"decision {decision.decision_id} (in the audit trail)")
    return lines


def explain_lines(decision: Decision) -> list[str]:
    """What `lake access explain` prints: every policy that matched, the one that decided and
    why, the conditions not met, and per column its treatment, policy, reason and lineage path."""
    lines = [
        f"{decision.subject} on {decision.dataset}: {decision.outcome.upper()}",
        f"  decided by: {decision.decided_by or '(no policy: fail closed)'}",
        f"  why: {decision.reason}",
        f"  policies that matched: {', '.join(decision.matched) or 'none'}",
    ]
    if decision.unmet:
        lines.append("  conditions not met:")
        lines.extend(f"    - {condition}" for condition in decision.unmet)
    for name, column in decision.columns.items():
        lines.append(f"  column {name}: {column.treatment}: {column.reason}")
        if column.path:
            lines.append(f"    lineage: {' <- '.join(column.path)}")
    if decision.row_filter:
        lines.append(f"  rows where {decision.row_filter}")
    lines.append(f"decision {decision.decision_id} (in the audit trail)")
    return lines


def entry_line(entry: AuditEntry) -> str:
    """One line of `lake access audit`."""
    treatments = entry.treatments
    treatments = ", ".join(f"{c} {treatments[c]}" for c in entry.columns if c in treatments)
    return (
        f"{entry.at}  {entry.decision_id}  {entry.subject} on {entry.dataset}: "
        f"{entry.outcome} by {entry.decided_by or '-'}"
        + (f"  [{treatments}]" if treatments else "")
    )


def reads_summary(found: TrailReads, shown: Sequence[Read], own: int, days: str) -> list[str]:
    """The lines after the reads: how many, the lake's own left out (`own`), what was skipped
    and what could not be read."""
    lines = [
        f"{len(shown)} reads in {found.files} trail files of {days}"
        + (f"; {own} by the lake's own roles not listed (--with-lake-roles)" if own else "")
    ]
    skipped = ", ".join(f"{reason} {n}" for reason, n in sorted(found.skipped.items()))
    lines.append(
        f"skipped {sum(found.skipped.values())} records that are not reads of the lake"
        + (f" ({skipped})" if skipped else "")
    )
    if found.malformed:
        lines.append(f"malformed {len(found.malformed)}:")
        lines.extend(f"  {m}" for m in found.malformed)
    return lines


def grant_state(grant, wanted: set, held: set) -> str:
    """A view grant as `lake access grants` shows it."""
    if grant in wanted and grant in held:
        return "granted"
    return "MISSING" if grant in wanted else "EXTRA: no view calls for it"


def _day(value: str) -> date:
    return date.fromisoformat(date_argument(value))


def add_access_commands(subparsers: Any, resources_for: ResourcesFor) -> None:
    """Register `access check|explain|audit|reads`; the first three take their stores from
    `resources_for(settings)`, `reads` the trail's files from the settings' log bucket."""

    def check(args: argparse.Namespace, settings: Settings) -> int:
        decision = decide_and_record(args, settings, resources_for, args.column)
        print(
            json.dumps(decision.to_json(), indent=2, default=str)
            if args.json
            else "\n".join(check_lines(decision))
        )
        return 0 if decision.outcome == "allow" else 1

    def explain(args: argparse.Namespace, settings: Settings) -> int:
        columns = [args.column] if args.column else None
        decision = decide_and_record(args, settings, resources_for, columns)
        print(
            json.dumps(decision.to_json(), indent=2, default=str)
            if args.json
            else "\n".join(explain_lines(decision))
        )
        return 0

    def audit(args: argparse.Namespace, settings: Settings) -> int:
        entries = resources_for(settings)["access_audit"].entries(since=args.since)
        if args.replay:
            mismatches = replay(entries, load_policies(Path(args.policies)))
            if args.json:
                print(json.dumps([vars(m) for m in mismatches], indent=2))
            else:
                print(
                    f"replayed {len(entries)} decisions: "
                    + (f"{len(mismatches)} differ" if mismatches else "every one reproduced")
                )
                for mismatch in mismatches:
                    print(f"  {mismatch}")
            return 1 if mismatches else 0
        if args.json:
            print(json.dumps([e.to_json() for e in entries], indent=2))
        else:
            for entry in entries:
                print(entry_line(entry))
        return 0

    def reads(args: argparse.Namespace, settings: Settings) -> int:
        from lake_assets.access.trail import read_line
        from lake_assets.access.trail_reader import lake_reads

        until = args.until or utc_now().date()
        found = lake_reads(settings, args.since, until)
        asked = [r for r in found.reads if args.dataset is None or r.dataset == args.dataset]
        shown = [r for r in asked if args.with_lake_roles or not r.by_lake]
        own = len(asked) - len(shown)
        around = [r for r in shown if r.around_masks]
        if args.around_masks:
            shown = around
        if args.json:
            body = {**found.to_json(), "reads": [r.to_json() for r in shown], "lake_own": own}
            print(json.dumps(body, indent=2))
        else:
            summary = reads_summary(found, shown, own, f"{args.since}..{until}")
            if around:
                summary.append(f"{len(around)} reads by consumer roles went around the masks")
            print("\n".join([*map(read_line, shown), *summary]))
        return 1 if found.malformed or around else 0

    def grants(args: argparse.Namespace, settings: Settings) -> int:
        if settings.profile != "aws":
            raise ValueError(
                "the masked views are granted on the aws profile only (Lake Formation, "
                "ADR-0161); locally `lake query --as PROFILE` builds a profile's views per query"
            )
        from lake_assets.access.service import MaskedViews
        from resources.aws.glue_views import view_grants

        views = MaskedViews(settings, resources_for(settings))
        wanted, held = view_grants(views.plan(utc_now()).views, views.database, settings.aws)
        rows = [
            {"view": g.view, "role": g.principal, "state": grant_state(g, wanted, held)}
            for g in sorted(wanted | held)
        ]
        if args.json:
            print(json.dumps(rows, indent=2))
        else:
            for row in rows:
                print(f"{row['view']}  to {row['role'].rsplit('/', 1)[-1]}  {row['state']}")
            off = len(wanted ^ held)
            print(f"{len(wanted & held)} of {len(wanted)} views granted as the policies call for"
                  + (f"; {off} differ (the next build of access/masked_views mends them)"
                     if off else ""))  # fmt: skip
        return 1 if wanted ^ held else 0

    access = subparsers.add_parser(
        "access", help="access control: check and explain decisions, read the audit trails"
    ).add_subparsers(dest="access_command", required=True)

    def question(name: str, help: str) -> argparse.ArgumentParser:
        parser = access.add_parser(name, help=help)
        parser.add_argument("--as", dest="profile", required=True, metavar="PROFILE")
        parser.add_argument("dataset")
        parser.add_argument(
            "--environment", help="the context's (default: prod on the aws profile, else dev)"
        )
        parser.add_argument("--json", action="store_true", help="print the decision as JSON")
        policies_option(parser)
        return parser

    def policies_option(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--policies",
            default=str(DEFAULT_ACCESS_DIR),
            metavar="DIR",
            help="the policy files' folder",
        )

    p = question("check", "what PROFILE gets of DATASET (exit 1 when denied)")
    p.add_argument("--column", action="append", metavar="C", help="ask about C (repeatable)")
    p.set_defaults(run=check)
    p = question("explain", "why: the policies that matched, the one that decided, lineage")
    p.add_argument("column", nargs="?", help="explain this column only")
    p.set_defaults(run=explain)
    p = access.add_parser("audit", help="the access decisions recorded, or their replay")
    p.add_argument("--since", help="decisions asked at or after this instant (ISO 8601)")
    p.add_argument(
        "--replay", action="store_true", help="decide each again; exit 1 when one differs"
    )
    p.add_argument("--json", action="store_true")
    policies_option(p)
    p.set_defaults(run=audit)
    p = access.add_parser(
        "grants",
        help="aws: each masked view's Lake Formation grant to its profile's consumer role, "
        "against what the policies call for (exit 1 when they differ)",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=grants)
    p = access.add_parser(
        "reads",
        help="aws: who read what, from the CloudTrail trail (exit 1 when a file is malformed or "
        "a consumer read around the masks)",
    )
    p.add_argument("--since", required=True, type=_day, help="first day YYYY-MM-DD (UTC)")
    p.add_argument("--until", type=_day, help="last day YYYY-MM-DD (UTC; default today)")
    p.add_argument("--dataset", help="reads of this dataset only")
    p.add_argument(
        "--with-lake-roles",
        action="store_true",
        help="list the reads of the lake's own roles too (the orchestrator's, the Spark jobs')",
    )
    p.add_argument(
        "--around-masks",
        action="store_true",
        help="only the reads by a consumer role of anything but its profile's masked views "
        "(exit 1 when there is one, listed or not)",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=reads)
