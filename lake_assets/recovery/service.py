"""Export the catalog into the bucket, and restore a catalog from the exports a bucket holds."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta

from lake_assets.recovery.model import (
    EXPORT_PREFIX,
    RESTORE,
    CatalogExport,
    RecoveryPlan,
    export_document,
    export_key,
    parse_export,
    plan_recovery,
)
from lake_assets.tables.manifest import MANIFEST, entry_of
from lake_assets.tables.reader import published_files
from resources.catalog import ANY_AGE, PartitionCatalog, PublishedPartition
from resources.storage import LakeStorage


def export_catalog(
    catalog: PartitionCatalog, storage: LakeStorage, at: datetime, retention: timedelta
) -> tuple[str, int, int]:
    """Write every current pointer under `_recovery/catalog/`; remove the exports older than the
    retention (their superseded versions are expired too, so they could not be restored), never
    the one just written. Returns the key, the partitions exported and the exports removed."""
    partitions = [p for dataset in catalog.datasets() for p in catalog.partitions(dataset)]
    superseded = catalog.superseded(older_than=ANY_AGE)
    key = export_key(at)
    storage.put_bytes(key, export_document(partitions, superseded, at), "application/json")
    expired = [k for k in export_keys(storage) if k < export_key(at - retention) and k != key]
    for old in expired:
        storage.delete_prefix(old)
    return key, len(partitions), len(expired)


def export_keys(storage: LakeStorage) -> list[str]:
    """The exports in the bucket, newest first."""
    keys = [info.key for info in storage.list(EXPORT_PREFIX) if info.key.endswith(".json")]
    return sorted(keys, reverse=True)


def read_exports(storage: LakeStorage, keys: list[str]) -> Iterator[CatalogExport]:
    for key in keys:
        yield parse_export(key, storage.get_bytes(key))


def missing_here(storage: LakeStorage):
    """What a version lacks in `storage`: its manifest or a file it lists (the reader's own
    check, so restored means readable)."""

    def missing(version: PublishedPartition) -> tuple[str, ...]:
        try:
            published_files(storage, version)
        except FileNotFoundError as error:
            return (str(error),)
        return ()

    return missing


class NoExport(LookupError):
    pass


def recovery_plan(
    catalog: PartitionCatalog, storage: LakeStorage, replace: bool = False
) -> RecoveryPlan:
    keys = export_keys(storage)
    if not keys:
        raise NoExport(
            f"no catalog export under {storage.uri(EXPORT_PREFIX)}: the lake exports its "
            "catalog on the recovery/catalog_export schedule or with `lake dr export`"
        )
    exports = read_exports(storage, keys)
    newest = next(exports)
    plan = plan_recovery(newest, exports, missing_here(storage), catalog.current, replace=replace)
    plan.published_after = published_after(storage, newest)
    plan.superseded = [s for s in plan.superseded if storage.exists(s.location + MANIFEST)]
    return plan


def published_after(storage: LakeStorage, export: CatalogExport) -> list[PublishedPartition]:
    """The newest version of each partition published after the export, from the manifests in
    the bucket (a publish writes its manifest just before the switch): what the restore cannot
    bring back, to rebuild from raw; a table first published after the export too. Only
    manifests written since the export are read."""
    newest: dict[tuple[str, str], PublishedPartition] = {}
    for info in storage.list("curated/"):
        if not info.key.endswith("/" + MANIFEST) or info.last_modified <= export.exported_at:
            continue
        entry = entry_of(json.loads(storage.get_bytes(info.key)))
        if entry is None or entry.published_at <= export.exported_at.isoformat():
            continue
        key = (entry.dataset, entry.partition)
        if key not in newest or entry.published_at > newest[key].published_at:
            newest[key] = entry
    return sorted(newest.values(), key=lambda p: (p.dataset, p.partition))


def restore(catalog: PartitionCatalog, plan: RecoveryPlan) -> int:
    """Publish each partition the plan restores, under the optimistic check: the catalog must
    still hold what the plan saw (StalePublish otherwise), then keep the superseded versions
    for rollback and expiry. Returns how many partitions were published."""
    published = 0
    for item in plan.partitions:
        if item.outcome == RESTORE:
            catalog.publish(item.version, expected_run_id=item.replaces)
            published += 1
    catalog.keep_superseded(plan.superseded)
    return published
