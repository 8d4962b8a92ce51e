"""Where a local Spark JVM's own output goes: a log file, not the user's terminal.

A local JVM prints its start-up chatter to the stderr it inherits (the JDK's "Using incubator
modules", log4j's set-up lines, Hadoop's native-library warning), which no Spark or log4j
setting silences; a `lake` command's output is for the command's own outcome. So the JVM is
launched with its stderr on a log file (it keeps it for its life), and bound to the loopback
address, the only one a `local[*]` session needs, which also spares the "resolves to a loopback
address" warning. Job failures still reach the user: Spark raises them in Python.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# Set by the subprocess runner for the entry script (entry.py): the file its JVM writes to.
SPARK_LOG_ENV = "LAKE_SPARK_LOG"


@contextmanager
def local_jvm_output(log_file: Path | None) -> Iterator[None]:
    """Launch a local JVM inside this block: bound to 127.0.0.1 (unless SPARK_LOCAL_IP says
    otherwise) and, with `log_file`, writing its stderr there (appended)."""
    previous_ip = os.environ.get("SPARK_LOCAL_IP")
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    saved = None
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        sys.stderr.flush()
        saved = os.dup(2)
        with open(log_file, "ab") as log:  # the JVM inherits file descriptor 2, not this file
            os.dup2(log.fileno(), 2)
    try:
        yield
    finally:
        if saved is not None:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
        if previous_ip is None:
            os.environ.pop("SPARK_LOCAL_IP", None)
