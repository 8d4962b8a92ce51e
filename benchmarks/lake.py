"""Setup shared by the Spark benchmarks: a SparkSession configured as the local profile's, and a
fresh local lake with payloads landed and profiled as the assets do. Setup is never timed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession

from benchmarks.timing import timed
from lake_assets.ingestion.intake import land_payload, pending_objects, profile_objects
from lake_assets.settings import load_settings
from resources import LOCAL_SPARK_CONFIG, build_resources
from resources.spark_runner import LocalSparkRunner

SOURCE = "card_transactions"


def spark_session() -> SparkSession:
    """The session the local profile's promotion runner uses, so both sides run under it."""
    spark = LocalSparkRunner(
        {**LOCAL_SPARK_CONFIG, "spark.app.name": "lakehouse-bench"}
    ).spark_session
    heap = spark.sparkContext._jvm.java.lang.Runtime.getRuntime().maxMemory() / 2**30
    print(f"  Spark {spark.version}, {spark.sparkContext.master}, driver heap {heap:.1f} GiB")
    return spark


def local_lake(root: Path, **environ: str) -> tuple[Any, dict[str, Any]]:
    """Settings and resources of a local lake under `root`; `environ` adds settings."""
    settings = load_settings({"LAKE_ROOT": str(root), **environ})
    return settings, build_resources(settings)


def land_and_profile(
    resources: dict[str, Any], source_id: str, payloads: Sequence[tuple[date, Path]]
) -> None:
    """Land each (ingest date, file) and profile them all, as the arrival sensor would."""
    storage, registry = resources["storage"], resources["registry"]
    source = resources["settings"].source(source_id)
    landing, _ = timed(
        lambda: [land_payload(storage, source, path, ingest_date=day) for day, path in payloads]
    )
    pending = pending_objects(storage, registry, source_id)
    profiling, summary = timed(
        lambda: profile_objects(storage, registry, resources["notifier"], source, pending)
    )
    if summary.count("PROFILED") != len(payloads):
        raise RuntimeError(
            f"setup: expected {len(payloads)} profiled payloads, got {summary.outcomes[:5]}"
        )
    print(
        f"  setup (not timed): landed {len(payloads)} payload(s) in {landing:.1f} s, "
        f"profiled in {profiling:.1f} s"
    )
