"""Pulled sources: incremental extracts from a source's SQL database, landed in the raw zone like
any delivered file (then the raw arrivals sensor, profiling and promotion take over unchanged).

- model.py        the `source.pull:` block of a pipeline spec (pipelines/<source>.yaml)
- credentials.py  the database password from the environment or AWS Secrets Manager
- extract.py      SQLAlchemy Core: rows after a watermark, in keyset pages, as JSON lines
- watermark.py    where a source's pulls stopped, and the pull in flight, under `_state/pull/`
- service.py      one pull: stage, land through the intake, then advance the watermark
- definitions.py  a job and a (stopped) schedule per pulled source; cli.py `lake pull`
"""
