"""What one Spark job consumed, from Spark's own metrics: the drivers cost attribution weighs a
local (or Pipes subprocess) run by, and the fallback for an EMR Serverless run whose billed
utilisation is missing (lake_assets/cost/run_drivers.py).

Each execution runs under a job group of its own; afterwards the stages of that group's jobs are
read from the JVM's status store (the store the Spark UI renders, kept with the UI disabled too),
over py4j: no UI, no REST, no jars, alike on Spark 3.5 and 4.x. The SQL status store adds what
the core one does not count: the files scans read and writers wrote (S3 requests).

- vCPU-seconds: the executor run time of every task. A task holds one core for as long as it
  runs, so the sum is the core time the job kept busy (idle cores of a half-used executor are
  capacity, not this job's use; ADR: the drivers of a run).
- memory-GB-seconds: that core time times the executor memory that comes with one core
  (executor memory / executor cores; the driver's memory locally, where it is the executor).
- bytes read and written: the stages' input and output bytes (shuffle excluded: it is traffic
  inside the job, not reads or writes of the lake).

Reading the metrics never fails a job: a status store that cannot be read leaves the figures at
zero and the origin "wall-clock".
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

SPARK_METRICS, WALL_CLOCK = "spark-metrics", "wall-clock"
_FILES_READ, _FILES_WRITTEN = "number of files read", "number of written files"
# How a plan metric prints (a case class: Spark 3.5 and 4.x alike): SQLPlanMetric(name,id,type).
# A data source's own metric has a type like `v2Custom_org.example.Metric`.
_PLAN_METRIC = re.compile(r"SQLPlanMetric\((.+?),(\d+),([^,()\s]+)\)")
# What setJobGroup sets, restored afterwards: a job that runs inside another's group keeps it.
_GROUP_PROPERTIES = ("spark.jobGroup.id", "spark.job.description")
# The status store is fed by the listener bus, behind the job's own completion. The wait is
# bounded, and a timeout falls back to wall-clock; on a loaded machine (two busy cores) 10 s
# was seen to time out, so the bound is generous: the bus is normally empty at once.
_LISTENER_WAIT_MS = 60_000


@contextmanager
def timed() -> Iterator[dict]:
    """The body's started_at, ended_at (ISO, UTC) and wall_clock_seconds, filled on the way out."""
    started, clock, around = datetime.now(UTC), time.monotonic(), {}
    try:
        yield around
    finally:
        around.update(
            started_at=started.isoformat(),
            ended_at=datetime.now(UTC).isoformat(),
            wall_clock_seconds=time.monotonic() - clock,
        )


@contextmanager
def measured(spark, job: str) -> Iterator[dict]:
    """Run the body under a job group of its own; the dict it yields is filled, on the way out,
    with when it ran and what the body's Spark jobs consumed."""
    sc = spark.sparkContext
    group = f"lake-{job}-{uuid.uuid4().hex[:12]}"
    previous = {name: sc.getLocalProperty(name) for name in _GROUP_PROPERTIES}
    sc.setJobGroup(group, f"lakehouse job {job}")
    try:
        with timed() as usage:
            yield usage
    finally:
        for name, value in previous.items():
            sc.setLocalProperty(name, value)
    usage.update(consumed(spark, group))


def consumed(spark, group: str) -> dict:
    """What the jobs of `group` consumed, from the status stores; zeros (origin wall-clock)
    when they cannot be read."""
    try:
        return _consumed(spark, group)
    except Exception as error:  # py4j or a Spark whose store differs: cost never fails a job
        return {**_nothing(), "origin": WALL_CLOCK, "metrics_error": str(error)[:200]}


def _nothing() -> dict:
    return dict.fromkeys(
        ("vcpu_seconds", "memory_gb_seconds", "bytes_read", "bytes_written"), 0
    ) | {"objects_read": 0, "objects_written": 0, "tasks": 0}


