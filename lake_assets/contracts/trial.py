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
files (`trial_plan`), the job counts each row rule's and unique rule's violations per partition in
one aggregate, and `TrialReport` says what they mean. Rules judged per day at promotion (volume,
quality score, referential integrity) are listed as not tried.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from lake_assets.contracts.model import ROW_KINDS, Contract
from lake_assets.contracts.rules import row_rules_violated, unique_violation_counts
from lake_assets.tables.frames import PARTITION, read_resolved

BLOCKING = {"drop": "its rows would be quarantined", "fail": "its days would fail"}
TRIED_KINDS = (*ROW_KINDS, "unique")


def trial_plan(resolved: dict, contract: Contract) -> dict:
    """The job's plan: the published files (`tables.reader.resolve_published`) and the contract."""
    return {"resolved": resolved, "contract": contract.model_dump(by_alias=True, mode="json")}


def contract_trial_job(spark: SparkSession, plan: dict) -> dict:
    """The registered Spark job `contract_trial`. Result: per published partition, its `rows`
    and per tried rule the rows that break it (`violations`, rules with none left out)."""
    contract = Contract.model_validate(plan["contract"])
    rows = read_resolved(spark, plan["resolved"])
    violated = row_rules_violated(contract, rows.columns)
    names = list(violated)
    counted = rows.groupBy(F.col(PARTITION).cast("string").alias("partition")).agg(
        F.count(F.lit(1)).alias("rows"),
        # Named by position: a rule's name is free text to Spark.
        *[
            F.count(F.when(broken, True)).alias(f"r{i}")
            for i, broken in enumerate(violated.values())
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
    return {"partitions": dict(sorted(partitions.items()))}


@dataclass(frozen=True)
class TrialReport:
    dataset: str
    contract: Contract
    partitions: dict[str, dict]  # the job's result

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
        broken = self.broken
        for rule in self.contract.rules_of(*TRIED_KINDS):
            per_day = broken.get(rule.name, {})
            if not per_day:
                out.append(f"  {rule.name} ({rule.action}): holds on every published row")
                continue
            spread = ", ".join(f"{day} {rows:,}" for day, rows in sorted(per_day.items()))
            out.append(f"  {rule.name} ({rule.action}): {sum(per_day.values()):,} published rows "
                       f"break it: {spread}")  # fmt: skip
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
