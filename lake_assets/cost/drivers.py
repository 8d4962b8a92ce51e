"""The month's drivers, long form (`model.Driver`, one measure a row): what the lake's runs,
storage and queries consumed, the weights the allocation shares the bill by. Pure: the
`cost/drivers` asset (drivers_assets.py) gathers the inputs and publishes the rows.

- Runs (kind "run"): each recorded job execution (recording.py), its usage split over the UTC
  hours it overlapped in proportion to the time it spent in each, since the bill's EMR lines are
  per application and hour. Resource: its EMR application (model.LOCAL_APPLICATION locally);
  key: its job run's ARN on EMR, else dagster run / job / start. Its objects read and written
  are `requests` rows on the lake's bucket, which is what S3 request lines name. A job serving
  several datasets splits its figures evenly over them.
- Storage (kind "storage"): the bytes of each dataset's current partitions by storage class,
  under the dataset's prefix, on the bucket; for the whole month (hour "").
- Queries (kind "query"): each Athena query's bytes scanned, on its workgroup, in its hour.

Team and pipeline: a run's own (the step's owner and pipeline), else the dataset owner's team
and the dataset; a dataset's owner is its source's, or the platform's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta

import pyarrow as pa

from lake_assets.cost.model import (
    LOCAL_APPLICATION,
    UNALLOCATED,
    Driver,
    check_month,
    team_of_owner,
)
from lake_assets.cost.run_drivers import MEASURED, RecordedRun
from lake_assets.settings import UNOWNED

RUN, STORAGE, QUERY = "run", "storage", "query"
CATALOG, QUERY_HISTORY = "catalog", "query-history"
# What S3 calls a class, as the storage measure that bills it (model.MEASURES).
STORAGE_MEASURES = {
    "STANDARD": "storage_bytes_standard",
    "INTELLIGENT_TIERING": "storage_bytes_standard",
    "REDUCED_REDUNDANCY": "storage_bytes_standard",
    "STANDARD_IA": "storage_bytes_standard_ia",
    "ONEZONE_IA": "storage_bytes_standard_ia",
    "GLACIER_IR": "storage_bytes_glacier",
    "GLACIER": "storage_bytes_glacier",
    "DEEP_ARCHIVE": "storage_bytes_glacier",
}
# The drivers table's columns and field types (lake_assets/tables/types.py).
COLUMNS = {f.name: "double" if f.name == "value" else "string" for f in fields(Driver)}


@dataclass(frozen=True)
class QueryScan:
    """One Athena query of the history: its id, workgroup, submission instant and bytes."""

    query_id: str
    workgroup: str
    submitted_at: datetime
    bytes_scanned: int


def _team_of(owner: str) -> str:
    """The team a dataset's drivers weigh for: its owner's, and none for a dataset whose source
    names nobody: its share is an unallocated row (shares.UNOWNED_DATASET), not a team's."""
    return UNALLOCATED if owner == UNOWNED else team_of_owner(owner)


