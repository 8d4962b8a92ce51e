"""A `lake` process killed with SIGKILL in the middle of a Spark job leaves no JVM behind, even
one that would not exit by itself."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

# What `lake promote` does, reduced to its Spark part: the session from the local runner, then
# a job whose one task says it has started and then works for a long time.
BUSY_LAKE = """
import sys, time
from pathlib import Path
from resources import LOCAL_SPARK_CONFIG
from resources.spark_runner import LocalSparkRunner

config = {**LOCAL_SPARK_CONFIG, "spark.master": "local[1]", "spark.driver.memory": "512m"}
spark = LocalSparkRunner(config).spark_session
started = sys.argv[1]
spark.sparkContext.parallelize([1], 1).map(
    lambda x: Path(started).write_text("running") or time.sleep(600)
).count()
"""


def running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's zombie waits for a reaper, but is not running)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def java_child(pid: int) -> int | None:
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return None
    return next((int(c) for c in children if Path(f"/proc/{c}/comm").read_text() == "java\n"), None)


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads processes from /proc")
def test_a_lake_process_killed_mid_job_leaves_no_spark_jvm(tmp_path):
    started = tmp_path / "task-started"
    log = tmp_path / "busy.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", BUSY_LAKE, str(started)],
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    jvm = None
    try:
        deadline = time.monotonic() + 180
        while not started.exists() and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)
        assert started.exists(), f"the job never started:\n{log.read_text()}"
        jvm = java_child(process.pid)
        assert jvm is not None
        # A JVM that does not act on its stdin closing (busy, or stuck in a shutdown hook, as
        # killed runs left them): stopped, it cannot exit by itself, only be killed.
        os.kill(jvm, signal.SIGSTOP)
        # The lake process alone, as `kill -9 <pid>` does: not its process group.
        process.send_signal(signal.SIGKILL)
        process.wait()
        # The watchdog wakes when the pipe closes and scans /proc: quick, but a loaded CI
        # machine (load 8 on two cores) once took longer than 5 s. A bound, not a measurement.
        gone_by = time.monotonic() + 30
        while running(jvm) and time.monotonic() < gone_by:
            time.sleep(0.1)
        assert not running(jvm), "the Spark JVM outlived its killed lake process"
    finally:
        if jvm is not None and running(jvm):
            os.kill(jvm, signal.SIGKILL)
        if process.poll() is None:
            process.kill()
