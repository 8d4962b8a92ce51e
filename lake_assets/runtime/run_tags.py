"""The tags that say which partitions a Dagster run covers: a run of one partition carries
PARTITION_TAG, a range run as one (a backfill's single run, a schedule's lookback) the two
range tags. Dagster spells them in a private module (`dagster._core.storage.tags`), so the lake
spells them once, here; tests/test_definitions.py checks they are still Dagster's."""

from __future__ import annotations

from collections.abc import Mapping

PARTITION_TAG = "dagster/partition"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def range_tags(first: str, last: str) -> dict[str, str]:
    """The tags of one run over the partitions `first`..`last`."""
    return {RANGE_START_TAG: first, RANGE_END_TAG: last}


def partitions_of(tags: Mapping[str, str]) -> str | None:
    """The partition a run covers, or its range `first..last`, from its tags; None if none."""
    if PARTITION_TAG in tags:
        return tags[PARTITION_TAG]
    first, last = tags.get(RANGE_START_TAG), tags.get(RANGE_END_TAG)
    if first is None:
        return None
    return first if last in (None, first) else f"{first}..{last}"
