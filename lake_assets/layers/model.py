"""What a derived table declares: its inputs, the Spark job that builds it, its columns, how
each column derives from its inputs, and the contract its output must meet before it is
published. Silver and gold modules declare their tables with these; assets.py builds them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from lake_assets.contracts.model import Contract
from resources.catalog import PublishedPartition


@dataclass(frozen=True)
class LayerInput:
    """A table a derived table reads for partition p: partitions p-lookback_days .. p of
    `dataset`, the asset `asset` (its path) publishes, or with `base_days` the one partition
    p-base_days its p is built on (a state carried from an earlier day: the table itself, or
    what another table carries). A required input that has not published its newest partition
    holds the build; an optional one is left out of the plan (None) and named in the metadata,
    as the mart does without customers."""

    dataset: str
    asset: tuple[str, ...]
    required: bool = True
    lookback_days: int = 0
    base_days: int = 0

    def __post_init__(self) -> None:
        if self.base_days and self.lookback_days:
            # The rules touch a base's one day (DependencyRule.base), not a window of them.
            raise ValueError(f"{self.dataset}: an input is read as a base or over a lookback")

    def partitions(self, partition: str) -> list[str]:
        day = date.fromisoformat(partition) - timedelta(days=self.base_days)
        return [
            (day - timedelta(days=back)).isoformat() for back in range(self.lookback_days, -1, -1)
        ]


# The job-specific part of a plan: given the partition and the resolved inputs, what else the
# job needs (settings from config, the previous version of the table itself, ...).
PlanExtra = Callable[["PlanInputs"], dict]


SlicesOf = Callable[["PlanInputs"], Mapping[str, "PublishedPartition | None"]]


@dataclass(frozen=True)
class PlanInputs:
    partition: str
    resolved: Mapping[str, dict | None]  # dataset -> tables.reader.resolve_published, or None
    catalog: object
    storage: object


@dataclass(frozen=True)
class DerivedTable:
    """One derived table. `dataset` is its catalog name (e.g. silver_customer), `asset` the
    Dagster asset path (e.g. ("silver", "customer")), `job` a registered Spark job
    (lake_assets/runtime/jobs.py) whose result comes from job.write_derived."""

    dataset: str
    asset: tuple[str, ...]
    job: str
    inputs: tuple[LayerInput, ...]
    columns: Mapping[str, str]
    description: str
    # output column -> [{"input": "<dataset>.<column>", "transformation": ..., "masking": ...}]
    column_lineage: Mapping[str, list[dict]] = field(default_factory=dict)
    plan_extra: PlanExtra | None = None
    contract: Contract | None = None
    # A table whose catalog partitions are not its asset's partitions (silver_orders: order
    # dates, built per change day) names, per build, the catalog partitions ("slices") it may
    # rewrite, each with its current version (None: not yet published), read once: the plan
    # hands the job each slice's files and the run's folder, the job reports the slices it
    # rewrote, and each is published expected at the version read here.
    slices: SlicesOf | None = None

    @property
    def layer(self) -> str:
        return self.asset[0]

    def with_contract(
        self,
        contracts: Mapping[str, Contract],
        asset_of: Callable[[str], tuple[str, ...]] | None = None,
    ) -> DerivedTable:
        """The table with its contract from `contracts` (config wins over the declared one), and
        each dataset a referential rule of it checks against as a required input of the same
        day (`asset_of` names the reference's asset): the gate then holds the build until the
        reference has published the day and passed its own checks, and the plan resolves the
        version the rule is checked against (ADR-0167)."""
        contract = contracts.get(self.dataset, self.contract)
        scored = [r.name for r in contract.rules_of("quality_score")] if contract else []
        if scored:
            # A build quarantines no rows, so the score would always be 1: a rule that cannot fail.
            raise ValueError(
                f"contract {self.dataset}: rule {scored[0]!r} is a quality_score rule, which "
                "judges the rows promotion quarantines; a derived table quarantines none, so "
                "declare fail rules on what it must not contain instead"
            )
        inputs = list(self.inputs)
        for rule in contract.rules_of("referential_integrity") if contract else ():
            reference = rule.check.references.dataset
            declared = next((i for i in inputs if i.dataset == reference), None)
            if declared is None:
                if asset_of is None:
                    raise ValueError(
                        f"contract {self.dataset}: rule {rule.name!r} checks against "
                        f"{reference}, whose asset nobody named"
                    )
                inputs.append(LayerInput(reference, asset_of(reference)))
            elif not declared.required or declared.lookback_days:
                # Left out when it has not published the day (the rule would check nothing), or
                # read over several days (a key gone today would still be found).
                raise ValueError(
                    f"contract {self.dataset}: rule {rule.name!r} checks against {reference}, "
                    "an input the table reads as optional or over several days; a reference "
                    "is read for the day built, and required"
                )
        return replace(self, contract=contract, inputs=tuple(inputs))
