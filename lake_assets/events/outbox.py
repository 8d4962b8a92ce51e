"""The outbox: what a publish owes the rest of the lake, kept until it has been delivered.

A publish is a catalog switch followed by two announcements, the data-ready event (downstream
rules) and the lineage completion (`lake lineage trace`). A process killed between the switch
and the announcements would leave the catalog at the new version and everything else at the old
one. So the announcement is staged in the event store *before* the switch, and `drain` delivers
every staged announcement whose switch happened, idempotently: the publishing run drains right
after its switches, and whoever comes next (the next promotion, the `data_ready_dependencies`
sensor, `lake events drain`) drains what a killed run left. A crash at any point converges
without rerunning the promotion.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from lake_assets.events.model import DataReady
from lake_assets.lineage.graph import supersedes_for

if TYPE_CHECKING:  # the core must not import the resources package at run time
    from lake_assets.lineage.emitter import LineageRecorder
    from resources.catalog import PartitionCatalog
    from resources.event_store import EventStore


@dataclass(frozen=True)
class Announcement:
    """The data-ready event of one partition's publish and the lineage outputs it completes
    (its address and files, `partition_outputs`), staged at `staged_at`."""

    event: DataReady
    lineage_outputs: tuple[str, ...]
    staged_at: str

    @property
    def id(self) -> str:
        # The version, not only the run: a step retried in its run (ADR-0156) stages the
        # partition again, and must not overwrite what its first try switched and still owes.
        event = self.event
        return f"{event.dataset}|{event.partition}|{event.run_id}|{event.published_at}"

    def to_json(self) -> str:
        return json.dumps(
            {
                "event": self.event.to_dict(),
                "lineage_outputs": list(self.lineage_outputs),
                "staged_at": self.staged_at,
            }
        )

    @classmethod
    def from_json(cls, body: str) -> Announcement:
        data = json.loads(body)
        return cls(
            DataReady.from_dict(data["event"]), tuple(data["lineage_outputs"]), data["staged_at"]
        )


@dataclass
class Drained:
    """What one drain did: events newly recorded, announcements delivered (switched, so no
    longer owed) and abandoned (never switched, older than the limit: their run died first)."""

    recorded: list[DataReady] = field(default_factory=list)
    delivered: list[Announcement] = field(default_factory=list)
    abandoned: list[Announcement] = field(default_factory=list)


def stage(events: EventStore, announcement: Announcement) -> None:
    """Keep the announcement; call before the switch it announces."""
    events.put_outbox(announcement.id, announcement.to_json())


def _switched(catalog: PartitionCatalog, event: DataReady) -> bool:
    """Whether the catalog points at the version the event announces. Compaction replaces the
    folder and run of a version but keeps its `published_at`, so that is what is compared."""
    current = catalog.current(event.dataset, event.partition)
    return current is not None and current.published_at == event.published_at


def _complete_lineage(
    recorder: LineageRecorder, run_id: str, outputs: Sequence[str], now: datetime
) -> None:
    """Make the run's COMPLETE record name `outputs`, keeping whatever it already named. The
    run's START record (written before it published anything) is the base."""
    runs = recorder.store.runs()
    mine = {r.state: r for r in runs if r.run_id == run_id}
    base = mine.get("COMPLETE") or mine.get("START")
    if base is None:
        return
    known = mine["COMPLETE"].outputs if "COMPLETE" in mine else ()
    missing = tuple(key for key in outputs if key not in known)
    if not missing:
        return
    final = (*known, *missing)
    previous = [r for r in runs if r.run_id != run_id]
    done = replace(base, outputs=final, supersedes=supersedes_for(previous, final))
    recorder.record(done.finished("COMPLETE", now.isoformat()))


def drain(
    events: EventStore,
    catalog: PartitionCatalog,
    recorder: LineageRecorder | None,
    now: datetime,
    abandon_after: timedelta,
) -> Drained:
    """Deliver every staged announcement whose switch happened: record its event (a duplicate
    is not recorded twice, EventStore.record) and complete its run's lineage, then forget it.
    One whose switch has not happened is left for a run still publishing, and forgotten once
    older than `abandon_after`."""
    drained = Drained()
    # Forgotten by the key it is kept under (an entry staged under an older id too).
    staged = {Announcement.from_json(body): key for key, body in events.outbox()}
    by_run: dict[str, list[str]] = {}
    for announcement in sorted(staged, key=lambda a: a.event.published_at):
        if _switched(catalog, announcement.event):
            if events.record(announcement.event):
                drained.recorded.append(announcement.event)
            by_run.setdefault(announcement.event.run_id, []).extend(announcement.lineage_outputs)
            drained.delivered.append(announcement)
        elif datetime.fromisoformat(announcement.staged_at) < now - abandon_after:
            drained.abandoned.append(announcement)
    if recorder is not None:
        for run_id, outputs in by_run.items():
            _complete_lineage(recorder, run_id, outputs, now)
    # Forgotten only once everything it owed is delivered, so a drain killed half-way is
    # finished by the next one.
    for announcement in (*drained.delivered, *drained.abandoned):
        events.delete_outbox(staged[announcement])
    return drained
