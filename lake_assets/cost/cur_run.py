"""One billing month of the CUR source, end to end and Dagster-free: land what the export
delivered, choose the month's delivery (cur_source.decide), register its schema, run the
`cost_cur` Spark job, hold what it wrote to the contract, publish the month and record the
files' lineage. The asset (cur_assets.py) only wires resources to `CurMonth.run`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pyarrow.parquet as pq

from lake_assets.cost.cur_delivery import (
    MANIFEST_SUFFIX,
    DeliveryManifest,
    manifest_key,
    read_manifest,
)
from lake_assets.cost.cur_source import (
    CURATED_COLUMNS,
    ContractOutcome,
    LandedDelivery,
    contract,
    decide,
    delivery_fields,
    schema_version,
)
from lake_assets.cost.model import CUR_DATASET, check_month
from lake_assets.lineage import LineageRun, partition_address, partition_outputs
from lake_assets.lineage.emitter import LineageRecorder
from lake_assets.runtime.jobs import RunJob
from lake_assets.tables import manifest as table_manifest
from lake_assets.tables.locations import (
    CUR_EXPORT,
    CUR_EXPORT_PREFIX,
    CUR_SOURCE,
    cur_delivery_prefix,
    published_month_location,
)
from lake_assets.tables.publish import publish, version_of
from resources.catalog import PartitionCatalog, PublishedPartition
from resources.registry_store import RegistryStore
from resources.storage import LakeStorage

JOB = "cost/cur"


class CurContractFailed(RuntimeError):
    """What the job wrote breaks the CUR source's contract; nothing was published."""

    def __init__(self, month: str, outcome: ContractOutcome):
        self.outcome = outcome
        super().__init__(
            f"{CUR_DATASET}[{month}]: delivery {outcome.metadata['delivery']} breaks the CUR "
            f"contract ({'; '.join(outcome.metadata['failures'])}); nothing published"
        )


@dataclass(frozen=True)
class Landing:
    prefix: str
    manifest: DeliveryManifest
    new: bool  # False: this delivery id had landed already (a re-delivery, not doubled)


def _land(storage: LakeStorage, manifest_name: str, manifest: bytes, put_data) -> Landing:
    """Land one delivery in its own raw folder, data files first and the manifest last (a
    folder without its manifest is a delivery still landing); a delivery id that landed
    before is recognised and left as it is."""
    parsed = read_manifest(manifest, manifest_name)
    prefix = cur_delivery_prefix(parsed.month, parsed.delivery_id)
    if storage.exists(prefix + manifest_name):
        return Landing(prefix, parsed, new=False)
    for name in parsed.data_files:
        put_data(name, prefix + name)
    storage.put_bytes(prefix + manifest_name, manifest)
    return Landing(prefix, parsed, new=True)


def land_delivery(storage: LakeStorage, objects: Mapping[str, bytes]) -> Landing:
    """Land a delivery given as its objects (cur_delivery.delivery_objects: the demo, tests)."""
    name = next((k for k in objects if k.endswith(MANIFEST_SUFFIX)), None)
    if name is None:
        raise ValueError(
            f"a CUR delivery needs its manifest (*{MANIFEST_SUFFIX}); got {sorted(objects)}"
        )
    return _land(storage, name, objects[name], lambda n, key: storage.put_bytes(key, objects[n]))


def land_from_export(
    storage: LakeStorage, month: str, export: str = CUR_EXPORT, prefix: str = CUR_EXPORT_PREFIX
) -> Landing | None:
    """Land the month's delivery the export holds now (AWS overwrites it at each delivery),
    copied within the bucket; None when the export has not delivered the month."""
    name = manifest_key(export, month)
    if not storage.exists(prefix + name):
        return None
    body = storage.get_bytes(prefix + name)
    return _land(storage, name, body, lambda n, key: storage.copy(prefix + n, key))


def has_delivery(
    storage: LakeStorage, month: str, export: str = CUR_EXPORT, prefix: str = CUR_EXPORT_PREFIX
) -> bool:
    """Whether the month has a bill to build from: in the export, or landed already."""
    return storage.exists(prefix + manifest_key(export, month)) or bool(
        landed_deliveries(storage, month)
    )


