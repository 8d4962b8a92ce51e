"""The bi-temporal SCD Type 2 merge, in PySpark, and the as-of query over its result.

Valid time (`valid_from`, `valid_to`) says when a version was true in the world, at the
granularity of the daily snapshot; transaction time (`recorded_at`, `superseded_at`) says when
the platform held that belief. Stored rows name the apply that recorded and superseded them
(`recorded_by`, `superseded_by`); transactions.py resolves those to the instants the applies
became visible. A row, once written, only ever gets `superseded_by` set: every
change of belief (an update closing an open version, a deletion, a correction, a resequenced
late snapshot) supersedes the rows it contradicts and records new ones (ADR-0022).

One code path serves every case. The valid-time history from a date on is a function of the
snapshots from that date on plus, per key, the version that was current just before it (the
"seed"); the merge recomputes that suffix and compares it with what is currently believed.
Rows that come out identical are kept as they are (so re-applying a snapshot changes nothing);
the rest are superseded or recorded. A daily append is the case where the suffix is one
snapshot; a late or corrected snapshot makes the suffix start at its date.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from pyspark.sql import Column, DataFrame, Observation, Window
from pyspark.sql import functions as F

from lake_assets.history.columns import (
    CLOSED_BY,
    OPENED_BY,
    RECORDED_AT,
    RECORDED_BY,
    ROW_HASH,
    STORED_COLUMNS,
    SUPERSEDED_AT,
    SUPERSEDED_BY,
    VALID_FROM,
    VALID_TO,
)
from lake_assets.ingestion.curated_columns import LINEAGE_COLUMNS, column_name
from lake_assets.instants import format_instant
from lake_assets.runtime.columns import array_position
from lake_assets.settings import HistoryConfig
from lake_assets.tables.frames import PARTITION
from lake_assets.tables.types import SPARK_TYPES, field_type_of_spark, widest

# Internal columns of the merge stream.
_KIND, _IDX, _SEQ, _SEED_FROM, _SEED_OPENED, _COMPARED = (
    "_kind",
    "_idx",
    "_seq",
    "_seed_valid_from",
    "_seed_opened_by",
    "_compared_hash",
)
SEED, DORMANT, SNAPSHOT = "seed", "dormant", "snapshot"


@dataclass(frozen=True)
class HistorySpec:
    """How a snapshot's columns take part in the history."""

    keys: tuple[str, ...]
    tracked: tuple[str, ...]  # a change in any of these makes a new version
    carried: tuple[str, ...]  # kept from the row that opened the version: lineage, sequence
    sequence: str | None  # orders several rows of one key within one snapshot

    @classmethod
    def from_dict(cls, spec: dict) -> HistorySpec:
        """The spec as `dataclasses.asdict` gave it, after a trip through JSON."""
        return cls(
            keys=tuple(spec["keys"]),
            tracked=tuple(spec["tracked"]),
            carried=tuple(spec["carried"]),
            sequence=spec["sequence"],
        )

    @property
    def columns(self) -> list[str]:
        """The stored columns of the history table."""
        return [*self.keys, *self.tracked, *STORED_COLUMNS, *self.carried, ROW_HASH]


def history_spec(
    config: HistoryConfig, snapshot_columns: Sequence[str], event_time_field: str
) -> HistorySpec:
    """Split a snapshot's columns into keys, tracked attributes and carried metadata."""
    missing = [c for c in (*config.keys, config.sequence_field) if c and c not in snapshot_columns]
    if missing:
        raise LookupError(
            f"history keys/sequence {missing} are not columns of the snapshot "
            f"({', '.join(snapshot_columns)})"
        )
    carried = [c for c in snapshot_columns if c in LINEAGE_COLUMNS]
    if config.sequence_field:
        carried.insert(0, config.sequence_field)
    # The snapshot date is the valid time itself; it is not an attribute of the customer.
    excluded = {*config.keys, *carried, column_name(event_time_field), PARTITION}
    return HistorySpec(
        keys=tuple(config.keys),
        tracked=tuple(c for c in snapshot_columns if c not in excluded),
        carried=tuple(carried),
        sequence=config.sequence_field,
    )


