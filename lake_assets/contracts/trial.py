"""A contract tried on what the lake has published before it is enforced: `lake contract try`.

Thresholds set too tight quarantine valid data and stall the pipeline (seed 000, project 4). An
edited contract is validated as a file when it loads, but nothing said what its rules would do
to real rows until the next promotion enforced them. The published rows of a dataset are those
that passed the contract in force when they were published, so any of them a blocking rule
(action `drop` or `fail`) of the tried contract rejects shows that the contract got stricter
than what the lake enforced: those rows would be quarantined, or their days fail, from the next
promotion on.

The trial is the registered Spark job `contract_trial` (lake_assets/runtime/jobs.py), so it runs
wherever the profile runs Spark (EMR Serverless on aws): the orchestrator resolves the published
files (`trial_plan`) and, per referential rule, the reference's partitions the rule is checked
against (`reference_checks`); the job counts each row rule's and referential rule's violations
per partition in one aggregate (a referential rule's orphans through its existence join,
`rules.with_reference_found`), each unique rule's beside it, and `TrialReport` says what they
mean. A referential rule is checked as the lake checks it: a partition against the reference's
same day (promotion, ADR-0014; a derived table's write, ADR-0167), a sliced derived table's
partitions (order dates of a table built per change day) against the reference's newest
partition, the one its next build reads. A day whose reference is not published is not tried for
that rule, and said so. A referential rule also breaks when the reference lost keys after the
rows were published: the contract in force is then reported stricter than the data it holds.
Volume and quality score rules, judged per day at promotion (a day's rows against its history,
its quarantined share), are listed as not tried.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from lake_assets.contracts.model import ROW_KINDS, Contract
from lake_assets.contracts.rules import (
    SAMPLE_ROWS,
    first_keys,
    orphaned,
    row_rules_violated,
    unique_violation_counts,
    with_reference_found,
)
from lake_assets.tables.frames import PARTITION, read_resolved

if TYPE_CHECKING:  # the orchestrator's side only
    from lake_assets.runtime.jobs import RunJob
    from resources.catalog import PartitionCatalog
    from resources.storage import LakeStorage

BLOCKING = {"drop": "its rows would be quarantined", "fail": "its days would fail"}
TRIED_KINDS = (*ROW_KINDS, "unique", "referential_integrity")


def reference_checks(
    catalog: PartitionCatalog,
    storage: LakeStorage,
    contract: Contract,
    days: Sequence[str],
    sliced: bool,
) -> dict[str, dict]:
    """Per referential rule, what the tried `days` are checked against: `against` None, each
    day against the reference's same day; `against` a day (`sliced`: a table whose partitions
    are not the days it is built for), every day against that one, the reference's newest.
    `untried` the days whose reference partition is not published, `resolved` the reference's
    partitions read (None when there are none)."""
    # The orchestrator's side: the job's module must not import the catalog's (on EMR there is
    # none; tests/test_jobs_over_pipes.py holds job modules to it).
    from lake_assets.tables.reader import resolve_published

    checks = {}
    for rule in contract.rules_of("referential_integrity"):
        reference = rule.check.references.dataset
        published = [p.partition for p in catalog.partitions(reference)]
        against = published[-1] if sliced and published else None
        read = [against] if against else [d for d in days if d in published]
        checks[rule.name] = {
            "dataset": reference,
            "against": against,
            "untried": [] if against else [d for d in days if d not in published],
            "resolved": resolve_published(catalog, storage, reference, read) if read else None,
        }
    return checks


def try_published(
    dataset: str,
    contract: Contract,
    days: int | None,
    sliced: bool,
    catalog: PartitionCatalog,
    storage: LakeStorage,
    run_job: RunJob,
) -> tuple[dict, TrialReport]:
    """`contract` tried on the newest `days` (None: all) published partitions of `dataset` that
    hold rows (`sliced`: see reference_checks), by the job wherever `run_job` runs it: the
    job's result and its report. LookupError when no partition holds rows."""
    from lake_assets.tables.reader import resolve_published  # as in reference_checks

    # Partitions published empty (a day with no rows) have nothing to try.
    published = sorted(p.partition for p in catalog.partitions(dataset) if p.row_count)
    if not published:
        raise LookupError(f"{dataset}: no published rows to try the contract on")
    tried = published[-days:] if days else published
    resolved = resolve_published(catalog, storage, dataset, tried)
    references = reference_checks(catalog, storage, contract, tried, sliced)
    result = run_job("contract_trial", trial_plan(resolved, contract, references))
    return result, TrialReport(dataset, contract, result["partitions"], result["references"])


def trial_plan(resolved: dict, contract: Contract, references: dict | None = None) -> dict:
    """The job's plan: the published files (`tables.reader.resolve_published`), the contract and
    its referential rules' `reference_checks` (a contract without such rules needs none)."""
    return {
        "resolved": resolved,
        "contract": contract.model_dump(by_alias=True, mode="json"),
        "references": references or {},
    }


