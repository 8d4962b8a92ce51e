"""Reading and shaping table data in Spark: the job side of the table core. Nothing here
touches the catalog: the orchestrator resolves which files to read (reader.py) and a job reads
them with these, wherever it runs."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import reduce

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lake_assets.tables.locations import PARTITION
from lake_assets.tables.types import SPARK_TYPES, arrow_type

# The column `dealt` adds: the key of the task a row's value was dealt to.
TASK = "_task"


def empty_frame(spark: SparkSession, columns: dict[str, str]) -> DataFrame:
    """No rows, the columns typed as the catalog says (column -> field type)."""
    return spark.createDataFrame([], ddl(columns))


def conformed(frame: DataFrame, columns: Mapping[str, str]) -> DataFrame:
    """`frame` with `columns` at their field types (the lattice only widens losslessly, so a
    cast never loses a value), in that order, followed by its other columns unchanged."""
    present = set(frame.columns)
    return frame.select(
        *[
            (F.col(f"`{name}`") if name in present else F.lit(None))
            .cast(SPARK_TYPES[kind])
            .alias(name)
            for name, kind in columns.items()
        ],
        *[F.col(f"`{name}`") for name in frame.columns if name not in columns],
    )


def collected(frame: DataFrame) -> list[dict]:
    """`frame`'s rows as dicts, moved to Python as Arrow batches: several times cheaper than
    `collect()`'s pickled Rows for the hundreds of thousands of small rows a driver-side step
    takes (cost pools). Values as `collect()` gives them for text, integers, decimals and
    booleans; a timestamp comes back aware (UTC) rather than naive."""
    return arrow_table(frame).to_pylist()


def collected_aside(frame: DataFrame) -> Callable[[], list[dict]]:
    """`collected(frame)` started in a thread of its own, under the caller's job group (a
    job's metrics count its jobs: runtime/spark_metrics.py); call the function it returns for
    the rows, or the error. Two independent collections then overlap: on a small machine one's
    driver-side work (the transfer, the dicts) runs while the other's tasks do."""
    from pyspark import InheritableThread

    outcome: dict = {}

    def collect() -> None:
        try:
            outcome["rows"] = collected(frame)
        except BaseException as error:  # raised where the rows are asked for
            outcome["error"] = error

    thread = InheritableThread(target=collect)
    thread.start()

    def rows() -> list[dict]:
        thread.join()
        if "error" in outcome:
            raise outcome["error"]
        return outcome["rows"]

    return rows


def arrow_table(frame: DataFrame):
    """`frame`'s rows as one pyarrow Table (its schema even when it has no rows)."""
    import pyarrow as pa  # on the job's side too: pyspark's Arrow support needs it

    if hasattr(frame, "toArrow"):  # Spark 4
        return frame.toArrow()
    # Spark 3.5 (EMR 7): the same transfer, not yet public
    from pyspark.sql.pandas.types import to_arrow_schema

    batches = frame._collect_as_arrow()
    return pa.Table.from_batches(batches, schema=None if batches else to_arrow_schema(frame.schema))


def frame_of(spark: SparkSession, rows: list[dict], columns: dict[str, str]) -> DataFrame:
    """`rows` (dicts holding `columns`, values at their field types) as a frame of those
    columns: sent to the JVM as one Arrow table on Spark 4, twice as fast as pickled tuples
    for the hundreds of thousands of rows a driver-side step builds (the cost ledger); Spark
    3.5 (EMR 7) cannot take an Arrow table, so there the tuples, left unverified (the rows
    are built to the schema)."""
    if int(spark.version.split(".")[0]) >= 4:
        import pyarrow as pa

        schema = pa.schema([(name, arrow_type(kind)) for name, kind in columns.items()])
        return spark.createDataFrame(pa.Table.from_pylist(rows, schema=schema))
    return spark.createDataFrame(
        [tuple(row[c] for c in columns) for row in rows], ddl(columns), verifySchema=False
    )


def written_files(spark: SparkSession, uri: str, partitioned: bool) -> dict[str, list[str]]:
    """The data files the write committed under `uri` (names), per partition folder's value
    as Spark wrote it (`event_date=<d>`, `team=<t>`) when `partitioned`: a listing, no data
    read. An unpartitioned write of no rows still commits one file, which carries the schema."""
    # A schema given, so that nothing is inferred (no footer read); the listing is all we use.
    listed = spark.read.schema("`_` string").parquet(uri).inputFiles()
    files: dict[str, list[str]] = {}
    for path in listed:
        folder, name = path.rsplit("/", 2)[-2:]
        key = folder.split("=", 1)[1] if partitioned else ""
        files.setdefault(key, []).append(name)
    return {key: sorted(names) for key, names in files.items()}


def ddl(columns: dict[str, str]) -> str:
    return ", ".join(f"`{name}` {SPARK_TYPES[kind]}" for name, kind in columns.items())


