"""Benchmarks of the ingestion engine, each against a plain-library baseline run alongside it.

- profiling: `profile_file` against `pyarrow.json.read_json` on the same JSON-lines file, for
  throughput and for peak memory at two file sizes (profiling memory must not follow file size).
- promotion: `promote` against a plain `spark.read.json(...).write.parquet(...)` job in the same
  warm SparkSession, on the same landed file.
- runners: each registered Spark job through the Pipes subprocess runner (a fresh Python and
  JVM per job) against the in-process runner's warm SparkSession, on the same plan.
- contracts: ten contract rules compiled by lake_assets.contracts.rules, with their violation
  counts, against one hand-written Spark SQL aggregate computing the same counts, on the same
  cached frame; both must agree.
- backfill: 365 daily partitions of small data materialized as one Dagster run against one
  single-day run, through the same `materialize_partitions` the `lake promote` command uses.
- cost: 10,000,000 generated CUR line items allocated against 100,000 runs by the
  `cost_allocate` job against a plain Spark join-and-aggregate of the same files by the same
  keys; the ledger must reconcile to the bill (cost.py; `python -m benchmarks.cost --lines N
  --runs M` for a quicker run).
- orders: the silver orders merge of a day's changes into the order-date slices they touch
  against a plain Spark recompute of the whole state from every event (orders.py).

Run `python -m benchmarks` for all, or name some: `python -m benchmarks profiling backfill`.
Data is generated once under bench-data/ and reused. Figures are printed, never asserted: a ratio to a
baseline measured in the same run is what carries from one machine to another.
"""