def hour_of(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H")


def hours_overlapped(started_at: str, ended_at: str) -> list[tuple[str, float]]:
    """The UTC hours ("YYYY-MM-DDTHH") a run overlapped, each with the share of its time spent
    in it (summing to 1); a run of no measurable length falls wholly in its start hour."""
    start, end = datetime.fromisoformat(started_at), datetime.fromisoformat(ended_at)
    whole = (end - start).total_seconds()
    if whole <= 0:
        return [(hour_of(start), 1.0)]
    shares, at = [], start
    while at < end:
        next_hour = at.astimezone(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(
            hours=1
        )
        until = min(next_hour, end)
        shares.append((hour_of(at), (until - at).total_seconds() / whole))
        at = until
    return shares


def run_rows(
    month: str,
    runs: Iterable[RecordedRun],
    owner_of: Callable[[str], str],
    bucket: str,
    region: str,
) -> list[Driver]:
    """The run and request drivers of `month`: each run's share of each hour of the month."""
    check_month(month)
    rows = []
    for run in runs:
        d = run.drivers
        hours = [(h, s) for h, s in hours_overlapped(d.started_at, d.ended_at) if h[:7] == month]
        datasets = d.datasets or ("",)
        # (resource, measure, value): usage on the application, requests on the bucket.
        measures = [(d.application_id or LOCAL_APPLICATION, m, getattr(d, m)) for m in MEASURED]
        measures.append((bucket, "requests", run.objects_read + run.objects_written))
        key = run.key(region)
        for dataset in datasets:
            team = d.team or _team_of(owner_of(dataset))
            for hour, share in hours:
                weight = share / len(datasets)
                rows += [
                    Driver(
                        month,
                        RUN,
                        key,
                        resource,
                        hour,
                        team,
                        d.pipeline or dataset,
                        dataset,
                        measure,
                        float(value) * weight,
                        d.origin,
                    )  # fmt: skip
                    for resource, measure, value in measures
                    if value
                ]
    return rows


def storage_rows(
    month: str,
    sizes: Mapping[str, Mapping[str, int]],
    owner_of: Callable[[str], str],
    bucket: str,
) -> list[Driver]:
    """Storage drivers: `sizes` is dataset -> storage class -> bytes of its current partitions."""
    check_month(month)
    rows = []
    for dataset, classes in sorted(sizes.items()):
        by_measure: dict[str, float] = {}
        for storage_class, size in classes.items():
            measure = STORAGE_MEASURES.get(storage_class, "storage_bytes_standard")
            by_measure[measure] = by_measure.get(measure, 0.0) + size
        team = _team_of(owner_of(dataset))
        rows += [
            Driver(
                month=month,
                kind=STORAGE,
                key=dataset_prefix(dataset),
                resource=bucket,
                hour="",
                team=team,
                pipeline=dataset,
                dataset=dataset,
                measure=measure,
                value=value,
                origin=CATALOG,
            )
            for measure, value in sorted(by_measure.items())
            if value
        ]
    return rows


def dataset_prefix(dataset: str) -> str:
    """Where a dataset's objects live in the bucket (tables/locations.py: curated/<dataset>/)."""
    return f"curated/{dataset}/"


def query_rows(month: str, scans: Iterable[QueryScan]) -> list[Driver]:
    """Athena drivers: each query's bytes scanned, in its hour, on its workgroup. A workgroup
    is a team's (one workgroup per team, named after it): its team is its name."""
    check_month(month)
    return [
        Driver(
            month=month,
            kind=QUERY,
            key=scan.query_id,
            resource=scan.workgroup,
            hour=hour_of(scan.submitted_at),
            team=scan.workgroup,
            pipeline="",
            dataset="",
            measure="bytes_scanned",
            value=float(scan.bytes_scanned),
            origin=QUERY_HISTORY,
        )
        for scan in scans
        if hour_of(scan.submitted_at)[:7] == month and scan.bytes_scanned
    ]


def month_window(month: str, slack: timedelta = timedelta(days=1)) -> tuple[datetime, datetime]:
    """The instants between which a run of `month` was recorded: the month, and `slack` after
    it for a run that started in the month and was recorded after it ended."""
    start = datetime.strptime(check_month(month), "%Y-%m").replace(tzinfo=UTC)
    end = (start + timedelta(days=32)).replace(day=1)
    return start, end + slack


def drivers_table(rows: Iterable[Driver]) -> pa.Table:
    """The rows as an Arrow table of COLUMNS, in a stable order (a re-run writes the same)."""
    ordered = sorted(rows, key=lambda r: (r.kind, r.resource, r.hour, r.key, r.dataset, r.measure))
    return pa.table(
        {
            name: pa.array(
                [getattr(row, name) for row in ordered],
                pa.float64() if kind == "double" else pa.string(),
            )
            for name, kind in COLUMNS.items()
        }
    )
