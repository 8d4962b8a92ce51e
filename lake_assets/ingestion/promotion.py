"""The promotion job: raw payloads to typed Parquet, one code path in-process and on EMR.

Dagster-free on purpose: `promote` runs inside the orchestrator's local SparkSession and, via
the Pipes entry script (lake_assets/runtime/entry.py), unchanged inside an EMR Serverless job.

Every raw value is read as text and cast with try_cast, so a value that does not fit the
registry type is quarantined with its reason instead of becoming a silent null. Output goes to
a folder unique to the run; nothing is visible to readers until the orchestrator audits the
result and switches the catalog pointer. The published files also carry two internal
columns, `_reject_reasons` and `_raw_record`, null for every published row: one write for both
zones is what keeps promotion a single pass (ADR-0011). Readers use the catalog's columns.
"""

from __future__ import annotations

import logging
import zlib
from dataclasses import asdict, dataclass, field, replace
from datetime import date

from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from lake_assets.contracts.model import Contract
from lake_assets.contracts.rules import VIOLATIONS, violation_counts, violation_samples
from lake_assets.ingestion.curated_columns import (
    CORRUPT,
    LINEAGE_COLUMNS,
    RAW_RECORD,
    REASONS,
    ZONE,
)
from lake_assets.ingestion.file_lineage import lineage_columns
from lake_assets.ingestion.promotion_contract import classify_orphans, with_contract
from lake_assets.ingestion.promotion_hooks import (
    partition_dates,
    with_frame_transform,
    with_record_transform,
)
from lake_assets.ingestion.promotion_plan import PlannedInput, PromotionPlan
from lake_assets.ingestion.raw_records import MALFORMED_ON_FAST_PATH, read_records
from lake_assets.pipelines.hooks import NO_HOOKS, HookBroken, PipelineHooks
from lake_assets.runtime.columns import try_cast
from lake_assets.tables.frames import PARTITION, empty_frame
from lake_assets.tables.types import SPARK_TYPES

PUBLISHED, QUARANTINED = "published", "quarantined"
MALFORMED = "malformed record"  # the first reason of a record that is not one JSON object
LATENESS_QUANTILES = [0.5, 0.95, 0.99]
log = logging.getLogger(__name__)


@dataclass
class PartitionResult:
    """What was written for one event date, read back from the Parquet footers."""

    partition: str
    rows_published: int = 0
    rows_quarantined: int = 0
    files: list[str] = field(default_factory=list)

    @property
    def rows_in(self) -> int:
        return self.rows_published + self.rows_quarantined


@dataclass
class PromotionResult:
    dataset: str
    rows_read: int  # every row read from the input files, in or outside the window
    # Counted by Spark while it wrote (an Observation), independently of the read-back.
    observed_published: int
    observed_quarantined: int
    partitions: dict[str, PartitionResult]
    written_schema: dict[str, str]  # published column -> Spark simpleString, read back
    # Processing time minus event time over the window's rows, in hours: p50, p95, p99.
    lateness_hours: dict[str, float] = field(default_factory=dict)
    # Contract rule violations per partition, counted on the written rows: {partition: {rule: n}}
    violations: dict[str, dict[str, int]] = field(default_factory=dict)
    # Referential orphans, {rule: {partition: {"deleted_since_previous_snapshot": n, ...}}}
    missing_keys: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)
    # A few violating rows per partition and rule, as text: {partition: {rule: [row]}}
    violation_samples: dict[str, dict[str, list[dict]]] = field(default_factory=dict)
    # Records read that are not one JSON object, counted while writing like rows_read.
    malformed_read: int = 0
    # Records read, and malformed ones, per raw key; counted only when Spark and profiling
    # disagree on either, so that the audit can name the files that do.
    rows_read_by_file: dict[str, int] = field(default_factory=dict)
    malformed_by_file: dict[str, int] = field(default_factory=dict)
    # Why Spark's JSON reader refused a file profiled as all objects, which was then read as
    # text lines (ADR-0180); "" when it did not.
    fast_read_refused: str = ""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> PromotionResult:
        data = dict(data)
        data["partitions"] = {k: PartitionResult(**v) for k, v in data["partitions"].items()}
        return cls(**data)


