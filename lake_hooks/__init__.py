"""Hand-written hooks that pipeline specs name by dotted path (`lake_hooks.<module>:<function>`).

A hook is the escape hatch of a generated pipeline: code at one of the extension points of
lake_assets/pipelines/hooks.py (HOOK_POINTS), never a fork of a template. `lake generate`
checks that each hook a spec names imports and takes the parameters of its point; the
generated job (lake_pipelines/<p>/job.py) imports it, so it runs wherever the job runs
(in-process, over Pipes, on EMR Serverless): keep hooks free of Dagster and of I/O.

Each hook is tested alone; examples.py holds small ones to copy from.
"""