@dataclass
class HistoryMerge:
    """The whole new history, to be written; its counts are read after the write."""

    frame: DataFrame
    counts: Observation  # rows, recorded (new rows), superseded (by this merge)
    ambiguity: Observation  # key rows in one snapshot that no sequence orders


def _row_hash(columns: Sequence[str], types: Mapping[str, str] | None = None) -> Column:
    # to_json leaves out nulls, so a column added later (null in older rows) changes no hash.
    # With `types` (Spark type names), each column is read as that type first.
    read = [
        F.col(c) if types is None else F.col(c).cast(types[c]).alias(c) for c in sorted(columns)
    ]
    return F.sha2(F.to_json(F.struct(*read)), 256)


def _compared_types(history: DataFrame | None, snapshots: DataFrame, columns: Sequence[str]):
    """The type each tracked column is compared at: the wider of the history's and the
    snapshots' (ADR-0027's widenings), so a value stored before its column widened (1 as an
    integer) is the same value read now (1.0)."""
    types = {}
    for column in columns:
        new = snapshots.schema[column].dataType.simpleString()
        old = history.schema[column].dataType.simpleString() if history is not None else new
        wide = widest(field_type_of_spark(old), field_type_of_spark(new))
        types[column] = new if old == new else SPARK_TYPES.get(wide, "string")
    return types


def _compared_hash(frame: DataFrame, columns: Sequence[str], types: Mapping[str, str]) -> Column:
    """The row hash at the compared types: the stored one where `frame` already has them."""
    if all(frame.schema[c].dataType.simpleString() == types[c] for c in columns):
        return F.col(ROW_HASH)
    return _row_hash(columns, types)


def _identity(spec: HistorySpec) -> list[str]:
    """What makes two rows the same version: key, valid interval, content and how it began and
    ended. The sequence is part of it, so A -> B -> A within one day gives two distinct
    zero-width rows."""
    return [
        *spec.keys,
        VALID_FROM,
        VALID_TO,
        ROW_HASH,
        OPENED_BY,
        CLOSED_BY,
        *([spec.sequence] if spec.sequence else []),
    ]


def _is_current(start: str) -> Column:
    """Rows of the current belief whose valid time reaches `start` or later: the ones a
    recomputation from `start` may contradict."""
    return F.col(SUPERSEDED_BY).isNull() & (
        F.col(VALID_TO).isNull() | (F.col(VALID_TO) >= F.lit(start).cast("date"))
    )