def _read_input(
    spark: SparkSession, group: PlannedInput, plan: PromotionPlan, reader=None
) -> DataFrame:
    frame = read_records(spark, group, reader)
    raw_columns = [
        (F.col(column) if column in frame.columns else F.lit(None).cast("string")).alias(column)
        for column in plan.columns
        if column not in LINEAGE_COLUMNS
    ]
    return frame.select(*raw_columns, F.col(CORRUPT), *lineage_columns(group, frame))


def _typed(frame: DataFrame, plan: PromotionPlan, partitioner=None) -> DataFrame:
    """Cast text to registry types; a row gets reasons for every value that does not fit, and
    its original text (`_raw_record`) only when it has a reason, since most rows never need it.
    A row's partition is its event date, through the pipeline's partitioner if it has one, or
    the day its file landed."""
    data_columns = [c for c in plan.columns if c not in LINEAGE_COLUMNS]
    casts, unfit = [], {}
    for column in data_columns:
        kind, raw = plan.columns[column], F.col(column)
        typed = raw if kind in ("string", "json") else try_cast(column, SPARK_TYPES[kind])
        casts.append(typed.alias(column))
        if kind not in ("string", "json"):  # text always fits
            unfit[column] = (raw.isNotNull() & typed.isNull(), kind)
    failures = [F.when(F.col(CORRUPT).isNotNull(), F.lit(MALFORMED))] + [
        F.when(
            fails,
            F.concat(
                F.lit(f"{column}: cannot read "), F.substring(column, 1, 60), F.lit(f" as {kind}")
            ),
        )
        for column, (fails, kind) in unfit.items()
    ]
    # Most rows have no reason: the reasons' array is built only for a row with one.
    any_failure = F.col(CORRUPT).isNotNull()
    for fails, _ in unfit.values():
        any_failure = any_failure | fails
    typed_frame = frame.select(
        *casts,
        F.col("_source_file"),
        F.col("_ingest_date"),
        F.col("_ingested_at"),
        F.when(any_failure, F.array(*failures)).alias(REASONS),
        F.struct(*[F.col(c) for c in data_columns], F.col(CORRUPT)).alias(RAW_RECORD),
    )
    if plan.partitioning == "ingest_date":
        # Every row goes to the day its file landed: an event time is no reason to quarantine.
        event_date, missing_event = F.lit(None).cast("date"), F.lit(None).cast("string")
    else:
        event_date = try_cast(plan.event_time_column, "date")
        missing_event = F.when(
            event_date.isNull(),
            F.lit(f"missing or unreadable event time {plan.event_time_column}"),
        )
        if partitioner is not None:
            event_date = F.to_date(partition_dates(partitioner)(event_date))
    return (
        typed_frame.withColumn(
            REASONS, F.nullif(F.concat_ws("; ", REASONS, missing_event), F.lit(""))
        )
        .withColumn(RAW_RECORD, F.when(F.col(REASONS).isNotNull(), F.to_json(RAW_RECORD)))
        # A date, not a formatted string: Spark writes it as event_date=YYYY-MM-DD either way.
        .withColumn(PARTITION, F.coalesce(event_date, F.col("_ingest_date")))
    )


def promotion_job(spark: SparkSession, job: dict, hooks: PipelineHooks = NO_HOOKS) -> dict:
    """The registered Spark job (lake_assets/runtime/jobs.py): `promote` on a JSON plan; a
    generated pipeline's job (lake_pipelines/<p>/job.py) passes its hooks."""
    plan = PromotionPlan.from_dict(job["plan"])
    return promote(spark, plan, job["output_uri"], hooks).to_dict()


def promote(
    spark: SparkSession, plan: PromotionPlan, output_uri: str, hooks: PipelineHooks = NO_HOOKS
) -> PromotionResult:
    """Read, cast, validate and write the plan's partitions in one pass, then read back.

    Every row of the window is written once, under `output_uri`/_zone=published|quarantined/
    event_date=<d>/. Spark counts rows while it writes (an Observation), and the audit compares
    those counts with what the Parquet footers say was written.

    Files profiling found to hold one JSON object per line are read by Spark's JSON reader,
    which stops at a line it cannot parse (raw_records._object_lines). Were there one after all
    (the profiler and Spark disagreeing), the write is done again, replacing what it left, with
    every file read as text lines, where such a line is a malformed record kept with its text.
    """
    try:
        return _promote(spark, plan, output_uri, hooks, "error")
    except FastReadRefused as refused:
        log.warning("%s: %s; reading every file as text lines", plan.dataset, refused)
        exact = replace(plan, inputs=tuple(replace(g, objects_only=False) for g in plan.inputs))
        result = _promote(spark, exact, output_uri, hooks, "overwrite")
        result.fast_read_refused = str(refused)
        return result


