"""The CUR 2.0 generator and the CUR as a source of the lake (issue 16): a generated month's
shape and known answers, the bill of the lake's own drivers, the month's delivery chosen (a
restatement replaces, a re-delivery is not doubled), schema versions and errors, the contract,
and one month through Dagster (nano-dollars in Spark as in Python)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from cur_inputs import MONTH, costs_in_nanos, tiny_delivery
from dagster import materialize

from lake_assets.cost.cur_assets import CONTRACT, CUR_ASSET, cur_definitions
from lake_assets.cost.cur_data import generate_month
from lake_assets.cost.cur_delivery import DeliveryManifest, delivery_objects, read_manifest
from lake_assets.cost.cur_run import land_delivery, landed_deliveries
from lake_assets.cost.cur_source import (
    CurNotDelivered,
    CurSchemaError,
    LandedDelivery,
    contract,
    decide,
    delivery_fields,
    schema_version,
)
from lake_assets.cost.model import (
    CUR_COLUMNS,
    CUR_DATASET,
    LOCAL_APPLICATION,
    Driver,
    emr_application_arn,
    emr_ids,
    to_nanos,
)
from lake_assets.cost.own_bill import bill_for_drivers
from lake_assets.tables.locations import CUR_EXPORT, CUR_EXPORT_PREFIX, CUR_SOURCE
from lake_assets.tables.manifest import read_manifest as read_table_manifest
from resources.aws.s3 import S3Storage
from resources.storage import LocalStorage

# --- the generator ---------------------------------------------------------------------------


def test_a_generated_month_is_deterministic_and_shaped_like_cur_2_0():
    world = generate_month(MONTH, runs=400, seed=7, lines_per_run=12)
    again = generate_month(MONTH, runs=400, seed=7, lines_per_run=12)
    assert world.cur.equals(again.cur) and world.drivers.equals(again.drivers)
    assert world.expected == again.expected
    assert not generate_month(MONTH, runs=400, seed=8, lines_per_run=12).cur.equals(world.cur)
    cur = world.cur
    assert cur.column_names == list(CUR_COLUMNS)
    assert world.drivers.column_names == list(Driver.__dataclass_fields__)
    assert set(pc.unique(cur["line_item_product_code"]).to_pylist()) == {
        "ElasticMapReduce", "AmazonS3", "AmazonAthena", "AmazonDynamoDB", "AWSGlue",
    }  # fmt: skip
    assert {
        "EU-EMR-SERVERLESS-vCPUHours", "EU-EMR-SERVERLESS-MemoryGBHours",
        "EU-EMR-SERVERLESS-StorageGBHours", "EU-TimedStorage-ByteHrs",
        "EU-TimedStorage-SIA-ByteHrs", "EU-TimedStorage-GlacierByteHrs", "EU-Requests-Tier1",
        "EU-Requests-Tier2", "EU-DataScannedInTB",
    } <= set(pc.unique(cur["line_item_usage_type"]).to_pylist())  # fmt: skip
    # EMR: job-level lines name a job run (lines_per_run each), application lines an application
    emr = cur.filter(pc.equal(cur["line_item_product_code"], "ElasticMapReduce"))
    named = [emr_ids(r) for r in emr["line_item_resource_id"].to_pylist()]
    runs = [run for _, run in named if run]
    assert set(np.unique(runs, return_counts=True)[1]) == {12}
    assert any(run is None for _, run in named)  # application-level: idle and shared capacity
    # tags: right, missing, a misspelt key, a team that does not exist
    tags = [dict(t) for t in cur["resource_tags"].to_pylist()]
    assert any(t.get("user_team") == "payments-data" for t in tags)
    assert any(not t for t in tags) and any("user_Team" in t for t in tags)
    assert any(t.get("user_team") == "paymnets-data" for t in tags)
    # money: whole nanos a line, and the known answers add up to the bill
    line_nanos = costs_in_nanos(cur)
    assert np.allclose(np.array(line_nanos) / 1e9, cur["line_item_unblended_cost"].to_numpy())
    assert abs(sum(world.expected.values()) - sum(line_nanos)) <= len(world.expected)
    # Athena by workgroup: exactly its lines
    athena = cur.filter(pc.match_substring(cur["line_item_resource_id"], "workgroup/fraud-ml"))
    assert world.expected["fraud-ml", "athena"] == sum(costs_in_nanos(athena))
    assert world.slack["athena"] == 0 and world.slack["emr_serverless"] > 0


def test_the_bill_grows_with_runs_times_lines_per_run():
    small = generate_month(MONTH, runs=2_000, seed=1, lines_per_run=30)
    job_level = pc.sum(pc.equal(small.cur["line_item_operation"], "JobRun")).as_py()
    assert 0.8 * 60_000 < job_level < 0.9 * 60_000  # 85% of the runs have job-level lines
    assert small.cur.num_rows - job_level < 10_000  # the rest: hourly and daily lines


def _driver(**row) -> dict:
    base = dict(month=MONTH, kind="run", key="r1", hour="2026-11-03T10", team="payments-data",
                pipeline="card_transactions", dataset="card_transactions", origin="spark-metrics")  # fmt: skip
    return {**base, **row}


def test_the_bill_of_local_runs_charges_what_they_used_at_list_price():
    app = emr_application_arn(LOCAL_APPLICATION)
    drivers = pa.Table.from_pylist(
        [
            _driver(resource=app, measure="vcpu_seconds", value=7200.0),
            _driver(key="r2", resource=app, measure="vcpu_seconds", value=3600.0),
            _driver(resource=app, measure="memory_gb_seconds", value=36_000.0),
            _driver(
                kind="storage",
                key="curated/card_transactions/",
                resource="lake",
                hour="",
                measure="storage_bytes_standard",
                value=2.0 * 2**30,
            ),  # fmt: skip
            _driver(resource="lake", hour="", measure="requests", value=100.0),
        ]
    )
    cur = bill_for_drivers(MONTH, drivers)
    by_usage = {}
    for line in cur.to_pylist():
        usage = by_usage.setdefault(line["line_item_usage_type"], [0.0, 0])
        usage[0] += line["line_item_usage_amount"]
        usage[1] += to_nanos(line["line_item_unblended_cost"])
    # 3 vCPU-hours and 10 GB-hours ran, plus the application's idle hour (1 vCPU, 4 GB)
    assert by_usage["EU-EMR-SERVERLESS-vCPUHours"] == [4.0, 4 * 52_624_000]
    assert by_usage["EU-EMR-SERVERLESS-MemoryGBHours"] == [14.0, 14 * 5_778_500]
    assert by_usage["EU-Requests-Tier1"] == [20.0, 20 * 5_000]
    assert by_usage["EU-Requests-Tier2"] == [80.0, 80 * 400]
    amount, cost = by_usage["EU-TimedStorage-ByteHrs"]
    assert amount == pytest.approx(2.0) and cost == pytest.approx(2 * 23_000_000, abs=30)
    assert [h.hour for h in cur["line_item_usage_start_date"].to_pylist()[:1]] == [10]


# --- the month's delivery --------------------------------------------------------------------


def _landed(delivery_id: str, at: str, missing: bool = False) -> LandedDelivery:
    manifest = DeliveryManifest(delivery_id, MONTH, CUR_EXPORT, at, ("data/a.parquet",))
    present = frozenset() if missing else frozenset({"data/a.parquet"})
    return LandedDelivery(manifest, f"raw/{delivery_id}/", present, f"raw/{delivery_id}/m")


def test_the_latest_complete_delivery_is_the_month():
    first, restated = _landed("d1", "2026-12-01T06:00"), _landed("d2", "2026-12-03T06:00")
    landing = _landed("d3", "2026-12-04T06:00", missing=True)  # its data files still landing
    chosen = decide(MONTH, [restated, first, landing], published_delivery="d1")
    assert (chosen.action, chosen.delivery.manifest.delivery_id) == ("publish", "d2")
    assert "restates 2026-11, replacing d1" in chosen.reason
    assert decide(MONTH, [first, restated], published_delivery="d2").action == "unchanged"
    with pytest.raises(CurNotDelivered, match="d3 lacks data/a.parquet"):
        decide(MONTH, [landing], published_delivery=None)


def test_a_redelivered_delivery_lands_once(tmp_path):
    storage = LocalStorage(tmp_path)
    _, objects = tiny_delivery("d-0001")
    assert land_delivery(storage, objects).new
    assert not land_delivery(storage, objects).new
    [landed] = landed_deliveries(storage, MONTH)
    assert landed.manifest.delivery_id == "d-0001" and not landed.missing
    assert len(list(storage.list("raw/source=cur/"))) == 2  # one data file, one manifest


def test_a_manifest_naming_its_files_by_uri_lands_them_by_their_key_under_the_export(tmp_path):
    """AWS's manifests name each data file by its whole URI in the export's bucket."""
    uri = f"s3://lake/{CUR_EXPORT_PREFIX}"
    _, objects = tiny_delivery("d-0001", files_at=uri)
    [manifest_key] = [k for k in objects if k.endswith(".json")]
    land_delivery(LocalStorage(tmp_path), objects)
    [landed] = landed_deliveries(LocalStorage(tmp_path), MONTH)
    assert landed.manifest.data_files == tuple(k for k in objects if k.startswith("data/"))
    assert not landed.missing
    _, elsewhere = tiny_delivery(
        "d-0001", files_at=uri.replace(f"/{CUR_EXPORT}/", "/another-export/")
    )
    with pytest.raises(ValueError, match=f"is not under the export's {CUR_EXPORT}/data/"):
        read_manifest(elsewhere[manifest_key], manifest_key)


def test_a_missing_or_unreadable_required_column_names_the_file_and_column():
    cur, _ = tiny_delivery("d-0001")
    file = "raw/source=cur/billing_period=2026-11/delivery=d-0001/data/x.parquet"
    with pytest.raises(CurSchemaError) as missing:
        delivery_fields([(file, cur.drop_columns(["line_item_usage_type"]).schema)])
    assert str(missing.value) == (
        f"CUR file {file}: column 'line_item_usage_type' is missing: the lake requires it"
    )
    text = cur.set_column(10, "line_item_unblended_cost", pa.array(["1.0"] * cur.num_rows))
    with pytest.raises(CurSchemaError, match="'line_item_unblended_cost' is string, which the "
                       "lake cannot read as double"):  # fmt: skip
        delivery_fields([(file, text.schema)])


def test_a_changed_cur_schema_is_a_new_registry_version():
    cur, _ = tiny_delivery("d-0001")
    now = datetime(2026, 12, 1, tzinfo=UTC)
    fields = delivery_fields([("f", cur.schema)])
    first, written = schema_version([], fields, now)
    assert first.source_id == CUR_SOURCE and [v.version for v in written] == [first.version]
    assert schema_version([first], fields, now) == (first, [])
    split = cur.append_column("split_line_item_split_cost", pa.array([0.0] * cur.num_rows))
    second, written = schema_version([first], delivery_fields([("f", split.schema)]), now)
    assert second.field_diff.added == {"split_line_item_split_cost": "double"}
    assert [(v.version, v.status) for v in written] == [
        (second.version, "ACTIVE"),
        (first.version, "DEPRECATED"),
    ]


def test_the_contract_holds_the_job_to_the_manifest():
    cur, objects = tiny_delivery("d-0001")
    manifest = read_manifest(next(v for k, v in objects.items() if k.endswith(".json")))
    sums = {c: pc.sum(cur[c]).as_py() for c in manifest.totals}
    good = {"rows": cur.num_rows, "nulls": {"identity_line_item_id": 0}, "sums": sums}
    assert contract(good, manifest).passed
    off = {
        **good,
        "sums": {**sums, "line_item_unblended_cost": sums["line_item_unblended_cost"] + 0.01},
    }
    nulls = {**good, "nulls": {"line_item_product_code": 2}}
    assert "line_item_unblended_cost sums to" in contract(off, manifest).metadata["failures"][0]
    assert contract(nulls, manifest).metadata["failures"] == ["2 null line_item_product_code"]


# --- through Dagster and on S3 ---------------------------------------------------------------


def _published_rows(storage, catalog) -> pa.Table:
    version = catalog.current(CUR_DATASET, MONTH)
    parts = []
    for name in read_table_manifest(storage, version)["files"]:
        with storage.local_path(version.location + name) as path:
            parts.append(pq.read_table(path))
    return pa.concat_tables(parts)


def _export(storage, objects) -> None:
    """AWS Data Exports writing a delivery over the month's previous one."""
    for key, body in sorted(objects.items(), key=lambda kv: kv[0].endswith(".json")):
        storage.put_bytes(CUR_EXPORT_PREFIX + key, body)


