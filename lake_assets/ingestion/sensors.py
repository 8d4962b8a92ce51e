"""The arrival sensor: new raw objects trigger profiling, each exactly once; behind a feed that
may miss objects (S3 notifications), an hourly sweep of the recent raw folders finds those whose
notification was lost (sweep.py).

Without the daemon, `lake profile` does the same work directly (see README).
"""

import hashlib
from collections import defaultdict
from collections.abc import Mapping

from dagster import (
    AssetSelection,
    DefaultSensorStatus,
    ResourceParam,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)

from lake_assets.ingestion.asset_keys import registry_key_of
from lake_assets.ingestion.intake import held_alert, owned, undeclared_alert
from lake_assets.ingestion.raw_zone import (
    PartitionCalendar,
    parse_raw_key,
    raw_key_problem,
    raw_source_of,
)
from lake_assets.ingestion.sweep import (
    SweepCursor,
    sweep_due,
    swept_days,
    unannounced,
    utc_now,
)
from resources.arrivals import ArrivalFeed
from resources.notifier import Notifier
from resources.registry_store import RegistryStore
from resources.storage import LakeStorage

# The tag a run requested by the sweep carries: its objects' notifications never came.
FOUND_BY_SWEEP = {"lake/found_by": "sweep"}


def arrival_run_requests(
    arrivals,
    source_ids: set[str],
    registry: RegistryStore,
    calendar: PartitionCalendar | None = None,
    run_tags: Mapping[str, Mapping[str, str]] | None = None,
    extra_tags: Mapping[str, str] | None = None,
) -> tuple[list[RunRequest], list[str], dict[str, list]]:
    """Group new arrivals by (source, ingest date) into one profiling run each.

    An arrival already profiled with the same etag is dropped; the run key is derived from the
    group's objects, so a group announced twice launches once. An arrival of a declared source
    whose key has no partition (an ingest date that is not a date, or outside `calendar`) is
    held: returned per source with its reason, never requested, so it cannot fail the tick.
    `run_tags` are a source's own tags on its runs (a generated pipeline's stamp), `extra_tags`
    go on every run.
    """
    groups: dict[tuple[str, str], set[tuple[str, str]]] = defaultdict(set)
    ignored = []
    held: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for arrival in arrivals:
        if raw_source_of(arrival.key) not in source_ids:
            ignored.append(arrival.key)
            continue
        if reason := raw_key_problem(arrival.key, calendar):
            held[raw_source_of(arrival.key)].append((arrival.key, reason))
            continue
        source_id, ingest_date, _ = parse_raw_key(arrival.key)
        known = registry.get_raw_file(source_id, arrival.key)
        if known is None or known.etag != arrival.etag:
            groups[(source_id, ingest_date)].add((arrival.key, arrival.etag))
    requests = []
    for (source_id, ingest_date), objects in sorted(groups.items()):
        digest = hashlib.sha256(repr(sorted(objects)).encode()).hexdigest()[:16]
        requests.append(
            RunRequest(
                run_key=f"profile/{source_id}/{ingest_date}/{digest}",
                asset_selection=[registry_key_of(source_id)],
                partition_key=ingest_date,
                tags={
                    "lake/source": source_id,
                    "lake/arrivals": str(len(objects)),
                    **(run_tags or {}).get(source_id, {}),
                    **(extra_tags or {}),
                },
            )
        )
    return requests, ignored, dict(held)


def build_arrival_sensor(
    source_ids: list[str],
    partitions_start: str,
    run_tags: Mapping[str, Mapping[str, str]] | None = None,
):
    @sensor(
        name="raw_arrivals",
        minimum_interval_seconds=30,
        asset_selection=AssetSelection.assets(*[registry_key_of(s) for s in source_ids]),
        default_status=DefaultSensorStatus.RUNNING,
        description="Profiles new raw payloads: S3 events via SQS in aws, a listing locally.",
    )
    def raw_arrivals(
        context: SensorEvaluationContext,
        arrivals: ResourceParam[ArrivalFeed],
        registry: ResourceParam[RegistryStore],
        notifier: ResourceParam[Notifier],
        storage: ResourceParam[LakeStorage],
    ):
        state = SweepCursor.parse(context.cursor)
        new, feed_cursor = arrivals.poll(state.feed)
        calendar = PartitionCalendar.until_today(partitions_start)
        requests, ignored, held = arrival_run_requests(
            new, set(source_ids), registry, calendar, run_tags
        )
        # The CUR's deliveries are its asset's to find; anything else is nobody's.
        unowned = [key for key in ignored if not owned(raw_source_of(key), source_ids)]
        if unowned:
            context.log.warning(
                f"ignored {len(unowned)} objects of undeclared sources: {unowned[:5]}"
            )
            notifier.send(undeclared_alert(unowned))
        for source_id, objects in sorted(held.items()):
            context.log.warning(f"{source_id}: held {len(objects)} objects: {objects[:5]}")
            notifier.send(held_alert(source_id, objects))
        swept_at, now = state.swept_at, utc_now()
        if arrivals.may_miss and sweep_due(swept_at, now):
            announced = {(a.key, a.etag) for a in new}
            days, left_out = swept_days(now.date(), swept_at)
            if left_out:
                context.log.warning(
                    f"the sweep last ran {swept_at.isoformat()}: it lists the last {len(days)} "
                    f"ingest dates; run `lake profile` for the {left_out} days before them"
                )
            found = unannounced(storage, source_ids, now, days, announced)
            # Held and undeclared objects are left to the feed's alerts: a sweep would repeat
            # them every hour. A group of objects the feed announced earlier has the same run
            # key, so Dagster drops it.
            swept, _, _ = arrival_run_requests(
                found, set(source_ids), registry, calendar, run_tags, FOUND_BY_SWEEP
            )
            if swept:
                context.log.warning(
                    f"the sweep found {sum(int(r.tags['lake/arrivals']) for r in swept)} raw "
                    f"objects no notification announced: {[r.run_key for r in swept][:5]}"
                )
            requests += swept
            swept_at = now
        # Messages are acknowledged once the requests exist; if this tick is lost after that,
        # the objects are still in the raw zone and the next sweep (or `lake profile`) finds them.
        arrivals.acknowledge(new)
        # The requested profiling run records the arrivals on raw/<source> (files, bytes).
        return SensorResult(
            run_requests=requests, cursor=SweepCursor(feed_cursor, swept_at).dumps()
        )

    return raw_arrivals
