"""Compaction: sealed curated partitions of many small files rewritten into a few near a
target size, published by the same catalog pointer switch as ingestion (ADR-0025, ADR-0026).

`policy` holds the thresholds and prices (config/compaction.yaml), `planning` decides what is
sealed and what qualifies, `cost` prices a partition's queries and the compaction itself,
`rewrite` is the Spark job, `service` runs a whole pass and `model` is its history record
(stored by resources/compaction_history.py); `assets`, `schedules`, `cli` and `definitions`
wire it.
"""