class FastReadRefused(Exception):
    """Spark's JSON reader stopped at a line of a file profiling found all objects. Raised only
    by the write, which refuses a folder that exists before it parses a line: the folder holds
    nothing but what this failed write left."""


def _promote(
    spark: SparkSession, plan: PromotionPlan, output_uri: str, hooks: PipelineHooks, mode: str
) -> PromotionResult:
    results = {p: PartitionResult(p) for p in plan.partitions}
    if not plan.inputs:
        _write_empty_partitions(spark, plan, results, output_uri)
        return PromotionResult(plan.dataset, 0, 0, 0, results, {})
    frames = [_read_input(spark, group, plan, hooks.reader) for group in plan.inputs]
    frame = frames[0]
    for other in frames[1:]:
        frame = frame.unionByName(other)
    if hooks.record_transform is not None:
        frame = with_record_transform(frame, hooks.record_transform, plan)
    rows = _typed(frame, plan, hooks.partitioner)
    if hooks.frame_transform is not None:
        rows = with_frame_transform(rows, hooks.frame_transform)
    if plan.contract is not None:
        rows, dropped = with_contract(spark, rows, plan)
        rows = rows.withColumn(REASONS, F.nullif(F.concat_ws("; ", REASONS, dropped), F.lit("")))
    in_window = F.col(PARTITION).isin([date.fromisoformat(p) for p in plan.partitions])
    valid = F.col(REASONS).isNull()
    malformed = (F.col(REASONS) == MALFORMED) | F.col(REASONS).startswith(f"{MALFORMED}; ")
    observation = Observation(f"promote_{plan.dataset}")
    writer = (
        rows.observe(
            observation,
            F.count(F.lit(1)).alias("read"),
            F.count_if(in_window & valid).alias("published"),
            F.count_if(in_window & ~valid).alias("quarantined"),
            F.count_if(malformed).alias("malformed"),
            # Which files hold them, as a sum of their keys' CRC-32 (zlib's): counts shifted
            # between files (one more here, one fewer there) do not cancel out in it.
            F.sum(F.when(malformed, F.crc32(F.col("_source_file").cast("binary")))).alias(
                "malformed_files"
            ),
        )
        .filter(in_window)
        .withColumn(ZONE, F.when(valid, F.lit(PUBLISHED)).otherwise(F.lit(QUARANTINED)))
        .select(*plan.columns, *internal_columns(plan), ZONE, PARTITION)
        .write.mode(mode)
        .option("partitionOverwriteMode", "static")  # an overwrite replaces the whole folder
        .partitionBy(ZONE, PARTITION)
    )
    try:
        writer.parquet(output_uri)
    except Exception as error:
        said = [line for line in str(error).splitlines() if MALFORMED_ON_FAST_PATH in line]
        if said and any(g.objects_only for g in plan.inputs):
            raise FastReadRefused(said[0].strip()[:300]) from error
        raise
    counted = observation.get
    profiled = {key: n for group in plan.inputs for key, n in group.records.items()}
    malformed_profiled = plan.malformed_profiled
    by_file, malformed_by_file = {}, {}
    if profiled and (
        counted["read"] != sum(profiled.values())
        or counted["malformed"] != sum(malformed_profiled.values())
        or (counted["malformed_files"] or 0)
        != sum(n * zlib.crc32(key.encode()) for key, n in malformed_profiled.items())
    ):
        # Off the happy path: one more read of the inputs, counting records per file.
        per_file = frame.groupBy("_source_file").agg(
            F.count(F.lit(1)), F.count_if(F.col(CORRUPT).isNotNull())
        )
        for key, records, malformed_records in per_file.collect():
            by_file[key], malformed_by_file[key] = records, malformed_records
        if hooks.frame_transform is not None:
            _check_frame_transform(hooks, counted, by_file, malformed_by_file)
    wrote_any = counted["published"] + counted["quarantined"] > 0
    # One read of what was written serves the audit and the contract counts.
    written = spark.read.parquet(output_uri) if wrote_any else None
    written_schema = _read_back(written, results, plan) if written is not None else {}
    lateness = _lateness(written, plan) if written is not None else {}
    _write_empty_partitions(spark, plan, results, output_uri)
    violations, missing_keys, samples = {}, {}, {}
    if written is not None and plan.contract is not None:
        violations = violation_counts(written, VIOLATIONS, PARTITION)
        missing_keys = classify_orphans(spark, written, plan, violations)
        if violations:
            contract = Contract.model_validate(plan.contract)
            samples = violation_samples(written, VIOLATIONS, contract, PARTITION)
    return PromotionResult(
        plan.dataset,
        rows_read=counted["read"],
        observed_published=counted["published"],
        observed_quarantined=counted["quarantined"],
        partitions=results,
        written_schema=written_schema,
        lateness_hours=lateness,
        violations=violations,
        missing_keys=missing_keys,
        violation_samples=samples,
        malformed_read=counted["malformed"],
        rows_read_by_file=by_file,
        malformed_by_file=malformed_by_file,
    )


