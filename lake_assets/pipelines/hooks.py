"""The extension points a pipeline spec names by dotted path (`module:function`).

80% of pipelines are pure config; the rest inject code here instead of forking a template. A need
that only one pipeline has is a hook, not a new spec option. This module runs inside the Spark
job (locally, over Pipes, on EMR Serverless): no Dagster, no Jinja.

| point            | called as                               | where                              |
|------------------|-----------------------------------------|------------------------------------|
| record_transform | f(record: dict[str, str | None]) -> dict | each record, before casting: same  |
|                  |                                         | keys out as in, values stay text   |
| frame_transform  | f(frame: DataFrame) -> DataFrame         | after casting, before the contract |
|                  |                                         | judges rows: same columns and rows |
| reader           | f(data: bytes, encoding: str)            | profiler and Spark alike, for      |
|                  |   -> Iterable[dict[str, object]]        | `format: custom`                   |
| partitioner      | f(event_time: str) -> str | None        | event time -> the ISO date of its  |
|                  |                                         | partition; profiler and Spark alike|

The engine (ingestion/promotion.py) runs record_transform and frame_transform and checks them
where they run (HookBroken names the hook). A reader is called alike by the profiler (which
takes it from the pipeline's generated job, `hooks_of`) and by Spark (raw_records.py), on the
payload's bytes as delivered. partitioner is declared, not run yet: it must act alike in the
profiler's event-date counts and in Spark, and a job naming one fails rather than silently run
without it.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from dataclasses import dataclass

from lake_assets.tables.keys import check_source_id

# Each point's parameter names, in order: checked against a hook's signature at generate time.
HOOK_POINTS: dict[str, tuple[str, ...]] = {
    "record_transform": ("record",),
    "frame_transform": ("frame",),
    "reader": ("data", "encoding"),
    "partitioner": ("event_time",),
}


@dataclass(frozen=True)
class PipelineHooks:
    """The hooks of one pipeline; None where the lake's own behaviour applies."""

    record_transform: Callable | None = None
    frame_transform: Callable | None = None
    reader: Callable | None = None
    partitioner: Callable | None = None


NO_HOOKS = PipelineHooks()


class HookBroken(RuntimeError):
    """A hook broke the contract of its point; the message names the hook and what it did."""

    def __init__(self, point: str, hook: Callable, reason: str):
        self.point, self.hook = point, hook_name(hook)
        super().__init__(f"{point} hook {self.hook} {reason}")


def hook_name(hook: Callable) -> str:
    """The dotted path a spec names a hook by (`module:function`)."""
    return f"{getattr(hook, '__module__', '?')}:{getattr(hook, '__qualname__', repr(hook))}"


def hooks_of(pipeline: str) -> PipelineHooks:
    """The hooks of a generated pipeline, from its generated job module (imported when a run
    needs them, never when the code location loads)."""
    return importlib.import_module(f"lake_pipelines.{check_source_id(pipeline)}.job").HOOKS


def read_payload(reader: Callable, data: bytes, encoding: str) -> list:
    """A payload's records through a reader hook: what the profiler profiles and, as JSON texts
    (`record_texts`), what Spark reads. A record that is not an object stays one (malformed)
    record on both sides, as in a JSON array."""
    try:
        return list(reader(data, encoding))
    except Exception as error:
        raise HookBroken("reader", reader, f"failed: {type(error).__name__}: {error}") from error


def record_texts(reader: Callable, data: bytes, encoding: str) -> list[str]:
    """The reader's records as JSON texts, for Spark's JSON record reader."""
    return [json.dumps(r, default=str) for r in read_payload(reader, data, encoding)]


def transformed_record(transform: Callable, record: dict[str, str | None]) -> dict:
    """`record` through a record_transform, checked: the same keys out as in (the registry's
    columns, which the plan fixed before any hook ran) and every value still text or null
    (casting comes after, ADR-0011)."""
    out = transform(dict(record))
    if not isinstance(out, dict):
        raise HookBroken("record_transform", transform, f"returned {type(out).__name__}, not dict")
    if out.keys() != record.keys():
        added, removed = sorted(out.keys() - record.keys()), sorted(record.keys() - out.keys())
        raise HookBroken(
            "record_transform",
            transform,
            f"must return the keys it is given (the registry's columns): added {added}, "
            f"removed {removed}",
        )
    typed = sorted(k for k, v in out.items() if v is not None and not isinstance(v, str))
    if typed:
        raise HookBroken(
            "record_transform", transform, f"must return text or None; not text: {typed}"
        )
    return out