def landed_deliveries(storage: LakeStorage, month: str) -> list[LandedDelivery]:
    """The month's deliveries in the raw zone whose manifest has landed."""
    root = cur_delivery_prefix(month)
    present: dict[str, set[str]] = {}
    for info in storage.list(root):
        folder, _, name = info.key[len(root) :].partition("/")
        present.setdefault(root + folder + "/", set()).add(name)
    found = []
    for folder, names in sorted(present.items()):
        manifests = sorted(n for n in names if n.endswith(MANIFEST_SUFFIX))
        if manifests:
            key = folder + manifests[0]
            manifest = read_manifest(storage.get_bytes(key), key)
            found.append(LandedDelivery(manifest, folder, frozenset(names), key))
    return found


@dataclass(frozen=True)
class CurMonthResult:
    month: str
    action: str  # "publish" or "unchanged"
    reason: str
    delivery_id: str
    schema_version: str = ""
    published: PublishedPartition | None = None
    replaced: PublishedPartition | None = None
    written: dict = field(default_factory=dict)
    contract: ContractOutcome | None = None


class CurMonth:
    """The CUR source's run for one month, over the lake's stores and a Spark runner."""

    def __init__(
        self,
        storage: LakeStorage,
        catalog: PartitionCatalog,
        registry: RegistryStore,
        recorder: LineageRecorder,
        run_job: RunJob,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self.storage, self.catalog, self.registry = storage, catalog, registry
        self.recorder, self.run_job, self.clock = recorder, run_job, clock

    def run(self, month: str, run_id: str) -> CurMonthResult:
        check_month(month)
        land_from_export(self.storage, month)
        current = self.catalog.current(CUR_DATASET, month)
        published_delivery = (
            table_manifest.read_manifest(self.storage, current).get("delivery_id")
            if current
            else None
        )
        decision = decide(month, landed_deliveries(self.storage, month), published_delivery)
        delivery = decision.delivery
        if decision.action == "unchanged":
            return CurMonthResult(
                month,
                "unchanged",
                decision.reason,
                delivery.manifest.delivery_id,
                current.schema_version,
                current,
            )
        version, new_records = self._register(delivery)
        location = published_month_location(CUR_DATASET, run_id, month)
        inputs = (*delivery.data_keys, delivery.manifest_key)
        started = LineageRun(
            run_id=run_id,
            job=JOB,
            partition=month,
            inputs=inputs,
            outputs=(partition_address(CUR_DATASET, month),),
            started_at=self.clock().isoformat(),
            schema_version=version,
        )
        with self.recorder.track(started) as outputs:
            outputs.extend(f"schema_registry/{CUR_SOURCE}/{v}" for v in new_records)
            plan = {
                "files": [self.storage.uri(key) for key in delivery.data_keys],
                "delivery_id": delivery.manifest.delivery_id,
                "output_uri": self.storage.uri(location),
            }
            written = self.run_job("cost_cur", plan)
            outcome = contract(written, delivery.manifest)
            if not outcome.passed:
                raise CurContractFailed(month, outcome)
            entry = PublishedPartition(
                dataset=CUR_DATASET,
                partition=month,
                location=location,
                run_id=run_id,
                published_at=self.clock().isoformat(),
                row_count=written["rows"],
                schema_version=version,
                columns=CURATED_COLUMNS,
            )
            details = {"delivery_id": delivery.manifest.delivery_id, "built_from": list(inputs)}
            replaced = publish(
                self.catalog, self.storage, entry, written["files"], version_of(current), details
            )
            outputs.extend(partition_outputs(CUR_DATASET, month, location, written["files"]))
        return CurMonthResult(
            month,
            "publish",
            decision.reason,
            delivery.manifest.delivery_id,
            version,
            entry,
            replaced,
            written,
            outcome,
        )

    def _register(self, delivery: LandedDelivery) -> tuple[str, list[str]]:
        """The delivery's schema version in the registry (source `cur`), recorded if new;
        returns it and the ids of the versions written."""
        schemas = []
        for key in delivery.data_keys:
            with self.storage.local_path(key) as path:
                schemas.append((key, pq.read_schema(path)))
        fields = delivery_fields(schemas)
        version, changed = schema_version(self.registry.versions(CUR_SOURCE), fields, self.clock())
        for record in changed:
            if record.version == version.version:
                self.registry.put_version(record)
            else:
                self.registry.update_version(record)
        return version.version, [r.version for r in changed if r.version == version.version]