def test_a_month_of_cur_through_dagster_restated_once(local_lake, spark):
    settings, resources = local_lake
    storage, catalog = resources["storage"], resources["catalog"]
    asset = cur_definitions(settings).get_assets_def(CUR_ASSET)
    first_cur, first = tiny_delivery("d-0001", seed=1)
    _export(storage, first)
    run = materialize([asset], partition_key=MONTH, resources=resources)
    assert run.success
    [checked] = run.get_asset_check_evaluations()
    assert (checked.check_name, checked.passed) == (CONTRACT, True)
    rows = _published_rows(storage, catalog)
    assert rows.num_rows == first_cur.num_rows
    # nano-dollars rounded in Spark as model.to_nanos rounds them, half-nano ties included
    assert sorted(rows["cost_nanos"].to_pylist()) == sorted(costs_in_nanos(first_cur))
    # naive delivered times are UTC: the hour of each line is its start's, and stays so
    starts = sorted(
        t.strftime("%Y-%m-%dT%H") for t in first_cur["line_item_usage_start_date"].to_pylist()
    )
    assert sorted(rows["usage_hour"].to_pylist()) == starts
    assert set(rows["delivery_id"].to_pylist()) == {"d-0001"}
    [lineage] = [r for r in resources["lineage"].runs() if r.state == "COMPLETE"]
    assert lineage.job == "cost/cur" and lineage.partition == MONTH
    assert any(
        i.startswith("raw/source=cur/billing_period=2026-11/delivery=d-0001/data/")
        for i in lineage.inputs
    )
    assert f"{CUR_DATASET}[{MONTH}]" in lineage.outputs
    assert [v.source_id for v in resources["registry"].versions(CUR_SOURCE)] == [CUR_SOURCE]

    restated_cur, restated = tiny_delivery(
        "d-0002", seed=2, delivered_at="2026-12-03T06:00:00+00:00"
    )
    _export(storage, restated)
    second = materialize([asset], partition_key=MONTH, resources=resources)
    version = catalog.current(CUR_DATASET, MONTH)
    assert version.run_id == second.run_id
    assert _published_rows(storage, catalog).num_rows == restated_cur.num_rows  # not doubled
    superseded = catalog.superseded(older_than=datetime.now(UTC) + timedelta(days=1))
    assert [s.location.split("/")[2] for s in superseded] == [f"run={run.run_id}"]

    third = materialize([asset], partition_key=MONTH, resources=resources)  # nothing new
    [materialized] = third.get_asset_materialization_events()
    assert materialized.materialization.metadata["action"].value == "unchanged"
    assert catalog.current(CUR_DATASET, MONTH).run_id == second.run_id


