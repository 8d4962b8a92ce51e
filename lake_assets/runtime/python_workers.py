"""Which Python runs a Spark job's Python workers: a pipeline's hooks (lake_assets/pipelines/).

PySpark starts its workers with PYSPARK_PYTHON, read once when the SparkContext starts, else
with `python3` from PATH, which locally is rarely the environment that holds the job's code and
pyarrow. EMR's image sets it (deploy/emr/Dockerfile); everywhere else a job's session gets the
interpreter that runs the job.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

PYSPARK_PYTHON = "PYSPARK_PYTHON"


@contextmanager
def workers_on_this_python() -> Iterator[None]:
    """Around the creation of a SparkSession: its Python workers run this interpreter, unless
    PYSPARK_PYTHON says otherwise. Scoped, so that a process started later (a job under another
    environment, .venv-spark35) does not inherit it."""
    if PYSPARK_PYTHON in os.environ:
        yield
        return
    os.environ[PYSPARK_PYTHON] = sys.executable
    try:
        yield
    finally:
        os.environ.pop(PYSPARK_PYTHON, None)
