"""The query cost model (ADR-0026): what one query reading a partition costs with its files as
they are, what the compaction itself costs, and how many queries pay it back. Pure.

A query pays Athena for the bytes it scans (rounded up to whole MiB, at least the per-query
minimum) and S3 for its GET requests; those two are billed. Every object it opens also costs a
fixed overhead, priced as the bytes the engine could have scanned in the time it takes to open
one (`open_cost_mib`, the idea of Spark's spark.sql.files.openCostInBytes): the time small files
cost, which no bill shows (0 leaves it out). Compaction pays EMR Serverless for its worker's
vCPU and memory for as long as it runs, and S3 for reading and writing the files. AWS bills
data in binary units: a TB is 2**40 bytes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from lake_assets.compaction.model import CompactionRecord
from lake_assets.compaction.policy import MiB, Prices

TiB = 1024**4
HOUR = 3600.0


@dataclass(frozen=True)
class QueryCost:
    """USD of one query that reads a whole partition."""

    scan: float
    requests: float
    opens: float

    @property
    def total(self) -> float:
        return self.scan + self.requests + self.opens

    def __add__(self, other: QueryCost) -> QueryCost:
        return QueryCost(
            self.scan + other.scan, self.requests + other.requests, self.opens + other.opens
        )


def query_cost(files: int, total_bytes: int, prices: Prices) -> QueryCost:
    per_byte = prices.athena_usd_per_tb / TiB
    billed_mib = max(math.ceil(total_bytes / MiB), prices.athena_min_mb_per_query)
    return QueryCost(
        scan=billed_mib * MiB * per_byte,
        requests=files * prices.gets_per_file * prices.s3_get_usd_per_1000 / 1000,
        opens=files * prices.open_cost_mib * MiB * per_byte,
    )


def compaction_cost(files_read: int, files_written: int, seconds: float, prices: Prices) -> float:
    """USD of one partition's compaction: its worker for `seconds`, and its S3 requests."""
    hourly = prices.vcpus * prices.emr_vcpu_hour_usd + prices.memory_gb * prices.emr_gb_hour_usd
    requests = (
        files_read * prices.gets_per_file * prices.s3_get_usd_per_1000
        + files_written * prices.s3_put_usd_per_1000
    ) / 1000
    return seconds / HOUR * hourly + requests


@dataclass(frozen=True)
class Payback:
    """A compaction's return on its own cost."""

    before: QueryCost
    after: QueryCost
    cost: float  # USD the compaction spent

    @property
    def saving_per_query(self) -> float:
        return self.before.total - self.after.total

    @property
    def break_even_queries(self) -> float | None:
        """Queries of the partition after which the compaction has paid for itself; None if
        it saves nothing per query."""
        if self.saving_per_query <= 0:
            return None
        return self.cost / self.saving_per_query

    def payback_days(self, queries_per_day: float) -> float | None:
        queries = self.break_even_queries
        return None if queries is None else queries / queries_per_day


def payback(record: CompactionRecord, prices: Prices) -> Payback:
    """The return of a recorded compaction, at today's prices."""
    return Payback(
        before=query_cost(record.files_before, record.bytes_before, prices),
        after=query_cost(record.files_after, record.bytes_after, prices),
        cost=compaction_cost(
            record.files_before, record.files_after, record.duration_seconds, prices
        ),
    )


def combined(paybacks: Sequence[Payback]) -> Payback:
    """Several compactions as one: each partition queried as often, their costs added."""
    nothing = QueryCost(0.0, 0.0, 0.0)
    return Payback(
        before=sum((p.before for p in paybacks), nothing),
        after=sum((p.after for p in paybacks), nothing),
        cost=sum(p.cost for p in paybacks),
    )
