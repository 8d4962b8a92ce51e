"""`lake classify DATASET`, `lake classify set DATASET.COLUMN TYPE --reason ...` and
`lake catalog show DATASET [--json] [--explain COLUMN]`."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from lake_assets.settings import Settings
from resources.classification_store import ColumnRecord

ResourcesFor = Callable[[Settings], dict[str, Any]]


def add_classification_commands(subparsers: Any, resources_for: ResourcesFor) -> None:
    """Register `classify` and `catalog show`; each takes its resources from
    `resources_for(settings)`."""

    def service(settings: Settings):
        from lake_assets.classification.service import ClassificationService  # loads pyarrow

        r = resources_for(settings)
        return ClassificationService(r["catalog"], r["storage"], r["classification"], r["notifier"])

    def classify(args: argparse.Namespace, settings: Settings) -> int:
        if args.target[0] == "set":
            return decide(args, settings)
        if len(args.target) != 1 or args.reason:
            raise ValueError(
                "usage: lake classify DATASET [--partition P] | "
                "lake classify set DATASET.COLUMN TYPE --reason ..."
            )
        dataset, work = args.target[0], service(settings)
        published = [p.partition for p in work.catalog.partitions(dataset)]
        if not published:
            raise LookupError(f"unknown dataset {dataset!r}: nothing of it is published")
        done = work.classify_partition(dataset, args.partition or published[-1], everything=True)
        print(
            f"{dataset}[{done.partition}]: {len(done.classified)} columns classified, "
            f"{len(done.written)} changed in the catalog"
            + (f", {len(done.review)} flagged for review" if done.review else "")
        )
        for column, moved in done.drifted.items():
            print(f"  drift {column}: {moved.signal} {moved.baseline:.1%} -> {moved.observed:.1%}")
        for column, difference in done.disagreements.items():
            print(f"  {column}: {difference}")
        return 0

    def decide(args: argparse.Namespace, settings: Settings) -> int:
        if len(args.target) != 3 or "." not in args.target[1]:
            raise ValueError("usage: lake classify set DATASET.COLUMN TYPE --reason ...")
        dataset, column = args.target[1].split(".", 1)
        record = service(settings).decide(dataset, column, args.target[2], args.reason or "")
        decided = record.current
        print(
            f"{dataset}.{column}: {decided.semantic_type} ({decided.sensitivity}), decided by "
            f"the operator: {decided.reason}"
        )
        if record.disagreement:
            print(f"  {record.disagreement}")
        return 0

    def show(args: argparse.Namespace, settings: Settings) -> int:
        from lake_assets.classification.service import table_columns_of

        r = resources_for(settings)
        columns = table_columns_of(r["catalog"], args.dataset)
        records = r["classification"].columns(args.dataset)
        if args.explain:
            if args.explain not in columns:
                raise LookupError(
                    f"{args.dataset} has no column {args.explain!r}; "
                    f"its columns: {', '.join(columns)}"
                )
            record = records.get(args.explain)
            print(
                json.dumps(record.to_json(), indent=2)
                if args.json and record
                else explain(args.dataset, args.explain, record)
            )
            return 0
        if args.json:
            body = {c: records[c].to_json() if c in records else None for c in columns}
            print(json.dumps({"dataset": args.dataset, "columns": body}, indent=2))
            return 0
        print(f"{'column':<24} {'type':<16} {'sensitivity':<13} {'conf':>5}  decided by / evidence")
        for column in columns:
            print(row(column, records.get(column)))
        return 0

    parser = subparsers.add_parser(
        "classify",
        help="(re)classify a dataset's columns, or record an operator's decision on one",
        description="lake classify DATASET [--partition P]  |  "
        "lake classify set DATASET.COLUMN TYPE --reason '...'",
    )
    parser.add_argument("target", nargs="+", metavar="DATASET | set DATASET.COLUMN TYPE")
    parser.add_argument("--partition", help="the published partition to sample (default: latest)")
    parser.add_argument("--reason", help="why the operator decides so (required with set)")
    parser.set_defaults(run=classify)

    catalog = subparsers.add_parser("catalog", help="the catalog's column classifications")
    catalog_sub = catalog.add_subparsers(dest="catalog_command", required=True)
    show_parser = catalog_sub.add_parser(
        "show", help="each column's type, sensitivity, confidence, evidence and who decided"
    )
    show_parser.add_argument("dataset")
    show_parser.add_argument("--json", action="store_true")
    show_parser.add_argument("--explain", metavar="COLUMN", help="why: candidates and evidence")
    show_parser.set_defaults(run=show)


def _evidence(evidence: dict) -> str:
    return ", ".join(
        f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in evidence.items()
    )


def row(column: str, record: ColumnRecord | None) -> str:
    """One line of `lake catalog show`."""
    current = record.current if record else None
    if current is None:
        return f"{column:<24} {'(not classified)'}"
    kind = current.semantic_type or "REVIEW"
    # A column in review says why (what the operator is asked to decide); a label its evidence.
    said = (
        f"operator: {current.reason}"
        if current.decided_by == "operator"
        else current.reason
        if current.needs_review and current.reason
        else _evidence(current.candidates[0].evidence)
        if current.candidates
        else ""
    )
    line = (
        f"{column:<24} {kind:<16} {current.sensitivity or '-':<13} {current.confidence:>5.2f}  "
        f"{said}"
    )
    return line + (f"\n{'':<24} ! {record.disagreement}" if record.disagreement else "")


def explain(dataset: str, column: str, record: ColumnRecord | None) -> str:
    """`lake catalog show --explain`: the decision, automation's ranked candidates with their
    evidence, and any conflict between values and name or between automation and operator."""
    if record is None or record.current is None:
        return f"{dataset}.{column}: not classified yet (run `lake classify {dataset}`)"
    current = record.current
    lines = [
        f"{dataset}.{column}: {current.semantic_type or 'needs review'} "
        f"({current.sensitivity or '-'}), confidence {current.confidence:.2f}, decided by "
        f"{current.decided_by}" + (f": {current.reason}" if current.reason else ""),
    ]
    automated = record.automated
    if automated is not None:
        lines.append(
            f"classifier {automated.classifier_version} on partitions "
            f"{'..'.join(automated.partitions)}, evidence digest {automated.evidence_digest}:"
        )
        lines += [
            f"  {rank}. {c.semantic_type} {c.confidence:.2f}: {_evidence(c.evidence)}"
            for rank, c in enumerate(automated.candidates, 1)
        ]
        if automated.conflict:
            lines.append(f"conflict: {automated.conflict}")
        if automated.needs_review and automated.reason:
            lines.append(f"review: {automated.reason}")
    if record.disagreement:
        lines.append(f"disagreement: {record.disagreement}")
    return "\n".join(lines)
