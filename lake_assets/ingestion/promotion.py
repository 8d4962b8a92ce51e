"""The promotion job: raw payloads to typed Parquet, one code path in-process and on EMR.

Dagster-free on purpose: `promote` runs inside the orchestrator's local SparkSession and, via
the Pipes entry script (pipes_promote.py), unchanged inside an EMR Serverless job.

Every raw value is read as text and cast with try_cast, so a value that does not fit the
registry type is quarantined with its reason instead of becoming a silent null. Output goes to
a folder unique to the run; nothing is visible to readers until the orchestrator audits the
result and switches the catalog pointer.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lake_assets.ingestion.promotion_plan import LINEAGE_COLUMNS, PlannedInput, PromotionPlan

SPARK_TYPES = {
    "boolean": "boolean",
    "integer": "bigint",
    "double": "double",
    "date": "date",
    "timestamp": "timestamp",
    "string": "string",
    "json": "string",
}
CORRUPT = "_corrupt_record"
REASONS = "_reject_reasons"
RAW_RECORD = "_raw_record"
PARTITION = "event_date"


@dataclass
class PartitionResult:
    partition: str
    rows_in: int = 0
    rows_published: int = 0
    rows_quarantined: int = 0
    rows_written: int = 0  # read back from the Parquet footers after the write
    files: list[str] = field(default_factory=list)


@dataclass
class PromotionResult:
    dataset: str
    rows_read: int  # every row read from the input files, in or outside the window
    partitions: dict[str, PartitionResult]
    written_schema: dict[str, str]  # column -> Spark simpleString, as read back from Parquet

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> PromotionResult:
        data = dict(data)
        data["partitions"] = {k: PartitionResult(**v) for k, v in data["partitions"].items()}
        return cls(**data)


def _text_schema(fields: list[str]) -> T.StructType:
    """A read schema with every leaf as string; dotted names become nested structs."""
    tree: dict = {}
    for name in fields:
        node = tree
        *parents, leaf = name.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node.setdefault(leaf, None)

    def build(node: dict) -> T.StructType:
        return T.StructType(
            [
                T.StructField(k, T.StringType() if v is None else build(v), True)
                for k, v in node.items()
            ]
        )

    return build(tree)


def _source_column(name: str, fmt: str) -> Column:
    # CSV headers may contain dots that are not nesting.
    return F.col(f"`{name}`") if fmt == "csv" else F.col(name)


def _read_input(spark: SparkSession, group: PlannedInput, plan: PromotionPlan) -> DataFrame:
    if group.format == "csv":
        frame = (
            spark.read.option("header", True)
            .option("mode", "PERMISSIVE")
            .option("inferSchema", False)
            .csv(list(group.uris))
            .withColumn(CORRUPT, F.lit(None).cast("string"))
        )
    else:
        schema = _text_schema(list(group.column_map)).add(CORRUPT, T.StringType())
        frame = (
            spark.read.schema(schema)
            .option("mode", "PERMISSIVE")
            .option("columnNameOfCorruptRecord", CORRUPT)
            .json(list(group.uris))
        )
    delivered = {canonical: source for source, canonical in group.column_map.items()}
    raw_columns = [
        (
            _source_column(delivered[column], group.format)
            if column in delivered
            else F.lit(None).cast("string")
        ).alias(column)
        for column in plan.columns
        if column not in LINEAGE_COLUMNS
    ]
    return frame.select(
        *raw_columns,
        F.col(CORRUPT),
        F.col("_metadata.file_path").alias("_source_file"),
    )


def _typed(frame: DataFrame, plan: PromotionPlan) -> DataFrame:
    """Cast text to registry types, collecting a reason for every value that does not fit."""
    casts, failures = [], [F.when(F.col(CORRUPT).isNotNull(), F.lit("malformed record"))]
    for column, kind in plan.columns.items():
        if column in LINEAGE_COLUMNS:
            continue
        raw = F.col(column)
        typed = raw if kind in ("string", "json") else raw.try_cast(SPARK_TYPES[kind])
        casts.append(typed.alias(column))
        failures.append(
            F.when(
                raw.isNotNull() & typed.isNull(),
                F.concat(
                    F.lit(f"{column}: cannot read "), F.substring(raw, 1, 60), F.lit(f" as {kind}")
                ),
            )
        )
    raw_record = F.to_json(
        F.struct(*[F.col(c) for c in plan.columns if c not in LINEAGE_COLUMNS], F.col(CORRUPT))
    )
    typed_frame = frame.select(
        *casts,
        F.col("_source_file"),
        F.to_date(F.regexp_extract("_source_file", r"ingest_date=(\d{4}-\d{2}-\d{2})", 1)).alias(
            "_ingest_date"
        ),
        F.concat_ws("; ", *failures).alias(REASONS),
        raw_record.alias(RAW_RECORD),
    )
    event_date = F.col(plan.event_time_column).try_cast("date")
    missing_event = F.when(
        event_date.isNull(), F.lit(f"missing or unreadable event time {plan.event_time_column}")
    )
    return typed_frame.withColumn(
        REASONS, F.concat_ws("; ", *[c for c in (F.col(REASONS), missing_event)])
    ).withColumn(
        PARTITION, F.date_format(F.coalesce(event_date, F.col("_ingest_date")), "yyyy-MM-dd")
    )


def promote(
    spark: SparkSession, plan: PromotionPlan, curated_uri: str, quarantine_uri: str
) -> PromotionResult:
    """Read, cast, validate and write the plan's partitions; audit what was written."""
    results = {p: PartitionResult(p) for p in plan.partitions}
    if not plan.inputs:
        return PromotionResult(plan.dataset, 0, results, {})
    frames = [_read_input(spark, group, plan) for group in plan.inputs]
    frame = frames[0]
    for other in frames[1:]:
        frame = frame.unionByName(other)
    rows = _typed(frame, plan).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        rows_read = 0
        valid = F.col(REASONS) == ""
        for partition, is_valid, count in (
            rows.groupBy(PARTITION, valid.alias("valid")).count().collect()
        ):
            rows_read += count
            if partition in results:
                result = results[partition]
                result.rows_in += count
                if is_valid:
                    result.rows_published += count
                else:
                    result.rows_quarantined += count
        in_window = F.col(PARTITION).isin(list(plan.partitions))
        output_columns = [*plan.columns, PARTITION]
        (
            rows.filter(in_window & valid)
            .select(*output_columns)
            .write.mode("errorifexists")
            .partitionBy(PARTITION)
            .parquet(curated_uri)
        )
        if any(r.rows_quarantined for r in results.values()):
            (
                rows.filter(in_window & ~valid)
                .select(RAW_RECORD, REASONS, "_source_file", PARTITION)
                .write.mode("errorifexists")
                .partitionBy(PARTITION)
                .json(quarantine_uri)
            )
    finally:
        rows.unpersist()
    written_schema = _audit_written(spark, curated_uri, results, plan)
    return PromotionResult(plan.dataset, rows_read, results, written_schema)


def _audit_written(
    spark: SparkSession, curated_uri: str, results: dict[str, PartitionResult], plan: PromotionPlan
) -> dict[str, str]:
    """Read back what was written: per-partition row counts and file names, and the schema.
    Counting Parquet rows reads only the footers."""
    if not any(r.rows_published for r in results.values()):
        return {}
    written = spark.read.parquet(curated_uri)
    per_file = written.groupBy(PARTITION, F.col("_metadata.file_name").alias("file")).count()
    for partition, file_name, count in sorted(per_file.collect()):
        result = results[str(partition)]
        result.files.append(file_name)
        result.rows_written += count
    return {f.name: f.dataType.simpleString() for f in written.schema.fields if f.name != PARTITION}


def expected_schema(plan: PromotionPlan) -> dict[str, str]:
    return {column: SPARK_TYPES[kind] for column, kind in plan.columns.items()}
