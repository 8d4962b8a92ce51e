"""A killed `lake` process must not leave its Spark JVM behind.

PySpark's gateway JVM exits when its stdin (a pipe from Python) closes, but only once it has
finished starting, and then through Spark's shutdown hooks: killed during start-up or a job, it
lives on for tens of seconds, and a hook that hangs keeps it (its memory, its open files in the
lake) for good. So before a process starts its local SparkSession, it starts a small watchdog
holding the other end of a pipe, and launches the JVM with a marker in its environment (which
the JVM's own Python workers inherit). When the process ends, however it ends (SIGKILL
included), the kernel closes the pipe, and the watchdog kills every process carrying the marker.
A process ending normally says so first, and its JVM gets a grace period to shut down cleanly.
The processes are found through /proc (Linux); elsewhere the JVM's own stdin check remains.
"""

from __future__ import annotations

import atexit
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

MARKER = "LAKE_SPARK_OWNER"
# Seconds a JVM gets to finish its own shutdown after its Python process exited normally.
CLEAN_EXIT_GRACE = 30.0

WATCHDOG = """
import os, signal, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the lake process, not for us
mark, grace = sys.argv[1].encode(), float(sys.argv[2])
said = sys.stdin.buffer.read()  # returns at end of file: the lake process has ended

def marked():
    found = []
    for name in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if name.isdigit() and int(name) != os.getpid():
            try:
                with open(f"/proc/{name}/environ", "rb") as f:
                    if mark in f.read().split(b"\\0"):
                        found.append(int(name))
            except OSError:
                pass
    return found

deadline = time.monotonic() + (grace if said.startswith(b"exit") else 0.0)
while marked() and time.monotonic() < deadline:
    time.sleep(0.2)
for _ in range(10):  # again, for a child forked between a scan and its parent's kill
    pids = marked()
    if not pids:
        break
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    time.sleep(0.05)
"""

_watchdog: dict[str, IO[bytes]] = {}


def _say_exit(pipe: IO[bytes]) -> None:
    try:
        pipe.write(b"exit\n")
        pipe.close()
    except OSError:
        pass  # the watchdog is gone; nothing to tell


def _marker() -> str:
    """This process's marker, starting its watchdog on first use."""
    if not _watchdog:
        mark = f"{MARKER}={os.getpid()}-{uuid.uuid4().hex}"
        watchdog = subprocess.Popen(
            [sys.executable, "-c", WATCHDOG, mark, str(CLEAN_EXIT_GRACE)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            env={k: v for k, v in os.environ.items() if k != MARKER},
        )
        assert watchdog.stdin is not None
        _watchdog[mark] = watchdog.stdin
        atexit.register(_say_exit, watchdog.stdin)
    return next(iter(_watchdog))


@contextmanager
def guarded_jvm() -> Iterator[None]:
    """Start a SparkSession inside this block: a JVM it launches dies with this process.

    The marker is in the environment only during the block, so later children of this
    process (a Pipes subprocess, `lake` run by a test) are not tied to it."""
    name, _, value = _marker().partition("=")
    previous = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous
