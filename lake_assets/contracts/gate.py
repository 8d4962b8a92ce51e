"""The quality gate: which partitions of a promotion may be published, and why not.

Pure: violation counts, row counts, volume history and reference publish times in; a verdict
per partition and per rule out. The curated asset publishes the partitions that pass and reports
every rule as a Dagster asset check.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from lake_assets.contracts.model import Contract, ReferentialIntegrity, Rule, Sql
from lake_assets.contracts.verdicts import (
    ACTION_EFFECTS,
    blocking_rules,
    quality_verdict,
    ri_phase,
    volume_verdict,
)

# The materialization metadata naming a partition's referential rules that wait on their
# reference: orphans in grace, or held back (ADR-0132).
AWAITING = "awaiting_reference"
# ... and the reference versions (dataset -> run) its referential rules checked it against.
CHECKED_AGAINST = "references_checked"


@dataclass
class RuleOutcome:
    """One rule over one partition."""

    violations: int = 0
    phase: str = "enforced"  # enforced | grace (referential) | observing (volume)
    blocks: bool = False
    # What a rule judged by the partition's counts (volume, quality score) found: its message
    # says this instead of a number of violating rows.
    detail: str = ""


@dataclass
class PartitionVerdict:
    partition: str
    rules: dict[str, RuleOutcome] = field(default_factory=dict)

    awaiting: list[str] = field(default_factory=list)

    @property
    def blocked_by(self) -> list[str]:
        return [name for name, outcome in self.rules.items() if outcome.blocks]


def check_name(rule: Rule) -> str:
    """Dagster check names allow letters, digits and underscores only."""
    return "contract_" + rule.name.replace(".", "_")


def judge_partitions(
    contract: Contract,
    partitions: Sequence[str],
    violations: Mapping[str, Mapping[str, int]],
    published_rows: Mapping[str, int],
    history: Mapping[str, int],
    reference_published_at: Mapping[tuple[str, str], datetime | None],
    now: datetime,
    quarantined_rows: Mapping[str, int] | None = None,
) -> dict[str, PartitionVerdict]:
    """A verdict per partition.

    `history` holds the published row counts of earlier partitions (partition -> rows), the
    baseline of volume rules; `reference_published_at[(rule, partition)]` says when the
    referenced dataset published that partition, None if it has not; `quarantined_rows` the
    rows promotion quarantined per partition, which quality score rules weigh against the
    published ones (a derived table's build quarantines none: its contract has no such rule).
    """
    verdicts = {}
    for partition in partitions:
        counts = violations.get(partition, {})
        verdict = PartitionVerdict(partition)
        in_grace = []
        for rule in contract.rules_of("referential_integrity"):
            phase = ri_phase(
                rule,
                date.fromisoformat(partition),
                reference_published_at.get((rule.name, partition)),
                now,
            )
            if phase == "grace":
                in_grace.append(rule.name)
        blocking = set(blocking_rules(contract, counts, in_grace))
        for rule in contract.all_rules:
            if rule.kind == "volume":
                verdict.rules[rule.name] = _volume_outcome(
                    contract, rule, partition, published_rows, history
                )
                continue
            if rule.kind == "quality_score":
                score = quality_verdict(
                    rule,
                    published_rows.get(partition, 0),
                    (quarantined_rows or {}).get(partition, 0),
                )
                verdict.rules[rule.name] = RuleOutcome(
                    violations=0 if score.passed else 1,
                    blocks=not score.passed and rule.action == "fail",
                    detail=score.detail,
                )
                continue
            verdict.rules[rule.name] = RuleOutcome(
                violations=counts.get(rule.name, 0),
                phase="grace" if rule.name in in_grace else "enforced",
                blocks=rule.name in blocking,
            )
        # Orphans its reference may yet resolve: unchecked in grace, or held back. Checked
        # again when the reference publishes the day (ADR-0132).
        verdict.awaiting = [
            rule.name
            for rule in contract.rules_of("referential_integrity")
            if counts.get(rule.name, 0) and (rule.name in in_grace or rule.name in blocking)
        ]
        verdicts[partition] = verdict
    return verdicts


def _volume_outcome(
    contract: Contract,
    rule: Rule,
    partition: str,
    published_rows: Mapping[str, int],
    history: Mapping[str, int],
) -> RuleOutcome:
    earlier = [rows for p, rows in sorted(history.items()) if p < partition]
    verdict = volume_verdict(
        rule, earlier, published_rows.get(partition, 0), contract.bootstrap_partitions
    )
    return RuleOutcome(
        violations=0 if verdict.passed else 1,
        phase=verdict.phase,
        blocks=verdict.phase == "enforcing" and not verdict.passed and rule.action == "fail",
        detail=verdict.detail,
    )


# --- messages ------------------------------------------------------------------------------


# What a violation does to the partition, by the rule's action.
def rule_subject(rule: Rule) -> str:
    """The rule and what it reads: `rule 'amount_positive' (range on column amount)`."""
    check = rule.check
    if isinstance(check, Sql):
        on = f"expression {check.expression!r}"
    elif isinstance(check, ReferentialIntegrity):
        on = f"column {check.column} -> {check.references.dataset}.{check.references.column}"
    elif rule.columns:
        on = f"column{'s' if len(rule.columns) > 1 else ''} {', '.join(rule.columns)}"
    elif rule.kind == "quality_score":
        on = "the share of the partition's rows published"
    else:
        on = "the partition's row count"
    return f"rule {rule.name!r} ({rule.kind} on {on})"


def violation_message(rule: Rule, partition: str, outcome: RuleOutcome) -> str:
    """What one rule found in one partition, and what that does: the rule, its column, the
    partition and the count of violating rows (a volume rule judges the count itself)."""
    found = outcome.detail or f"{outcome.violations} violating rows"
    if outcome.phase == "grace":
        consequence = "not enforced: the reference is unpublished, within its grace window"
    else:
        consequence = ACTION_EFFECTS[rule.action].outcome
    return f"{rule_subject(rule)} in partition {partition}: {found}; {consequence}"


def describe_outcomes(rule: Rule, outcomes: Mapping[str, RuleOutcome]) -> str:
    """A check's description over the partitions of a run: one message per partition with
    violations, or that none had any."""
    violated = [violation_message(rule, p, o) for p, o in sorted(outcomes.items()) if o.violations]
    partitions = sorted(outcomes)
    span = partitions[0] if len(partitions) == 1 else f"{partitions[0]}..{partitions[-1]}"
    return "; ".join(violated) or f"{rule_subject(rule)}: no violations in {span}"
