"""How late a source's records arrive, and the lookback window that would have caught 99%.

Lateness is processing time (`_ingested_at`, when the payload landed) minus event time.
Measured over published data, so held late arrivals count once they are folded in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from lake_assets.ingestion.promotion_plan import column_name
from lake_assets.ingestion.reader import read_published
from lake_assets.runtime.columns import try_cast
from lake_assets.settings import SourceConfig
from resources.catalog import PartitionCatalog
from resources.storage import LakeStorage

COVERAGE = 0.99


def recommend_lookback(rows_by_days_late: Mapping[int, int], coverage: float = COVERAGE) -> int:
    """The fewest whole days of lookback under which `coverage` of the records would have been
    promoted on time (a record `k` days late needs a lookback of at least `k`)."""
    total = sum(rows_by_days_late.values())
    covered = 0
    for days in sorted(rows_by_days_late):
        covered += rows_by_days_late[days]
        if covered >= coverage * total:
            return max(days, 0)
    return 0


@dataclass(frozen=True)
class LatenessReport:
    source_id: str
    rows: int
    hours: dict[str, float]  # p50, p95, p99 of lateness in hours
    rows_by_days_late: dict[int, int]

    @property
    def recommended_lookback(self) -> int:
        return recommend_lookback(self.rows_by_days_late)

    def describe(self, current_lookback: int) -> str:
        spread = ", ".join(f"{k} {v:.1f} h" for k, v in self.hours.items())
        days = ", ".join(f"{d} d: {n}" for d, n in sorted(self.rows_by_days_late.items()))
        return (
            f"{self.source_id}: {self.rows} published records; lateness {spread}\n"
            f"  records by days late: {days}\n"
            f"  a lookback of {self.recommended_lookback} days would have caught {COVERAGE:.0%} "
            f"of them (configured: {current_lookback})"
        )


def measure_lateness(
    spark: SparkSession, catalog: PartitionCatalog, storage: LakeStorage, source: SourceConfig
) -> LatenessReport:
    rows = read_published(spark, catalog, storage, source.source_id)
    event = column_name(source.event_time_field)
    hours = (F.unix_micros("_ingested_at") - F.unix_micros(try_cast(event, "timestamp"))) / 3.6e9
    days_late = F.datediff(F.col("_ingest_date"), try_cast(event, "date"))
    measured = rows.select(hours.alias("hours"), days_late.alias("days")).where("hours IS NOT NULL")
    quantiles = measured.agg(F.percentile_approx("hours", [0.5, 0.95, 0.99]).alias("q")).first()[
        "q"
    ]
    histogram = {days: count for days, count in measured.groupBy("days").count().collect()}
    return LatenessReport(
        source_id=source.source_id,
        rows=sum(histogram.values()),
        hours=dict(zip(("p50", "p95", "p99"), quantiles or (), strict=False)),
        rows_by_days_late=histogram,
    )