def merge_history(
    history: DataFrame | None,
    snapshots: DataFrame,
    dates: Sequence[str],
    spec: HistorySpec,
    transaction: str,
) -> HistoryMerge:
    """The stored history after (re)applying the snapshots of `dates` (ascending, every snapshot
    from the first of them on), read as one frame with an `event_date` column, by the apply
    `transaction`: the rows it records or supersedes carry that id."""
    start, count = dates[0], len(dates)
    day_list = F.array(*[F.lit(d).cast("date") for d in dates])

    def day_at(index: Column) -> Column:
        return F.element_at(day_list, (index + 1).cast("int"))

    stamp = F.lit(transaction)
    attributes = [*spec.tracked, *spec.carried]
    snapshot_rows = snapshots.select(
        *spec.keys,
        *attributes,
        _row_hash(spec.tracked).alias(ROW_HASH),
        F.lit(SNAPSHOT).alias(_KIND),
        (array_position(day_list, F.col(PARTITION)) - 1).cast("int").alias(_IDX),
        (F.col(spec.sequence) if spec.sequence else F.lit(None).cast("string")).alias(_SEQ),
        F.lit(None).cast("date").alias(_SEED_FROM),
        F.lit(None).cast("string").alias(_SEED_OPENED),
    )
    affected = untouched = None
    if history is not None:
        for column in attributes:  # a column the history predates
            if column not in history.columns:
                history = history.withColumn(
                    column, F.lit(None).cast(snapshots.schema[column].dataType)
                )
    # Rows are compared by a hash of their tracked values at one type per column; each keeps
    # the hash it is stored with (a seed's, made under the types of its day, is its identity).
    compared = _compared_types(history, snapshots, spec.tracked)
    stream = snapshot_rows.withColumn(
        _COMPARED, _compared_hash(snapshot_rows, spec.tracked, compared)
    )
    if history is not None:
        current = _is_current(start)
        affected, untouched = history.where(current), history.where(~current)
        seeds = affected.where(F.col(VALID_FROM) < F.lit(start).cast("date")).select(
            *spec.keys,
            *attributes,
            ROW_HASH,
            _compared_hash(affected, spec.tracked, compared).alias(_COMPARED),
            F.lit(SEED).alias(_KIND),
            F.lit(-1).alias(_IDX),
            F.col(VALID_FROM).alias(_SEED_FROM),
            F.col(OPENED_BY).alias(_SEED_OPENED),
        )
        # Keys deleted before `start`: their next appearance is a reinstatement, not an insert.
        dormant = (
            untouched.where(F.col(SUPERSEDED_BY).isNull() & (F.col(CLOSED_BY) == "delete"))
            .select(*spec.keys)
            .distinct()
            .select(*spec.keys, F.lit(DORMANT).alias(_KIND), F.lit(-2).alias(_IDX))
        )
        stream = stream.unionByName(seeds, allowMissingColumns=True).unionByName(
            dormant, allowMissingColumns=True
        )

    by_key = Window.partitionBy(*spec.keys).orderBy(_IDX, _SEQ, _COMPARED)
    idx, kind = F.col(_IDX), F.col(_KIND)
    prev_idx, prev_kind = F.lag(_IDX).over(by_key), F.lag(_KIND).over(by_key)
    prev_hash, next_idx = F.lag(_COMPARED).over(by_key), F.lead(_IDX).over(by_key)
    gap_before = prev_idx < idx - 1  # absent from the snapshot(s) in between: deleted meanwhile
    marked = stream.select(
        "*",
        (
            (kind == SEED)
            | (
                (kind == SNAPSHOT)
                & (
                    prev_idx.isNull()
                    | (prev_kind == DORMANT)
                    | (prev_hash != F.col(_COMPARED))
                    | gap_before
                )
            )
        ).alias("_starts"),
        (
            (kind != DORMANT) & ((next_idx.isNull() & (idx < count - 1)) | (next_idx > idx + 1))
        ).alias("_deleted_after"),
        F.when(kind == SEED, F.col(_SEED_OPENED))
        .when(prev_idx.isNull(), "insert")
        .when((prev_kind == DORMANT) | gap_before, "reinstate")
        .otherwise("update")
        .alias(OPENED_BY),
        # Two rows of a key in one snapshot with different values and nothing ordering them:
        # no sequence field (each row's _SEQ is null), or the same value of it.
        (
            (next_idx == idx)
            & F.lead(_SEQ).over(by_key).eqNullSafe(F.col(_SEQ))
            & (F.lead(_COMPARED).over(by_key) != F.col(_COMPARED))
        ).alias("_ambiguous"),
    )
    ambiguity = Observation("history_ambiguity")
    marked = marked.observe(
        ambiguity, F.coalesce(F.sum(F.col("_ambiguous").cast("int")), F.lit(0)).alias("rows")
    )
    # A version runs from its starting row to the next start, or to the day after its key's
    # last consecutive appearance (a deletion, soft: the row stays, closed).
    boundaries = marked.where(F.col("_starts") | F.col("_deleted_after"))
    next_starts = F.lead("_starts").over(by_key)
    next_boundary = F.lead(_IDX).over(by_key)
    deleted = F.col("_deleted_after")
    versions = boundaries.select(
        "*",
        F.when(deleted, day_at(idx + 1))
        .when(next_boundary.isNull(), F.lit(None).cast("date"))
        .when(next_starts, day_at(next_boundary))
        .otherwise(day_at(next_boundary + 1))
        .alias(VALID_TO),
        F.when(deleted, "delete")
        .when(next_boundary.isNull(), F.lit(None).cast("string"))
        .when(next_starts, "update")
        .otherwise("delete")
        .alias(CLOSED_BY),
    ).where(F.col("_starts"))
    believed = versions.select(
        *spec.keys,
        *attributes,
        ROW_HASH,
        F.when(kind == SEED, F.col(_SEED_FROM)).otherwise(day_at(idx)).alias(VALID_FROM),
        VALID_TO,
        OPENED_BY,
        CLOSED_BY,
    )

    if affected is None:
        merged = believed.select(
            "*",
            stamp.alias(RECORDED_BY),
            F.lit(None).cast("string").alias(SUPERSEDED_BY),
        ).select(*spec.columns)
    else:
        old = affected.withColumn("_believed", F.lit(True)).alias("old")
        new = believed.withColumn("_derived", F.lit(True)).alias("new")
        same_version = [F.col(f"old.{c}").eqNullSafe(F.col(f"new.{c}")) for c in _identity(spec)]
        joined = old.join(new, same_version, "full_outer")
        kept = F.col("old._believed").isNotNull()

        def pick(column: str) -> Column:
            return F.when(kept, F.col(f"old.{column}")).otherwise(F.col(f"new.{column}"))

        diffed = joined.select(
            *[pick(c).alias(c) for c in [*spec.keys, *spec.tracked, VALID_FROM, VALID_TO]],
            F.coalesce(F.col(f"old.{RECORDED_BY}"), stamp).alias(RECORDED_BY),
            F.when(F.col("new._derived").isNull(), stamp)
            .otherwise(F.lit(None).cast("string"))
            .alias(SUPERSEDED_BY),
            *[pick(c).alias(c) for c in [OPENED_BY, CLOSED_BY, *spec.carried, ROW_HASH]],
        )
        merged = untouched.unionByName(diffed, allowMissingColumns=True)

    counts = Observation("history_counts")
    frame = merged.observe(
        counts,
        F.count(F.lit(1)).alias("rows"),
        F.coalesce(F.sum((F.col(RECORDED_BY) == stamp).cast("int")), F.lit(0)).alias("recorded"),
        F.coalesce(F.sum((F.col(SUPERSEDED_BY) == stamp).cast("int")), F.lit(0)).alias(
            "superseded"
        ),
    )
    return HistoryMerge(frame=frame, counts=counts, ambiguity=ambiguity)


