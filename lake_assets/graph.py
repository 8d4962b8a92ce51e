"""The lake's data assets with its declarative config, checked as a whole: what the code location
(definitions.py) builds on, and what `lake` checks before every command, so a config error fails
both the same way, naming file, key and reason."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from dagster import AssetsDefinition, Definitions, PartitionsDefinition

from lake_assets.contracts.model import Contract, lake_contracts
from lake_assets.events.model import DependencyRule, check_rules, load_rules
from lake_assets.history.definitions import history_definitions
from lake_assets.ingestion.asset_keys import curated_key_of
from lake_assets.ingestion.definitions import ingestion_definitions
from lake_assets.layers.definitions import DERIVED_TABLES, contracted_tables, layers_definitions
from lake_assets.layers.model import DerivedTable
from lake_assets.marts.definitions import marts_definitions
from lake_assets.settings import Settings
from partitions import daily_partitions


class CheckedGraph(NamedTuple):
    contracts: dict[str, Contract]
    tables: tuple[DerivedTable, ...]  # the derived tables as the lake builds them
    rules: list[DependencyRule]
    data: list[Definitions]  # the data assets' definitions


def checked_graph(settings: Settings, partitions_def: PartitionsDefinition) -> CheckedGraph:
    """Contracts, the derived tables as the lake builds them (with their contracts), dependency
    rules and the definitions of the data assets (ingestion, history, marts, the derived
    layers), with every reference between them and the sources checked: a config error fails
    here, when the code location loads."""
    contracts = lake_contracts(settings)
    tables = contracted_tables(contracts, settings.sources)
    data = [
        ingestion_definitions(settings, partitions_def, contracts),
        history_definitions(settings, partitions_def),
        marts_definitions(partitions_def),
        layers_definitions(partitions_def, tables),
    ]
    rules = lake_rules(settings, contracts, tables)
    targets = {
        key.to_user_string()
        for part in data
        for asset in part.assets
        for key in (asset.keys if isinstance(asset, AssetsDefinition) else [asset.key])
    }
    announcing = [*settings.sources, *(t.dataset for t in DERIVED_TABLES)]
    check_rules(settings.dependencies_file, rules, announcing, targets)
    return CheckedGraph(contracts, tables, rules, data)


def lake_rules(
    settings: Settings,
    contracts: dict[str, Contract] | None = None,
    tables: Sequence[DerivedTable] | None = None,
) -> list[DependencyRule]:
    """Every dependency rule the data-ready sensor evaluates: config/dependencies.yaml's, one
    per derived table no configured rule targets (`derived_table_rules`), and the referential
    rechecks. What the sensor, `lake events replay` and the SLOs read."""
    if contracts is None:
        contracts = lake_contracts(settings)
    if tables is None:
        tables = contracted_tables(contracts, settings.sources)
    configured = load_rules(settings.dependencies_file)
    return [
        *configured,
        *derived_table_rules(tables, configured),
        *referential_rechecks(contracts, settings),
    ]


# What a derived table's own rule does when an input has not published the day within a day:
# wait, with a dead letter and its alert (config/dependencies.yaml's silver rules do the same).
DERIVED_RULE_TIMEOUT_HOURS = 24


def derived_table_rules(
    tables: Sequence[DerivedTable], configured: Sequence[DependencyRule]
) -> list[DependencyRule]:
    """A rule per derived table that no configured rule targets, from its declared inputs: the
    table's day p runs once every required input (read for p alone) has published p, and again
    when a new version of any of them is published; an input read optionally or over several
    days is the rule's lookback (ADR-0070), and the base a day is built on its base (ADR-0202). Derived, so a table added to a layer is built by
    events without a second declaration, and one whose inputs change (a reference a contract
    adds: ADR-0167) is run on them (ADR-0168). A configured rule for the table's asset replaces
    its derived one (another timeout or on_timeout)."""
    targeted = {rule.target for rule in configured}
    rules = []
    for table in tables:
        target = "/".join(table.asset)
        if target in targeted:
            continue
        day_only = [i for i in table.inputs if i.required and not i.lookback_days + i.base_days]
        bases = [i for i in table.inputs if i.base_days]
        rules.append(
            DependencyRule(
                name=table.dataset,
                target=target,
                inputs=tuple(i.dataset for i in day_only),
                lookback={
                    i.dataset: i.lookback_days
                    for i in table.inputs
                    if i not in day_only and i not in bases
                },
                base={i.dataset: i.base_days for i in bases},
                timeout_hours=DERIVED_RULE_TIMEOUT_HOURS,
                on_timeout="wait",
            )
        )
    return rules


def referential_rechecks(
    contracts: dict[str, Contract], settings: Settings
) -> list[DependencyRule]:
    """A dependency rule per source and dataset its contract's referential rules reference:
    when the reference publishes a day, the source's curated partition of that day is promoted
    again if its last promotion left orphans unchecked (grace), was held back by them, or was
    checked against an earlier version of the reference (a snapshot re-delivered without a
    customer), so the check is made against what is published now (ADR-0132). Derived, not configured: a
    referential rule never lacks its recheck. Its only input is ready when it fires, so it
    never waits or dead-letters."""
    rechecks = []
    for dataset, contract in sorted(contracts.items()):
        if dataset not in settings.sources:
            continue  # only promotion checks references (ADR-0014)
        references = {
            r.check.references.dataset for r in contract.rules_of("referential_integrity")
        }
        for reference in sorted(references):
            rechecks.append(
                DependencyRule(
                    name=f"recheck_{dataset}_against_{reference}",
                    target=curated_key_of(dataset).to_user_string(),
                    inputs=(reference,),
                    timeout_hours=24,
                    recheck_references=True,
                )
            )
    return rechecks


def check_config(settings: Settings) -> None:
    """Raise ConfigError for what loading the code location would refuse."""
    checked_graph(settings, daily_partitions(settings.partitions_start))
