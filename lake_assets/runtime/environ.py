"""What a local SparkSession's launch reads from the environment (PYSPARK_PYTHON for its Python
workers, SPARK_SUBMIT_OPTS for its JVM), set for that launch alone."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def unless_set(name: str, value: str | None) -> Iterator[None]:
    """`name` holds `value` around the body, unless whoever set it already keeps it (or there is
    no `value`). Scoped, so that a process started later (a job under another environment,
    .venv-spark35) does not inherit it."""
    if value is None or name in os.environ:
        yield
        return
    os.environ[name] = value
    try:
        yield
    finally:
        os.environ.pop(name, None)
