"""A generated pipeline's hooks (lake_assets/pipelines/hooks.py) inside the promotion job: its
record_transform over each record's text, its partitioner over event dates and its
frame_transform over the typed rows, each checked where its contract can break."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lake_assets.ingestion.curated_columns import CORRUPT, HOOKED, LINEAGE_COLUMNS
from lake_assets.ingestion.promotion_plan import PromotionPlan
from lake_assets.pipelines.hooks import HookBroken, partition_date, transformed_record


def with_record_transform(frame: DataFrame, transform, plan: PromotionPlan) -> DataFrame:
    """Each record's text through the pipeline's record_transform, before casting. A plain
    Python UDF over the record as a struct: it runs on Spark 3.5 and 4 alike and needs neither
    pandas nor pyarrow where the job runs (mapInArrow needs pandas on 3.5). A malformed record
    has no fields and passes unchanged."""
    data_columns = [c for c in plan.columns if c not in LINEAGE_COLUMNS]

    def each(record):
        *values, corrupt = record
        if corrupt is not None:
            return tuple(values)
        out = transformed_record(transform, dict(zip(data_columns, values, strict=True)))
        return tuple(out[column] for column in data_columns)

    text = T.StructType([T.StructField(c, T.StringType()) for c in data_columns])
    hooked = F.udf(each, text)(F.struct(*[F.col(c) for c in data_columns], F.col(CORRUPT)))
    # Spark evaluates the UDF once per row and each field below reads its result.
    return frame.withColumn(HOOKED, hooked).select(
        *[
            F.col(HOOKED).getField(c).alias(c) if c in text.names else F.col(c)
            for c in frame.columns
        ]
    )


def partition_dates(partitioner):
    """The partitioner as a plain Python UDF over the event date (no pandas: see
    with_record_transform), through `partition_date`, as the profiler's counts go."""

    def each(event_date):
        return None if event_date is None else partition_date(partitioner, event_date.isoformat())

    return F.udf(each, T.StringType())


def with_frame_transform(rows: DataFrame, transform) -> DataFrame:
    """The typed rows through the pipeline's frame_transform, before the contract judges them.
    Its columns and their types are checked here (the schema: no Spark action); its rows where
    Spark counts them (promote), since the audit compares them with what profiling counted."""
    out = transform(rows)
    if not isinstance(out, DataFrame):
        raise HookBroken("frame_transform", transform, f"returned {type(out).__name__}")
    before = {f.name: f.dataType.simpleString() for f in rows.schema.fields}
    after = {f.name: f.dataType.simpleString() for f in out.schema.fields}
    if before != after:
        changed = sorted(c for c in before.keys() & after.keys() if before[c] != after[c])
        raise HookBroken(
            "frame_transform",
            transform,
            "must keep the columns and their types: added "
            f"{sorted(after.keys() - before.keys())}, removed "
            f"{sorted(before.keys() - after.keys())}, retyped {changed}",
        )
    return out.select(*rows.columns)  # its own order is not the hook's to choose
