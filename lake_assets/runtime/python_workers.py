"""Which Python runs a Spark job's Python workers: a pipeline's hooks (lake_assets/pipelines/).

PySpark starts its workers with PYSPARK_PYTHON, read once when the SparkContext starts, else
with `python3` from PATH, which locally is rarely the environment that holds the job's code and
pyarrow. EMR's image sets it (deploy/emr/Dockerfile); everywhere else a job's session gets the
interpreter that runs the job.
"""

from __future__ import annotations

import sys
from contextlib import AbstractContextManager

from lake_assets.runtime.environ import unless_set

PYSPARK_PYTHON = "PYSPARK_PYTHON"


def workers_on_this_python() -> AbstractContextManager[None]:
    """Around the creation of a SparkSession: its Python workers run this interpreter, unless
    PYSPARK_PYTHON says otherwise."""
    return unless_set(PYSPARK_PYTHON, sys.executable)