def test_a_delivery_lands_in_s3_and_is_chosen(aws_endpoint):
    boto3.client("s3", endpoint_url=aws_endpoint, region_name="eu-west-1").create_bucket(
        Bucket="lake", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    storage = S3Storage("lake", endpoint_url=aws_endpoint, region="eu-west-1")
    cur, first = tiny_delivery("d-0001")
    restated = delivery_objects(cur, MONTH, "d-0002", "2026-12-03T06:00:00+00:00")
    assert land_delivery(storage, first).new and land_delivery(storage, restated).new
    assert not land_delivery(storage, restated).new
    landed = landed_deliveries(storage, MONTH)
    assert sorted(d.manifest.delivery_id for d in landed) == ["d-0001", "d-0002"]
    assert (
        decide(MONTH, landed, published_delivery="d-0001").delivery.manifest.delivery_id == "d-0002"
    )


def _attributed(world) -> dict[tuple[str, str], float]:
    """The known answers recomputed line by line from the bill and the drivers alone, by issue
    16's methods: what an allocation must find, so the world's drivers explain its bill."""
    drivers = world.drivers.to_pylist()
    by_resource: dict[tuple, list[dict]] = {}
    for d in drivers:
        by_resource.setdefault((d["resource"], d["hour"], d["measure"]), []).append(d)
    month_total: dict[tuple, float] = {}
    for d in drivers:
        month_total[d["resource"], d["measure"]] = (
            month_total.get((d["resource"], d["measure"]), 0) + d["value"]
        )
    measure_of = {"vCPUHours": "vcpu_seconds", "MemoryGBHours": "memory_gb_seconds"}
    owed: dict[tuple[str, str], float] = {}

    def owe(team, category, nanos):
        owed[team, category] = owed.get((team, category), 0.0) + nanos

    for line in world.cur.to_pylist():
        cost, resource = to_nanos(line["line_item_unblended_cost"]), line["line_item_resource_id"]
        usage, tags = line["line_item_usage_type"], dict(line["resource_tags"])
        hour = line["line_item_usage_start_date"].strftime("%Y-%m-%dT%H")
        if line["line_item_product_code"] == "ElasticMapReduce":
            if emr_ids(resource)[1]:  # a job run: whoever the lake recorded running it
                runs = by_resource.get((resource, "", "vcpu_seconds"), [])
                owe(runs[0]["team"] if runs else "unallocated", "emr_serverless", cost)
                continue
            shares = by_resource.get((resource, hour, measure_of[usage.rsplit("-", 1)[1]]), [])
            used = sum(d["value"] for d in shares) / 3600
            for d in shares:
                owe(
                    d["team"],
                    "emr_serverless",
                    cost * d["value"] / 3600 / line["line_item_usage_amount"],
                )
            owe("shared", "emr_serverless", cost * (1 - used / line["line_item_usage_amount"]))
        elif "TimedStorage" in usage or "Requests" in usage:
            category = "s3_storage" if "TimedStorage" in usage else "s3_requests"
            measure = next((m for u, m in (("SIA", "storage_bytes_standard_ia"), ("Glacier", "storage_bytes_glacier"),
                                          ("Storage", "storage_bytes_standard")) if u in usage), "requests")  # fmt: skip
            shares = [
                d
                for (r, _, m), ds in by_resource.items()
                if r == resource and m == measure
                for d in ds
            ]
            if not shares:
                owe("unallocated", category, cost)
            for d in shares:
                owe(d["team"], category, cost * d["value"] / month_total[resource, measure])
        else:  # Athena by workgroup, DynamoDB and Glue by tags
            category = {"AmazonAthena": "athena", "AmazonDynamoDB": "dynamodb", "AWSGlue": "glue"}
            team = tags.get("user_team")
            known = {
                "payments-data",
                "risk-analytics",
                "customer-data",
                "fraud-ml",
                "data-platform",
            }
            owe(
                team if team in known else "unallocated",
                category[line["line_item_product_code"]],
                cost,
            )
    return owed


def test_the_drivers_explain_the_bill_as_the_known_answers_say():
    world = generate_month(MONTH, runs=150, seed=11, lines_per_run=6)
    found = _attributed(world)
    assert found.keys() == world.expected.keys()
    for (team, category), nanos in world.expected.items():
        assert abs(found[team, category] - nanos) <= world.slack[category] + 1, (team, category)