def read_locations(spark: SparkSession, uris: list[str], columns: dict[str, str]) -> DataFrame:
    """Published partition files read with the catalog's columns (internal ones ignored),
    and their event date taken from their `event_date=` folder.

    The date is Spark's partition value of that folder (a constant per file), not parsed from
    each row's file path (a quarter of a second per million rows): the files are read under
    their dataset's folder, whose other levels (`run=`, `_zone=`, `compaction=`) Spark reads
    as partitions too and which are dropped. Files of different layouts (a run's and a
    compaction's) are read apart and unioned."""
    layouts: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    for uri in uris:
        layouts.setdefault(_layout(uri), []).append(uri)
    data = [c for c in columns if c != PARTITION]  # the folder's date stands for the files'
    schema = ddl({**columns, PARTITION: "date"})
    frames = []
    for (root, levels), files in layouts.items():
        shadowed = set(levels) & set(data)
        if PARTITION not in levels or shadowed:
            raise ValueError(
                f"{files[0]}: a published file lies under an {PARTITION}= folder, whose other "
                f"folder levels name no column; here the levels are {', '.join(levels) or 'none'}"
            )
        read = spark.read.schema(schema).option("basePath", root).parquet(*files)
        frames.append(read.select(*[F.col(f"`{c}`") for c in data], PARTITION))
    return reduce(DataFrame.unionByName, frames)


def _layout(uri: str) -> tuple[str, tuple[str, ...]]:
    """The dataset folder a file lies in and the `key=value` folder levels under it (keys)."""
    folders = uri.rsplit("/", 1)[0].split("/")
    top = len(folders)
    while top and "=" in folders[top - 1]:
        top -= 1
    return "/".join(folders[:top]), tuple(f.split("=", 1)[0] for f in folders[top:])


def read_resolved(spark: SparkSession, resolved: dict) -> DataFrame:
    """The rows of a table as `reader.resolve_published` resolved them, with event_date.

    Each partition is read with the types its own files hold (the catalog records them with
    the version), then cast to the table's: a partition published before a widening, or while
    its migration is under way (ADR-0027), reads as part of the same table."""
    table = resolved["columns"]
    frames = [
        conformed(read_locations(spark, group["uris"], group["columns"]), table)
        for group in resolved["groups"]
        if group["uris"]  # partitions published empty before each carried a file
    ]
    if not frames:
        return empty_frame(spark, {**table, PARTITION: "date"})
    return reduce(DataFrame.unionByName, frames)


def dealt(frame: DataFrame, column: str, values: Sequence[str], tasks: int) -> DataFrame:
    """`frame` shuffled so that each of `values` (of `column`, given as text) has all its rows
    in one task and the values are dealt in turn over `tasks` tasks (no more tasks than
    values), each row carrying its task's key in TASK; rows of any other value share one task.

    Why not `repartition(column)`: Spark hashes the values into its shuffle partitions, where
    two may collide while another partition gets none, and adaptive execution then merges
    partitions by size: a day of orders touching 8 order dates ran as 3 tasks on 2 cores, the
    third alone after the first two (ADR-0152). A number of partitions given explicitly is kept
    as it is, and each value's key is an integer Spark's hash puts in the task chosen for it."""
    if not values:
        return frame.withColumn(TASK, F.lit(None).cast("int")).repartition(1, TASK)
    tasks = max(1, min(tasks, len(values)))
    keys = _task_keys(tasks)
    key_of = value_lookup(
        values, frame.schema[column].dataType, [keys[n % tasks] for n in range(len(values))]
    )
    return frame.withColumn(TASK, key_of[F.col(column)]).repartition(tasks, TASK)


def value_lookup(values: Sequence[str], kind, results: Sequence[int]) -> Column:
    """A map from each of `values` (given as text, cast once to the column's type `kind`) to its
    result, for a row to look up by its own value: casting every row's value to text to look it
    up cost more than the work it served (ADR-0152). A value not among them finds null. Built
    from two array literals, which Spark folds into one map: a few calls to the JVM whatever
    the number of values (a literal per value cost two; ADR-0180)."""
    keys = F.lit(list(values)).cast(T.ArrayType(kind))
    return F.map_from_arrays(keys, F.lit(list(results)).cast("array<int>"))


def _task_keys(tasks: int) -> list[int]:
    """For each of `tasks` shuffle partitions, the least integer Spark's hash partitioning puts
    there (pmod of the hash by the number of partitions)."""
    keys: dict[int, int] = {}
    candidate = 0
    while len(keys) < tasks:
        keys.setdefault(spark_hash_int(candidate) % tasks, candidate)
        candidate += 1
    return [keys[task] for task in range(tasks)]


def spark_hash_int(value: int) -> int:
    """Spark's `hash` of an int value: Murmur3 x86 32-bit with seed 42, as HashPartitioning
    places rows (Spark 3.5 and 4 alike)."""
    mask = 0xFFFFFFFF

    def rotated(x: int, by: int) -> int:
        return ((x << by) | (x >> (32 - by))) & mask

    k = rotated((value & mask) * 0xCC9E2D51 & mask, 15) * 0x1B873593 & mask
    h = (rotated(42 ^ k, 13) * 5 + 0xE6546B64) & mask
    h ^= 4  # the length in bytes
    h = ((h ^ (h >> 16)) * 0x85EBCA6B) & mask
    h = ((h ^ (h >> 13)) * 0xC2B2AE35) & mask
    h ^= h >> 16
    return h - (1 << 32) if h & 0x80000000 else h
