"""What ingestion's runs record beside their data: profiling as a lineage run of job
registry/<source>, and what publishing a curated partition announces (its data-ready event and
its file-level lineage, staged in the outbox before the switch: ADR-0036)."""

from datetime import UTC, datetime

from lake_assets.events.model import DataReady
from lake_assets.events.outbox import Announcement
from lake_assets.ingestion.intake import ProfilingSummary, profile_objects
from lake_assets.ingestion.raw_zone import PartitionCalendar
from lake_assets.lineage import LineageRun, partition_outputs
from lake_assets.lineage.emitter import recorder_for
from lake_assets.settings import Settings, SourceConfig
from resources.lineage_store import LineageStore
from resources.notifier import Notifier
from resources.registry_store import RegistryStore
from resources.storage import LakeStorage, ObjectInfo

# Recorded in lineage events; bump when the promotion job's semantics change.
PROMOTION_CODE_VERSION = "promotion-v1"


def announcement_of(entry, inputs, written) -> Announcement:
    """What publishing `entry` owes: its data-ready event, identified by the raw files it was
    built from (the same inputs republished are a duplicate), and its file-level lineage."""
    content = sorted(f"{r.key}@{r.etag}" for r in inputs[entry.partition])
    files = written[entry.partition].files
    return Announcement(
        DataReady.from_published(entry, content),
        partition_outputs(entry.dataset, entry.partition, entry.location, files),
        datetime.now(UTC).isoformat(),
    )


def profile_with_lineage(
    settings: Settings,
    storage: LakeStorage,
    registry: RegistryStore,
    notifier: Notifier,
    lineage: LineageStore,
    source: SourceConfig,
    pending: list[ObjectInfo],
    run_id: str,
    ingest_date: str | None,
) -> ProfilingSummary:
    """Profile raw objects (of one ingest date, or any) as one lineage run of job
    registry/<source>: its outputs are the dead-letter copies (with their reasons) and schema
    versions profiling wrote."""
    sid = source.source_id
    started = LineageRun(
        run_id=run_id,
        job=f"registry/{sid}",
        partition=ingest_date,
        inputs=tuple(info.key for info in pending),
        outputs=(),
        started_at=datetime.now(UTC).isoformat(),
        code_version=PROMOTION_CODE_VERSION,
    )
    with recorder_for(lineage, settings.state_dir, storage.uri("")).track(started) as outputs:
        # Objects dated outside the partition calendar are held, as the arrival sensor holds them.
        calendar = PartitionCalendar.until_today(settings.partitions_start)
        summary = profile_objects(storage, registry, notifier, source, pending, calendar=calendar)
        outputs.extend(o.dead_letter_key for o in summary.outcomes if o.dead_letter_key)
        outputs.extend(f"schema_registry/{sid}/{v.version}" for v in summary.new_versions)
    return summary