def _check_frame_transform(
    hooks: PipelineHooks, counted: dict, by_file: dict[str, int], malformed: dict[str, int]
) -> None:
    """A frame_transform may add rows' reasons but not drop rows, nor a reason already there:
    what was read (per file, before it) and what came out of it must agree."""
    said = None
    if sum(by_file.values()) != counted["read"]:
        said = f"changed the number of rows ({sum(by_file.values())} in, {counted['read']} out)"
    elif sum(malformed.values()) != counted["malformed"]:
        said = (
            f"changed the reasons of malformed records ({sum(malformed.values())} in, "
            f"{counted['malformed']} out still starting {MALFORMED!r})"
        )
    if said:
        raise HookBroken(
            "frame_transform",
            hooks.frame_transform,
            f"{said}: it may not drop or add rows; to quarantine a row, add a reason to "
            f"{REASONS} after those already there",
        )


def internal_columns(plan: PromotionPlan) -> list[str]:
    """Columns written beside the data for the audit, never served to readers."""
    return [REASONS, RAW_RECORD] + ([VIOLATIONS] if plan.contract is not None else [])


def _lateness(written: DataFrame, plan: PromotionPlan) -> dict[str, float]:
    """p50, p95 and p99 of processing time minus event time, in hours, over the rows written
    (the window's, both zones; a row whose event time is unreadable has none). Read back from
    the run folder: two Parquet columns, where the same sketch in the write's Observation fed
    every row through it inside the one pass (ADR-0184)."""
    event_time = try_cast(plan.event_time_column, "timestamp")
    hours = (F.unix_micros(F.col("_ingested_at")) - F.unix_micros(event_time)) / 3_600_000_000
    [quantiles] = written.select(F.percentile_approx(hours, LATENESS_QUANTILES)).first()
    return dict(zip(("p50", "p95", "p99"), quantiles or (), strict=False))


def _read_back(
    written: DataFrame, results: dict[str, PartitionResult], plan: PromotionPlan
) -> dict[str, str]:
    """Rows and files per zone and partition, from the Parquet footers alone; and the schema."""
    per_file = written.groupBy(ZONE, PARTITION, F.col("_metadata.file_name").alias("file")).count()
    for zone, partition, file_name, count in sorted(per_file.collect()):
        result = results[str(partition)]
        if zone == PUBLISHED:
            result.rows_published += count
            result.files.append(file_name)
        else:
            result.rows_quarantined += count
    internal = {ZONE, PARTITION, *internal_columns(plan)}
    return {
        f.name: f.dataType.simpleString() for f in written.schema.fields if f.name not in internal
    }


def _write_empty_partitions(
    spark: SparkSession, plan: PromotionPlan, results: dict[str, PartitionResult], output_uri: str
) -> None:
    """A partition with no published row still gets one Parquet file, of no rows and the full
    schema: engines that read the files of every partition (Athena over Glue, DuckDB, pyarrow)
    then see the same table through every partition (ADR-0027)."""
    for partition in plan.partitions:
        if results[partition].files:
            continue
        folder = f"{output_uri.rstrip('/')}/{ZONE}={PUBLISHED}/{PARTITION}={partition}"
        # Spark writes one file holding the schema for a frame without rows.
        empty_frame(spark, plan.columns).write.mode("error").parquet(folder)
        written = spark.read.parquet(folder).inputFiles()
        results[partition].files.extend(sorted(uri.rsplit("/", 1)[-1] for uri in written))


def expected_schema(plan: PromotionPlan) -> dict[str, str]:
    return {column: SPARK_TYPES[kind] for column, kind in plan.columns.items()}
