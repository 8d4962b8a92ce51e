"""`python -m benchmarks [profiling] [promotion] [runners] [contracts] [backfill] [lineage]
[scd] [compaction] [classification] [gold] [orders] [access] [access_views] [pipelines] [cost] [slo]
[aws_clients] [--rows N]`: run the benchmarks (all by default), each printing its own tables,
then one summary line per benchmark."""

from __future__ import annotations

import argparse
import os
import time

from benchmarks import (
    access,
    access_views,
    aws_clients,
    backfill,
    classification,
    compaction,
    contracts,
    cost,
    gold,
    lineage_events,
    orders,
    pipelines,
    profiling,
    promotion,
    runners,
    scd,
    slo,
)

BENCHMARKS = {
    "profiling": profiling.run,
    "promotion": promotion.run,
    "runners": runners.run,
    "contracts": contracts.run,
    "backfill": backfill.run,
    "lineage": lineage_events.run,
    "scd": scd.run,
    "compaction": compaction.run,
    "classification": classification.run,
    "gold": gold.run,
    "orders": orders.run,
    "access": access.run,
    "access_views": access_views.run,
    "pipelines": pipelines.run,
    "cost": cost.run,
    "slo": slo.run,
    "aws_clients": aws_clients.run,
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("names", nargs="*", metavar="benchmark", help=" | ".join(BENCHMARKS))
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the main payload")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    print(f"{_machine()} at start")
    start = time.perf_counter()
    summaries = [BENCHMARKS[name](args.rows) for name in args.names or BENCHMARKS]
    print(f"\nSummary ({time.perf_counter() - start:.0f} s; {_machine()} at end)")
    for line in summaries:
        print(f"  {line}")


def _machine() -> str:
    """Other load on the machine skews every figure; say how much there was."""
    return f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}"


if __name__ == "__main__":
    main()
