"""One SLO evaluation on the `aws` profile, against the moto server: the SLO tables published
through the Glue catalog into the lake bucket, the dashboard an S3 object served as a page, the
alerting state kept in the bucket."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import boto3
from aws_lake import REGION, open_aws_lake
from dagster import DagsterInstance

from lake_assets.slo.model import SLO_DATASETS, STATUS_DATASET
from lake_assets.slo.service import STATE_KEY, evaluate_lake
from lake_assets.slo.site import DASHBOARD_KEY
from lake_assets.tables.reader import read_version_arrow


def test_an_evaluation_on_aws_publishes_tables_dashboard_and_state(aws_endpoint, tmp_path):
    settings, resources, alerts = open_aws_lake(aws_endpoint, tmp_path)
    at = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    evaluation = evaluate_lake(settings, resources, DagsterInstance.ephemeral(), at, "run-1")

    # Nothing has run in this lake: every SLO is without data, nothing is sent.
    assert {m.state.status for m in evaluation.measured} == {"no_data"}
    assert evaluation.sent == () and alerts() == []

    glue = boto3.client("glue", endpoint_url=aws_endpoint, region_name=REGION)
    database = settings.aws.glue_database
    for dataset in SLO_DATASETS:
        table = glue.get_table(DatabaseName=database, Name=dataset)["Table"]
        assert table["StorageDescriptor"]["Location"].startswith("s3://lake/")
    status = glue.get_table(DatabaseName=database, Name=STATUS_DATASET)["Table"]
    types = {c["Name"]: c["Type"] for c in status["StorageDescriptor"]["Columns"]}
    assert types["burn_rates"] == "map<string,double>" and types["good"] == "bigint"
    rows = read_version_arrow(
        resources["storage"], resources["catalog"].current(STATUS_DATASET, "2026-12-02")
    ).to_pylist()
    assert sorted(r["slo_id"] for r in rows) == sorted(m.slo.id for m in evaluation.measured)

    s3 = boto3.client("s3", endpoint_url=aws_endpoint, region_name=REGION)
    page = s3.get_object(Bucket="lake", Key=DASHBOARD_KEY)
    assert page["ContentType"] == "text/html; charset=utf-8"
    assert b"Platform health" in page["Body"].read()
    state = json.loads(s3.get_object(Bucket="lake", Key=STATE_KEY)["Body"].read())
    assert state == {"open": {}, "closed": [], "digest_week": "2026-W49"}
