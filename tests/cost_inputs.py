"""A tiny hand-made month of CUR line items and drivers with known answers, for the allocation
tests (tests/test_cost_allocation.py) and the registered-jobs table (tests/test_spark_jobs.py).

Month 2026-11, known teams a and b:
- application app1, hour 04: a vCPU line of $1.000000001 (1 vCPU-hour billed) and two runs of
  that hour, r1 (team a) 2700 vCPU-seconds and r2 (team b) 900: 75/25 to the nano.
- app1, hour 05: $2 for 2 vCPU-hours billed, one run r3 (team a) of 3600 vCPU-seconds: $1 to
  it, $1 idle pre-initialised capacity (kept as `shared`, or shared by the teams' EMR usage).
- app1, hour 06: $0.50, no run: all idle capacity, the same way.
- job run jr9 of app1: a job-level memory line of $0.40; its run (team b) recorded GB-seconds.
- bucket lake-bucket: $3 of standard storage, 200 bytes under dataset x (team a), 100 under y.
- workgroup analysts: $0.90, queries of team a (1 GB scanned) and team b (2 GB).
- DynamoDB: $0.10 tagged team a (by tag), $0.05 untagged (unallocated, untagged).
- Glue: $0.02 tagged with team ghost, no such team (unallocated, unknown team tag).
- EC2: $0.07 untagged, no method takes it (unallocated, no_method).
"""

from __future__ import annotations

from dataclasses import asdict

from lake_assets.cost.model import (
    CUR_COLUMNS,
    Driver,
    emr_application_arn,
    emr_job_run_arn,
    to_nanos,
)
from lake_assets.cost.pools import DRIVER_COLUMNS
from lake_assets.tables.frames import ddl

MONTH = "2026-11"
TEAMS = ["a", "b"]
APP = emr_application_arn("app1")
WORKGROUP = "arn:aws:athena:eu-west-1:000000000000:workgroup/analysts"
# The curated CUR's columns (the map of tags is not a field type of the lattice).
CUR_DDL = (
    ddl({k: v for k, v in CUR_COLUMNS.items() if k != "resource_tags"})
    + ", `resource_tags` map<string,string>, `cost_nanos` bigint, `usage_hour` string"
)


def line(number, product, usage_type, resource, usd, hour="2026-11-03T04", usage=1.0, **tags):
    return {
        "identity_line_item_id": f"L{number}",
        "bill_billing_period_start_date": None,
        "line_item_usage_start_date": None,
        "line_item_usage_end_date": None,
        "line_item_line_item_type": "Usage",
        "line_item_product_code": product,
        "line_item_resource_id": resource,
        "line_item_usage_type": usage_type,
        "line_item_operation": "",
        "line_item_usage_amount": usage,
        "line_item_unblended_cost": usd,
        "line_item_net_unblended_cost": usd,
        "cost_nanos": to_nanos(usd),
        "resource_tags": {f"user_{k}": v for k, v in tags.items()},
        "usage_hour": hour,
    }


LINES = [
    line(1, "ElasticMapReduce", "EU-vCPUHours", APP, 1.000000001, usage=1.0),
    line(2, "ElasticMapReduce", "EU-vCPUHours", APP, 2.0, hour="2026-11-03T05", usage=2.0),
    line(3, "ElasticMapReduce", "EU-vCPUHours", APP, 0.5, hour="2026-11-03T06", usage=0.5),
    line(4, "ElasticMapReduce", "EU-MemoryGBHours", emr_job_run_arn("app1", "jr9"), 0.4),
    line(5, "AmazonS3", "EU-TimedStorage-ByteHrs", "lake-bucket", 3.0, usage=300.0),
    line(6, "AmazonAthena", "EU-DataScannedInTB", WORKGROUP, 0.9),
    line(7, "AmazonDynamoDB", "EU-ReadRequestUnits", "orders-table", 0.1, team="a", pipeline="p1"),
    line(8, "AmazonDynamoDB", "EU-ReadRequestUnits", "loose-table", 0.05),
    line(9, "AWSGlue", "EU-Crawler-DPU-Hour", "crawler", 0.02, team="ghost"),
    line(10, "AmazonEC2", "EU-BoxUsage", "i-123", 0.07),
]


def driver(kind, key, resource, team, measure, value, hour="", dataset="", pipeline="p1"):
    return Driver(MONTH, kind, key, resource, hour, team, pipeline, dataset, measure, value, "test")


H4, H5 = "2026-11-03T04", "2026-11-03T05"
DRIVERS = [
    driver("run", "r1", emr_job_run_arn("app1", "x1"), "a", "vcpu_seconds", 2700.0, H4, "x"),
    driver("run", "r1", emr_job_run_arn("app1", "x1"), "a", "wall_clock_seconds", 60.0, H4, "x"),
    driver("run", "r2", "app1", "b", "vcpu_seconds", 900.0, H4, "y", pipeline="p2"),
    driver("run", "r3", emr_job_run_arn("app1", "x3"), "a", "vcpu_seconds", 3600.0, H5, "x"),
    driver("run", "r9", emr_job_run_arn("app1", "jr9"), "b", "memory_gb_seconds", 100.0, H4),
    driver("storage", "curated/x/", "lake-bucket", "a", "storage_bytes_standard", 200.0, "", "x"),
    driver("storage", "curated/y/", "lake-bucket", "b", "storage_bytes_standard", 100.0, "", "y"),
    driver("query", "q1", "analysts", "a", "bytes_scanned", 1e9),
    driver("query", "q2", "analysts", "b", "bytes_scanned", 2e9),
]


def cur_frame(spark, lines=LINES):
    return spark.createDataFrame(lines, CUR_DDL)


def driver_frame(spark, drivers=DRIVERS):
    return spark.createDataFrame([asdict(d) for d in drivers], ddl(DRIVER_COLUMNS))


def write_inputs(spark, folder) -> tuple[list[str], list[str]]:
    """The month's CUR and drivers as Parquet under `folder`: (CUR URIs, driver URIs)."""
    cur, drivers = f"{folder}/cur", f"{folder}/drivers"
    cur_frame(spark).coalesce(1).write.parquet(cur)
    driver_frame(spark).coalesce(1).write.parquet(drivers)
    return [cur], [drivers]
