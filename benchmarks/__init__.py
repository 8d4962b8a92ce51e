"""Benchmarks of the ingestion engine, each against a plain-library baseline run alongside it.

- profiling: `profile_file` against `pyarrow.json.read_json` on the same JSON-lines file, for
  throughput and for peak memory at two file sizes (profiling memory must not follow file size).
- promotion: `promote` against a plain `spark.read.json(...).write.parquet(...)` job in the same
  warm SparkSession, on the same landed file.

Run `python -m benchmarks` for both, or name one: `python -m benchmarks profiling`. Data is
generated once under bench-data/ and reused. Figures are printed, never asserted: a ratio to a
baseline measured in the same run is what carries from one machine to another.
"""
