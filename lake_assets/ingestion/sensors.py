"""The arrival sensor: new raw objects trigger profiling, each exactly once.

Without the daemon, `lake profile` does the same work directly (see README).
"""

import hashlib
from collections import defaultdict

from dagster import (
    AssetMaterialization,
    AssetSelection,
    DefaultSensorStatus,
    ResourceParam,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)

from lake_assets.ingestion.assets import raw_key_of, registry_key_of
from lake_assets.ingestion.raw_zone import parse_raw_key
from resources.arrivals import ArrivalFeed
from resources.registry_store import RegistryStore


def arrival_run_requests(
    arrivals, source_ids: set[str], registry: RegistryStore
) -> tuple[list[RunRequest], list[AssetMaterialization], list[str]]:
    """Group new arrivals by (source, ingest date) into one profiling run each.

    An arrival already profiled with the same etag is dropped; the run key is derived from the
    group's objects, so a group announced twice launches once.
    """
    groups: dict[tuple[str, str], set[tuple[str, str]]] = defaultdict(set)
    ignored = []
    for arrival in arrivals:
        parsed = parse_raw_key(arrival.key)
        if parsed is None or parsed[0] not in source_ids:
            ignored.append(arrival.key)
            continue
        source_id, ingest_date, _ = parsed
        known = registry.get_raw_file(source_id, arrival.key)
        if known is None or known.etag != arrival.etag:
            groups[(source_id, ingest_date)].add((arrival.key, arrival.etag))
    requests, events = [], []
    for (source_id, ingest_date), objects in sorted(groups.items()):
        digest = hashlib.sha256(repr(sorted(objects)).encode()).hexdigest()[:16]
        requests.append(
            RunRequest(
                run_key=f"profile/{source_id}/{ingest_date}/{digest}",
                asset_selection=[registry_key_of(source_id)],
                partition_key=ingest_date,
                tags={"lake/source": source_id, "lake/arrivals": str(len(objects))},
            )
        )
        events.append(
            AssetMaterialization(
                asset_key=raw_key_of(source_id),
                partition=ingest_date,
                metadata={"objects": len(objects), "keys": sorted(k for k, _ in objects)[:50]},
            )
        )
    return requests, events, ignored


def build_arrival_sensor(source_ids: list[str]):
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
    ):
        new, cursor = arrivals.poll(context.cursor)
        requests, events, ignored = arrival_run_requests(new, set(source_ids), registry)
        if ignored:
            context.log.warning(
                f"ignored {len(ignored)} objects of undeclared sources: {ignored[:5]}"
            )
        # Messages are acknowledged once the requests exist; if this tick is lost after that,
        # the objects are still in the raw zone and `lake profile` (or the listing) finds them.
        arrivals.acknowledge(new)
        return SensorResult(run_requests=requests, asset_events=events, cursor=cursor)

    return raw_arrivals