def overlapping_versions(
    history: DataFrame, keys: Sequence[str], superseded: str = SUPERSEDED_AT
) -> int:
    """Versions of the current belief whose valid interval overlaps the one before them of the
    same key: zero unless the merge is broken. Zero-width versions overlap nothing. The current
    belief is the rows whose `superseded` column is null: `superseded_at` as read with
    transaction times, `superseded_by` as stored."""
    order = Window.partitionBy(*keys).orderBy(VALID_FROM, F.col(VALID_TO).asc_nulls_last())
    current = history.where(
        F.col(superseded).isNull()
        & (F.col(VALID_TO).isNull() | (F.col(VALID_FROM) < F.col(VALID_TO)))
    )
    previous = current.select(
        VALID_FROM,
        F.lag(VALID_TO).over(order).alias("_previous_to"),
        F.lag(F.lit(True)).over(order).alias("_has_previous"),
    )
    return previous.where(
        F.col("_has_previous")
        & (F.col("_previous_to").isNull() | (F.col("_previous_to") > F.col(VALID_FROM)))
    ).count()


def as_of(
    history: DataFrame,
    valid_at: date | str,
    known_at: datetime | str,
    keys: Mapping[str, str] | None = None,
) -> DataFrame:
    """What was true on `valid_at`, as the platform believed it at `known_at`.

    With `known_at` now, this is the current view of the past; with an earlier `known_at`, it is
    what a report run then would have shown, before later corrections and late snapshots.
    Zero-width versions (superseded within their own day) are never true at a date. `known_at`
    is read as every instant is (instants.parse_instant: without an offset, UTC).
    """
    on = F.lit(str(valid_at)).cast("date")
    known = F.lit(format_instant(known_at)).cast("timestamp")
    selected = history.where(
        (F.col(VALID_FROM) <= on)
        & (F.col(VALID_TO).isNull() | (F.col(VALID_TO) > on))
        & (F.col(RECORDED_AT) <= known)
        & (F.col(SUPERSEDED_AT).isNull() | (F.col(SUPERSEDED_AT) > known))
    )
    for column, value in (keys or {}).items():
        selected = selected.where(F.col(column) == value)
    return selected
