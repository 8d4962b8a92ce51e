"""The records the lake already keeps, as the SLIs read them (sli.py: `events_for`).

Nothing here is new bookkeeping: the Dagster instance (runs, asset check evaluations), the
partition catalog, the event store (every data-ready event, the dependency waits), the
raw-file index (when each payload landed), the lineage store, the classification store, the
cost ledger and the contracts. Where each SLI comes from is said in its module (sli_*.py) and
in the ADR.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

from lake_assets.classification.policy import ClassificationPolicy, load_policy
from lake_assets.contracts.model import Contract
from lake_assets.cost.report import read_ledger
from lake_assets.events.model import DataReady, DependencyRule
from lake_assets.settings import UNOWNED, SourceConfig
from lake_assets.slo.slices import instant, parse_address
from resources.catalog import PartitionCatalog
from resources.classification_store import ClassificationStore
from resources.event_store import EventStore
from resources.lineage_store import LineageStore
from resources.registry_store import RegistryStore

# A month ("YYYY-MM") -> the published ledger's rows of that month ([] when none is published).
LedgerReader = Callable[[str], list[dict]]


@dataclass(frozen=True)
class LakeRecords:
    """The stores of one lake. `instance` is a DagsterInstance (typed loosely so that the pure
    SLIs import no Dagster); each cached view is read once per evaluation."""

    instance: Any
    catalog: PartitionCatalog
    events: EventStore
    registry: RegistryStore  # the raw-file index: when each payload landed (the arrivals)
    lineage: LineageStore
    classifications: ClassificationStore
    ledger: LedgerReader
    contracts: Mapping[str, Contract] = field(default_factory=dict)
    rules: Sequence[DependencyRule] = ()  # config/dependencies.yaml
    sources: Mapping[str, SourceConfig] = field(default_factory=dict)
    # The classification policy's confidence floor (config/classification.yaml), for a
    # completeness SLO that names no threshold of its own.
    review_threshold: float = ClassificationPolicy().review_threshold

    @classmethod
    def from_resources(
        cls,
        resources: Mapping[str, Any],
        instance: Any,
        contracts: Mapping[str, Contract],
        rules: Sequence[DependencyRule],
        policy: ClassificationPolicy | None = None,
    ) -> LakeRecords:
        """The records behind a profile's resources (resources.build_resources) and instance."""
        catalog, storage = resources["catalog"], resources["storage"]

        def ledger(month: str) -> list[dict]:
            try:
                return read_ledger(catalog, storage, month)
            except LookupError:  # no ledger for that month yet: no cost data
                return []

        return cls(
            instance=instance,
            catalog=catalog,
            events=resources["events"],
            registry=resources["registry"],
            lineage=resources["lineage"],
            classifications=resources["classification"],
            ledger=ledger,
            contracts=contracts,
            rules=rules,
            sources=resources["settings"].sources,
            review_threshold=(policy or load_policy()).review_threshold,
        )

    # --- views shared by several SLIs ----------------------------------------------------

    @cached_property
    def data_ready(self) -> dict[tuple[str, str], list[DataReady]]:
        """(dataset, partition) -> every version announced, oldest first."""
        found: dict[tuple[str, str], list[DataReady]] = {}
        for event in self.events.events_since(None)[0]:
            found.setdefault((event.dataset, event.partition), []).append(event)
        return found

    @cached_property
    def _announced(self) -> dict[str, dict[str, list[datetime]]]:
        """Dataset -> partition -> when each of its versions was published."""
        found: dict[str, dict[str, list[datetime]]] = {}
        for (dataset, partition), events in self.data_ready.items():
            times = [instant(e.published_at) for e in events]
            found.setdefault(dataset, {})[partition] = times
        return found

    def first_published(self, dataset: str) -> dict[str, datetime]:
        """Partition -> when it was first published: the earliest data-ready event, or the
        catalog's publish time where no event was kept. The catalog alone holds the latest
        version only, and a daily run's republish of a late-arrival window must not make an
        on-time partition look late."""
        first = {p.partition: instant(p.published_at) for p in self.catalog.partitions(dataset)}
        for partition, times in self._announced.get(dataset, {}).items():
            first[partition] = min([*times, first.get(partition, times[0])])
        return first

    def publish_times(self, dataset: str) -> list[datetime]:
        """Every publish of the dataset, any partition, in time order."""
        times = {instant(p.published_at) for p in self.catalog.partitions(dataset)}
        times.update(*self._announced.get(dataset, {}).values())
        return sorted(times)

    @cached_property
    def _lineage_runs(self):
        return [run for run in self.lineage.runs() if run.state == "COMPLETE"]

    def upstreams(self, dataset: str) -> tuple[str, ...]:
        """The datasets `dataset` is built from: the partitions its completed runs read (the
        lineage store) and the inputs the dependency rules wait for on its behalf."""
        found: set[str] = set()
        for run in self._lineage_runs:
            if any((parse_address(o) or ("",))[0] == dataset for o in run.outputs):
                found |= {a[0] for a in map(parse_address, run.inputs) if a}
        target = self.target(dataset)
        for rule in self.rules:
            if "/".join(rule.target_path) == target:
                found |= set(rule.datasets)
        found.discard(dataset)
        return tuple(sorted(found))

    def asset_key(self, dataset: str):
        """The Dagster asset that publishes `dataset` (its runs, its checks)."""
        from lake_assets.ingestion.asset_keys import asset_of  # Dagster: for the readers only

        return asset_of(dataset, self.sources)

    def target(self, dataset: str) -> str:
        """The asset path a dependency rule's `target` names for `dataset`."""
        return "/".join(self.asset_key(dataset).path)

    def owner(self, dataset: str) -> str | None:
        """The dataset's declared owner: its contract's, else its source's; None: nobody."""
        if dataset in self.contracts:
            return self.contracts[dataset].owner
        source = self.sources.get(dataset)
        return source.asset_owner if source and source.owner != UNOWNED else None

    @cached_property
    def _readers(self) -> dict[str, list]:
        found: dict[str, list] = {}
        for run in sorted(self._lineage_runs, key=lambda r: (r.ended_at or "", r.run_id)):
            for key in run.inputs:
                found.setdefault(key, []).append(run)
        return found

    def readers_of(self, key: str) -> list:
        """The completed runs (LineageRun) that read lake key `key`, earliest first."""
        return self._readers.get(key, [])
