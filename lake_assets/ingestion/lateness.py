"""How late a source's records arrive, and the lookback window that would have caught 99%.

Lateness is processing time (`_ingested_at`, when the payload landed) minus event time.
Measured over published data, so held late arrivals count once they are folded in. The
measurement is the registered Spark job `lateness` (lake_assets/runtime/jobs.py): the
orchestrator resolves the published files into its plan (`lateness_plan`), and the job's
JSON-able result becomes the report (`LatenessReport.from_result`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from lake_assets.ingestion.curated_columns import column_name
from lake_assets.runtime.columns import try_cast
from lake_assets.tables.frames import read_resolved

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

    @classmethod
    def from_result(cls, source_id: str, result: dict) -> LatenessReport:
        """The report of the `lateness` job's result."""
        return cls(
            source_id=source_id,
            rows=result["rows"],
            hours=result["hours"],
            rows_by_days_late={days: count for days, count in result["rows_by_days_late"]},
        )

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


def lateness_plan(resolved: dict, event_time_field: str) -> dict:
    """The `lateness` job's plan: a source's published files (`tables.reader.resolve_published`)
    and its event time field."""
    return {"resolved": resolved, "event_time_field": event_time_field}


def lateness_job(spark: SparkSession, plan: dict) -> dict:
    """The registered Spark job `lateness`: the record count, the p50/p95/p99 of lateness in
    hours and the records by whole days late (as [days, records] pairs: JSON keys are text)."""
    rows = read_resolved(spark, plan["resolved"])
    event = column_name(plan["event_time_field"])
    hours = (F.unix_micros("_ingested_at") - F.unix_micros(try_cast(event, "timestamp"))) / 3.6e9
    days_late = F.datediff(F.col("_ingest_date"), try_cast(event, "date"))
    measured = rows.select(hours.alias("hours"), days_late.alias("days")).where("hours IS NOT NULL")
    quantiles = measured.agg(F.percentile_approx("hours", [0.5, 0.95, 0.99]).alias("q")).first()[
        "q"
    ]
    histogram = {days: count for days, count in measured.groupBy("days").count().collect()}
    return {
        "rows": sum(histogram.values()),
        "hours": dict(zip(("p50", "p95", "p99"), quantiles or (), strict=False)),
        "rows_by_days_late": [[days, count] for days, count in sorted(histogram.items())],
    }
