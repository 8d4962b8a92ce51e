"""Where a local Spark JVM's own output goes: a log file, not the user's terminal.

A local JVM prints its start-up chatter to the stderr it inherits (the JDK's "Using incubator
modules", log4j's set-up lines, Hadoop's native-library warning), which no Spark or log4j
setting silences; a `lake` command's output is for the command's own outcome. So the JVM is
launched with its stderr on a log file (it keeps it for its life), and bound to the loopback
address, the only one a `local[*]` session needs, which also spares the "resolves to a loopback
address" warning. Job failures still reach the user: Spark raises them in Python.

The log is rotated when a JVM is launched, logging.handlers-style (`spark.log.1` the newest
of the older files): a running JVM holds its file open and writes to it as long as it lives,
so the size is checked, and the files shifted, only before the next one starts.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# Set by the subprocess runner for the entry script (entry.py): the file its JVM writes to.
SPARK_LOG_ENV = "LAKE_SPARK_LOG"
# A log past this size is set aside when the next JVM starts; this many older files are kept.
LOG_MAX_BYTES = 10_000_000
LOG_BACKUPS = 3


def rotate_log(log_file: Path, max_bytes: int = LOG_MAX_BYTES, backups: int = LOG_BACKUPS) -> None:
    """Set `log_file` aside as `<name>.1` once it holds `max_bytes` or more, shifting older
    files up (`.1` to `.2`, ...) and dropping the one past `backups`."""
    if not log_file.exists() or log_file.stat().st_size < max_bytes:
        return
    older = [log_file.with_name(f"{log_file.name}.{n}") for n in range(backups + 1)]
    older[0] = log_file
    older[-1].unlink(missing_ok=True)
    for n in range(backups - 1, -1, -1):
        if older[n].exists():
            older[n].replace(older[n + 1])


@contextmanager
def local_jvm_output(
    log_file: Path | None, max_bytes: int = LOG_MAX_BYTES, backups: int = LOG_BACKUPS
) -> Iterator[None]:
    """Launch a local JVM inside this block: bound to 127.0.0.1 (unless SPARK_LOCAL_IP says
    otherwise) and, with `log_file`, writing its stderr there (appended, after `rotate_log`)."""
    previous_ip = os.environ.get("SPARK_LOCAL_IP")
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    saved = None
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        rotate_log(log_file, max_bytes, backups)
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