def contract_trial_job(spark: SparkSession, plan: dict) -> dict:
    """The registered Spark job `contract_trial`. Result: per published partition, its `rows`
    and per tried rule the rows that break it (`violations`, rules with none left out); per
    referential rule, its check (`reference_checks` without the files) and its first orphan
    keys (`orphan_keys`, sorted, only when it has orphans)."""
    contract = Contract.model_validate(plan["contract"])
    rows = read_resolved(spark, plan["resolved"])
    checked, orphans = _with_references(spark, rows, contract, plan["references"])
    tallied = {**row_rules_violated(contract, rows.columns), **orphans}
    names = list(tallied)
    counted = checked.groupBy(F.col(PARTITION).cast("string").alias("partition")).agg(
        F.count(F.lit(1)).alias("rows"),
        # Named by position: a rule's name is free text to Spark.
        *[
            F.count(F.when(broken, True)).alias(f"r{i}")
            for i, broken in enumerate(tallied.values())
        ],
    )
    partitions = {
        row["partition"]: {
            "rows": row["rows"],
            "violations": {n: row[f"r{i}"] for i, n in enumerate(names) if row[f"r{i}"]},
        }
        for row in counted.collect()
    }
    unique = unique_violation_counts(rows, contract, PARTITION)
    for partition, counts in unique.items():
        partitions[partition]["violations"].update(counts)
    broken = {rule for counts in partitions.values() for rule in counts["violations"]}
    references = {}
    for name, check in plan["references"].items():
        column = contract.rule(name).columns[0]
        references[name] = {
            "dataset": check["dataset"],
            "against": check["against"],
            "untried": check["untried"],
            "orphan_keys": first_keys(checked, column, orphans[name], SAMPLE_ROWS)
            if name in broken
            else [],
        }
    return {"partitions": dict(sorted(partitions.items())), "references": references}


def _with_references(
    spark: SparkSession, rows: DataFrame, contract: Contract, checks: dict
) -> tuple[DataFrame, dict[str, Column]]:
    """`rows` with each referential rule's existence join (`with_reference_found`), and per rule
    tried on some day the condition that holds on its orphans of the days tried."""
    orphans = {}
    for number, rule in enumerate(contract.rules_of("referential_integrity")):
        check = checks.get(rule.name)
        if check is None:
            raise ValueError(f"rule {rule.name!r}: the plan resolves no reference to try it on")
        if check["resolved"] is None:
            continue
        found = f"_reference_found{number}"
        same_day = PARTITION if check["against"] is None else None
        reference = read_resolved(spark, check["resolved"])
        # Each day against its own: up to a month of the reference's partitions (a month of a
        # large master's snapshots), more than a driver should be made to broadcast (ADR-0172).
        rows = with_reference_found(
            rows, rule, reference, found, same_day, broadcast=same_day is None
        )
        condition = orphaned(rule, found)
        if check["untried"]:  # no reference partition to find the keys in: not orphans
            untried = [date.fromisoformat(d) for d in check["untried"]]
            condition = condition & ~F.col(PARTITION).isin(untried)
        orphans[rule.name] = condition
    return rows, orphans


@dataclass(frozen=True)
class TrialReport:
    dataset: str
    contract: Contract
    partitions: dict[str, dict]  # the job's result
    references: dict[str, dict]  # the job's result: per referential rule, its check

    @property
    def broken(self) -> dict[str, dict[str, int]]:
        """Rule -> partition -> published rows that break it."""
        found: dict[str, dict[str, int]] = {}
        for partition, counts in self.partitions.items():
            for rule, rows in counts["violations"].items():
                found.setdefault(rule, {})[partition] = rows
        return found

    @property
    def rejecting(self) -> list[str]:
        """The blocking rules that published rows break: the contract is stricter than the
        lake enforced."""
        broken = self.broken
        return [
            r.name for r in self.contract.all_rules if r.action in BLOCKING and r.name in broken
        ]

    def lines(self) -> list[str]:
        days = sorted(self.partitions)
        total = sum(p["rows"] for p in self.partitions.values())
        out = [f"{self.dataset}: contract tried on {len(days)} published partitions "
               f"({days[0]} .. {days[-1]}), {total:,} rows"]  # fmt: skip
        for rule in self.contract.rules_of(*TRIED_KINDS):
            check = self.references.get(rule.name, {})
            untried = check.get("untried", [])
            if len(untried) < len(days):
                out.append(self.tried_line(rule.name))
            if untried:
                them = "it" if len(untried) == 1 else "them"
                out.append(f"  {rule.name}: not tried on {', '.join(untried)} "
                           f"({check['dataset']} has not published {them})")  # fmt: skip
        untried = [f"{r.name} ({r.kind})" for r in self.contract.all_rules
                   if r.kind not in TRIED_KINDS]  # fmt: skip
        if untried:
            out.append(f"  not tried (judged per day at promotion): {', '.join(untried)}")
        rejecting = self.rejecting
        if rejecting:
            why = "; ".join(f"{n}: {BLOCKING[self.contract.rule(n).action]}" for n in rejecting)
            out.append(
                f"STRICTER than what the lake published under: {why}. Start such a rule with "
                "action warn, or fix the data first."
            )
        else:
            out.append("no blocking rule rejects a published row")
        return out

    def tried_line(self, name: str) -> str:
        """A tried rule's line; a referential rule's names what it was checked against when not
        the same day, and its first orphan keys."""
        action, per_day = self.contract.rule(name).action, self.broken.get(name)
        check = self.references.get(name, {})
        against = f" against {check['dataset']} {check['against']}" if check.get("against") else ""
        head = f"  {name} ({action}){against}"
        if not per_day:
            return f"{head}: holds on every published row" + (
                " of the days tried" if check.get("untried") else ""
            )
        spread = ", ".join(f"{day} {rows:,}" for day, rows in sorted(per_day.items()))
        keys = check.get("orphan_keys")
        sample = f"; e.g. {', '.join(keys)}" if keys else ""
        return f"{head}: {sum(per_day.values()):,} published rows break it: {spread}{sample}"