def _consumed(spark, group: str) -> dict:
    sc = spark.sparkContext
    jsc = sc._jsc.sc()
    jsc.listenerBus().waitUntilEmpty(_LISTENER_WAIT_MS)
    tracker, store = jsc.statusTracker(), jsc.statusStore()
    jobs = set(tracker.getJobIdsForGroup(group))
    stages = set()
    for job in jobs:
        info = tracker.getJobInfo(job)
        if info.isDefined():
            stages.update(info.get().stageIds())
    usage, run_ms = _nothing(), 0
    for stage in sorted(stages):
        data = last_stage_attempt(store, stage)
        if data is None:  # dropped by the store: a stage that never ran
            continue
        run_ms += data.executorRunTime()
        usage["bytes_read"] += data.inputBytes()
        usage["bytes_written"] += data.outputBytes()
        usage["tasks"] += data.numCompleteTasks()
    usage["vcpu_seconds"] = run_ms / 1000
    usage["memory_gb_seconds"] = usage["vcpu_seconds"] * memory_gb_per_core(spark)
    usage["objects_read"], usage["objects_written"] = _files(spark, jobs)
    return {**usage, "origin": SPARK_METRICS}


def last_stage_attempt(store, stage: int):
    """The stage's last attempt, or None when the status store no longer holds it. Past
    `spark.ui.retainedStages` (a long-lived session, like the test suite's, gets there) Spark
    drops the stages without a completion time first: the skipped ones, which never ran and
    would report zeros. Without this one such stage turned a whole job's figures to zero."""
    from py4j.protocol import Py4JJavaError

    try:
        return store.lastStageAttempt(stage)
    except Py4JJavaError as error:
        if error.java_exception.getClass().getName() != "java.util.NoSuchElementException":
            raise
        return None


def memory_gb_per_core(spark) -> float:
    """The executor memory that comes with one core: locally the driver is the executor and
    its cores are the master's threads."""
    sc = spark.sparkContext
    conf = spark.conf  # the session's: SparkContext.getConf copies every setting, 16 ms a job
    if sc.master.startswith("local"):
        memory, cores = conf.get("spark.driver.memory", "1g"), sc.defaultParallelism
    else:
        memory, cores = (
            conf.get("spark.executor.memory", "1g"),
            conf.get("spark.executor.cores", "1"),
        )
    return _gigabytes(memory) / max(int(cores), 1)


def _gigabytes(size: str) -> float:
    """A JVM memory setting ("4g", "512m", "16384") in GiB; a bare number is MiB, as Spark reads it."""
    units = {"k": 1 / 1024**2, "m": 1 / 1024, "g": 1, "t": 1024}
    size = size.strip().lower().removesuffix("b")
    return float(size[:-1]) * units[size[-1]] if size[-1] in units else float(size) / 1024


def _file_metrics(metrics) -> list[tuple[str, int]]:
    """The (name, accumulator id) of the file counts among an execution's plan metrics (a Scala
    Seq of SQLPlanMetric), read from its text in one call: walking the Seq over py4j took four
    round trips per metric, hundreds per execution, a fifth of a second after every job. The
    Seq is walked only when the text does not parse into as many metrics as it holds."""
    parsed = _PLAN_METRIC.findall(metrics.toString())
    if len(parsed) != metrics.size():  # a text this pattern misreads: walk the Seq instead
        listed = metrics.iterator()
        parsed = []
        while listed.hasNext():
            metric = listed.next()
            parsed.append((metric.name(), metric.accumulatorId(), metric.metricType()))
    return [
        (name, int(accumulator))
        for name, accumulator, _ in parsed
        if name in (_FILES_READ, _FILES_WRITTEN)
    ]


def _files(spark, jobs: set[int]) -> tuple[int, int]:
    """Files read by scans and written by writers in the SQL executions that ran `jobs`."""
    core, sql = (
        spark.sparkContext._jsc.sc().statusStore(),
        spark._jsparkSession.sharedState().statusStore(),
    )
    executions = set()
    for job in jobs:
        execution = core.jobWithAssociatedSql(job)._2()  # the job's SQL execution, if any
        if execution.isDefined():
            executions.add(execution.get())
    read = written = 0
    for execution_id in executions:
        execution = sql.execution(execution_id)
        if not execution.isDefined():
            continue
        values = sql.executionMetrics(execution_id)
        # An adaptive plan lists one scan's metric under each re-plan: each accumulator once.
        for name, accumulator in dict.fromkeys(_file_metrics(execution.get().metrics())):
            value = values.get(accumulator)
            count = int(value.get().replace(",", "")) if value.isDefined() else 0
            if name == _FILES_READ:
                read += count
            else:
                written += count
    return read, written
