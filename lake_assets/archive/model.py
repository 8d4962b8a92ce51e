"""Which raw objects can be read now, and what a restore of the rest costs in waiting.

S3's lifecycle (terraform/storage.tf, per zone) moves raw objects to Glacier Flexible Retrieval
after 90 days. Glacier Instant Retrieval and the infrequent-access classes stay readable; the two
archive classes answer a GetObject with InvalidObjectState until a restore has made a temporary
copy, which is what a backfill of old days must wait for rather than read nothing.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum

from resources.storage import ObjectInfo

ARCHIVE_CLASSES = frozenset({"GLACIER", "DEEP_ARCHIVE"})
TIERS = ("Expedited", "Standard", "Bulk")
# S3's documented restore times, in hours, by class and tier (Deep Archive has no Expedited).
RESTORE_HOURS = {
    "GLACIER": {"Expedited": 0.25, "Standard": 5, "Bulk": 12},
    "DEEP_ARCHIVE": {"Standard": 12, "Bulk": 48},
}


class Thaw(StrEnum):
    AVAILABLE = "available"  # never archived, or in a class read directly
    ARCHIVED = "archived"  # in an archive class, no restore asked for
    RESTORING = "restoring"  # a restore is under way
    RESTORED = "restored"  # a temporary copy is readable until it expires


def thaw_of(info: ObjectInfo) -> Thaw:
    """The state of one object from its HeadObject answer."""
    if info.storage_class not in ARCHIVE_CLASSES:
        return Thaw.AVAILABLE
    if info.restore is None:
        return Thaw.ARCHIVED
    return Thaw.RESTORING if 'ongoing-request="true"' in info.restore else Thaw.RESTORED


def restore_problem(storage_class: str, tier: str) -> str | None:
    if tier not in TIERS:
        return f"tier {tier!r} is not one of {', '.join(TIERS)}"
    if tier not in RESTORE_HOURS.get(storage_class, {tier: 0}):
        return f"{storage_class} cannot be restored with the {tier} tier"
    return None


def waiting(states: dict[str, Thaw]) -> list[str]:
    """Keys a job cannot read yet: archived, or restoring."""
    return [k for k, s in states.items() if s in (Thaw.ARCHIVED, Thaw.RESTORING)]


@dataclass(frozen=True)
class Thawing:
    """The raw objects of a range of days, each with its state after a restore was asked."""

    source: str
    first: str
    last: str
    states: dict[str, Thaw]  # key -> state
    classes: dict[str, str] = field(default_factory=dict)  # key -> storage class, archived ones
    requested: tuple[str, ...] = ()  # keys whose restore this command asked for
    tier: str = "Bulk"

    @property
    def counts(self) -> dict[str, int]:
        counted = Counter(self.states.values())
        return {state.value: counted.get(state, 0) for state in Thaw}

    @property
    def waiting(self) -> list[str]:
        return waiting(self.states)

    @property
    def ready_within_hours(self) -> float:
        """How long S3 documents the slowest restore asked for here can take."""
        return max(
            (RESTORE_HOURS[self.classes[k]].get(self.tier, 0) for k in self.requested), default=0
        )


class ArchivedInputsError(RuntimeError):
    """A job's raw inputs include archived objects: refused before any compute starts."""

    def __init__(self, source: str, first: str, last: str, keys: list[str], states: dict):
        self.keys = keys
        restoring = sum(states[k] is Thaw.RESTORING for k in keys)
        shown = ", ".join(keys[:3]) + (f" and {len(keys) - 3} more" if len(keys) > 3 else "")
        super().__init__(
            f"{source} {first}..{last}: {len(keys)} raw files are archived in Glacier and not "
            f"restored ({restoring} of them restoring): {shown}. Nothing was read or published. "
            f"Run `lake restore --source {source} --date {first} --to {last}`, wait until it "
            "reports none archived or restoring, then run this backfill again "
            "(docs/runbooks/restore-from-glacier.md)."
        )
