"""Transaction time is commit time: a history version's changes count from the instant the
version became visible, never from when its writer started (ADR-0022, and the pending ADR on
commit instants).

The files of a version are written before it is switched in, so they cannot hold its commit
instant. Rows carry the id of the apply that recorded or superseded them (`recorded_by`,
`superseded_by`); the instants live beside them: those of earlier applies in the version's
manifest, the version's own in its catalog entry (`published_at`).

A version is switched in *uncommitted* (its catalog run id ends in UNCOMMITTED) and then
committed: stamped with a clock reading taken after the switch was seen, by its writer or by the
first reader that finds it uncommitted, through the catalog's optimistic check, so exactly one
stamp wins and it never changes. No answer is given from an uncommitted version. Hence every
stamp is later than the "now" of any reader that still saw the version before it, and an answer
as of T cannot change after T.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from lake_assets.tables.manifest import read_manifest
from resources.catalog import PartitionCatalog, PublishedPartition, StalePublish
from resources.storage import LakeStorage

Clock = Callable[[], datetime]
UNCOMMITTED = "/uncommitted"


def transaction_of(entry: PublishedPartition) -> str:
    """The id the version's own rows carry in `recorded_by`/`superseded_by`."""
    return entry.run_id.removesuffix(UNCOMMITTED)


def is_committed(entry: PublishedPartition) -> bool:
    return not entry.run_id.endswith(UNCOMMITTED)


def uncommitted(entry: PublishedPartition) -> PublishedPartition:
    """How a new version is switched in: visible, but not yet given its commit instant."""
    return replace(entry, run_id=entry.run_id + UNCOMMITTED)


def commit(
    catalog: PartitionCatalog, switched: PublishedPartition, clock: Clock
) -> PublishedPartition | None:
    """Stamp a switched-in, uncommitted version with its commit instant: a clock reading taken
    now, after the switch was seen. None if someone else committed or replaced it first."""
    stamped = replace(switched, run_id=transaction_of(switched), published_at=clock().isoformat())
    try:
        catalog.publish(stamped, expected_run_id=switched.run_id)
    except StalePublish:
        return None
    return stamped


def committed_version(
    catalog: PartitionCatalog, dataset: str, partition: str, clock: Clock
) -> PublishedPartition | None:
    """The current version, committed first if its writer has not yet done so (or died after
    switching it in)."""
    while True:
        current = catalog.current(dataset, partition)
        if current is None or is_committed(current):
            return current
        commit(catalog, current, clock)  # lost only to another commit or a newer version


def commit_instants(storage: LakeStorage, committed: PublishedPartition) -> dict[str, str]:
    """Transaction id -> commit instant (ISO) of every apply a committed version holds rows of."""
    earlier = read_manifest(storage, committed).get("transactions", {})
    return {**earlier, transaction_of(committed): committed.published_at}
