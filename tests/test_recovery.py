"""Disaster recovery (lake_assets/recovery/, ADR-0149): the catalog exported into the bucket, and
a lake opened from a replica of the bucket whose replication may be behind. Locally on folders;
on the aws profile through S3 and Glue on the moto server, the test playing S3 replication into a
second region's bucket. The runbook (docs/runbooks/disaster-recovery.md) runs in
tests/test_runbooks.py on the demo lake."""

from __future__ import annotations

import io
import shutil
from datetime import UTC, datetime, timedelta

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from aws_lake import open_aws_lake

from lake_assets.cli.main import main
from lake_assets.recovery.model import ALREADY, KEPT, LOST, RESTORE, ExportError, parse_export
from lake_assets.recovery.service import export_catalog, export_keys, recovery_plan, restore
from lake_assets.settings import load_settings
from lake_assets.tables.locations import published_location
from lake_assets.tables.publish import expire_superseded, version_of
from lake_assets.tables.publish import publish as tables_publish
from lake_assets.tables.reader import read_version_arrow
from lake_assets.tables.rollback import kept_versions
from resources import build_resources
from resources.catalog import PublishedPartition, SupersededLocation

DAY, NEXT = "2026-03-02", "2026-03-03"
NOW = datetime(2026, 3, 4, 12, tzinfo=UTC)
WEEK = timedelta(days=7)


def publish(stores, dataset, partition, run_id, amounts, published_at: datetime = NOW):
    """A version as a job leaves it (a Parquet file), published as every writer publishes."""
    storage, catalog = stores["storage"], stores["catalog"]
    location = published_location(dataset, run_id, partition)
    buffer = io.BytesIO()
    pq.write_table(pa.table({"amount": amounts}), buffer)
    storage.put_bytes(location + "part-0.parquet", buffer.getvalue())
    version = PublishedPartition(
        dataset, partition, location, run_id, published_at.isoformat(), len(amounts), "v1",
        {"amount": "double"},
    )  # fmt: skip
    tables_publish(
        catalog,
        storage,
        version,
        ["part-0.parquet"],
        version_of(catalog.current(dataset, partition)),
    )
    return version


def amounts(stores, dataset: str, partition: str) -> list[float]:
    version = stores["catalog"].current(dataset, partition)
    return read_version_arrow(stores["storage"], version).column("amount").to_pylist()


def local_stores(root):
    settings = load_settings({"LAKE_ROOT": str(root)})
    return settings, build_resources(settings)


def test_a_replica_behind_restores_each_partition_at_its_newest_complete_version(tmp_path):
    _, primary = local_stores(tmp_path / "lake")
    publish(primary, "cards", DAY, "r1", [1.0, 2.0])
    publish(primary, "cards", NEXT, "r2", [3.0])
    export_catalog(primary["catalog"], primary["storage"], NOW, WEEK)
    newer = publish(primary, "cards", DAY, "r3", [1.0, 2.0, 5.0])
    export_catalog(primary["catalog"], primary["storage"], NOW + timedelta(minutes=15), WEEK)
    late = publish(primary, "cards", NEXT, "r4", [4.0], NOW + timedelta(minutes=20))
    new_table = publish(primary, "fx", DAY, "r5", [1.1], NOW + timedelta(minutes=25))

    # The replica: every object but r3's data file, still in flight; its catalog lost.
    shutil.copytree(
        tmp_path / "lake", tmp_path / "replica", ignore=shutil.ignore_patterns("_state")
    )
    (tmp_path / "replica" / newer.location / "part-0.parquet").unlink()
    _, replica = local_stores(tmp_path / "replica")

    plan = recovery_plan(replica["catalog"], replica["storage"])
    outcome = {(p.dataset, p.partition): p for p in plan.partitions}
    assert plan.export.key == export_keys(replica["storage"])[0]
    day, next_day = outcome[("cards", DAY)], outcome[("cards", NEXT)]
    assert (day.outcome, day.version.run_id, day.older) == (RESTORE, "r1", True)
    assert "part-0.parquet" in day.missing[0] and day.from_export != plan.export.key
    assert (next_day.outcome, next_day.version.run_id, next_day.older) == (RESTORE, "r2", False)
    assert replica["catalog"].current("cards", DAY) is None  # a check changes nothing
    # Published after the newest export: named, to rebuild from raw, not restored.
    assert [p.run_id for p in plan.published_after] == [late.run_id, new_table.run_id]

    assert restore(replica["catalog"], plan) == 2
    assert amounts(replica, "cards", DAY) == [1.0, 2.0]  # r1, readable: no pointer ahead of files
    assert amounts(replica, "cards", NEXT) == [3.0]
    again = recovery_plan(replica["catalog"], replica["storage"])
    assert {p.outcome for p in again.partitions} == {ALREADY}


def test_a_partition_no_export_can_restore_is_lost_and_fails_the_command(tmp_path, capsys):
    _, primary = local_stores(tmp_path / "lake")
    publish(primary, "cards", DAY, "r0", [0.5])
    publish(primary, "cards", DAY, "r1", [1.0])
    gone = publish(primary, "cards", NEXT, "r2", [2.0])
    export_catalog(primary["catalog"], primary["storage"], datetime.now(UTC), WEEK)
    shutil.copytree(
        tmp_path / "lake", tmp_path / "replica", ignore=shutil.ignore_patterns("_state")
    )
    (tmp_path / "replica" / gone.location / "part-0.parquet").unlink()

    env = {"LAKE_ROOT": str(tmp_path / "replica")}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        assert main(["dr", "restore"]) == 1
    out = capsys.readouterr().out
    assert f"LOST cards[{NEXT}]" in out and "part-0.parquet" in out
    assert "restored 1 partitions" in out and "1 superseded versions kept" in out
    _, replica = local_stores(tmp_path / "replica")
    assert amounts(replica, "cards", DAY) == [1.0]
    # r0 is kept as the lost catalog kept it: a rollback to it still works after the failover.
    kept = kept_versions(replica["catalog"], replica["storage"], "cards", DAY)
    assert [v.entry.run_id for v in kept] == ["r1", "r0"]
    assert replica["catalog"].current("cards", NEXT) is None


@pytest.fixture(params=["local", "aws"])
def stores(request, tmp_path):
    """The lake's stores on the local profile (SQLite catalog) and on aws (Glue, on moto)."""
    if request.param == "local":
        return local_stores(tmp_path / "lake")[1]
    return open_aws_lake(request.getfixturevalue("aws_endpoint"), tmp_path / "lake")[1]


def test_a_catalog_at_another_version_is_kept_unless_replace_and_retention_keeps_it(stores):
    publish(stores, "cards", DAY, "r1", [1.0])
    export_catalog(stores["catalog"], stores["storage"], NOW, WEEK)
    bad = publish(stores, "cards", DAY, "r2", [9.0])  # published after the export

    [kept] = recovery_plan(stores["catalog"], stores["storage"]).partitions
    assert (kept.outcome, kept.replaces, kept.version.run_id) == (KEPT, "r2", "r1")
    plan = recovery_plan(stores["catalog"], stores["storage"], replace=True)
    assert restore(stores["catalog"], plan) == 1
    assert amounts(stores, "cards", DAY) == [1.0]
    # r1 is current again, so off the superseded list; r2, which it replaced, is on it. Before,
    # r1 stayed listed and retention deleted the folder the restored pointer names.
    listed = stores["catalog"].superseded(older_than=datetime.now(UTC) + WEEK)
    assert [entry.location for entry in listed] == [bad.location]
    later = datetime.now(UTC) + WEEK
    assert expire_superseded(stores["catalog"], stores["storage"], 0, now=later) == [bad.location]
    assert amounts(stores, "cards", DAY) == [1.0]


def test_a_restore_never_lists_the_version_a_kept_partition_points_at(stores):
    """The export lists r1 as superseded; since, r1 was made current again (as a rollback
    does). The restore keeps the partition (no --replace) and lists only what is not current."""
    first = publish(stores, "cards", DAY, "r1", [1.0])
    second = publish(stores, "cards", DAY, "r2", [2.0])
    export_catalog(stores["catalog"], stores["storage"], NOW, WEEK)
    publish(stores, "cards", DAY, "r1", [1.0])
    plan = recovery_plan(stores["catalog"], stores["storage"])
    assert [p.outcome for p in plan.partitions] == [KEPT]
    restore(stores["catalog"], plan)
    assert stores["catalog"].current("cards", DAY).location == first.location
    listed = stores["catalog"].superseded(older_than=datetime.now(UTC) + WEEK)
    assert [entry.location for entry in listed] == [second.location]


def test_retention_never_deletes_the_version_a_pointer_names(stores):
    """A version listed as superseded while it is current (a publish that lost a race on a
    catalog whose switch cannot be conditional leaves one so) is forgotten, not deleted."""
    current = publish(stores, "cards", DAY, "r1", [1.0])
    stores["catalog"].keep_superseded(
        [SupersededLocation("cards", DAY, current.location, NOW.isoformat())]
    )
    later = datetime.now(UTC) + WEEK
    assert expire_superseded(stores["catalog"], stores["storage"], 0, now=later) == []
    assert amounts(stores, "cards", DAY) == [1.0]
    assert stores["catalog"].superseded(older_than=later) == []


def test_exports_past_the_retention_are_removed_and_a_broken_one_is_named(tmp_path):
    _, stores = local_stores(tmp_path / "lake")
    publish(stores, "cards", DAY, "r1", [1.0])
    old, _, _ = export_catalog(stores["catalog"], stores["storage"], NOW - 2 * WEEK, WEEK)
    kept, count, removed = export_catalog(
        stores["catalog"], stores["storage"], NOW - WEEK / 2, WEEK
    )
    assert (count, removed) == (1, 1)  # the first, past the retention
    newest, _, removed = export_catalog(stores["catalog"], stores["storage"], NOW, WEEK)
    assert removed == 0
    assert export_keys(stores["storage"]) == [newest, kept]
    assert old not in export_keys(stores["storage"])

    with pytest.raises(ExportError, match=r"x\.json: field 'exported_at'"):
        parse_export("x.json", b'{"format": 1, "exported_at": "yesterday", "partitions": []}')
    with pytest.raises(ExportError, match=r"partitions\[0\] has unknown fields \['rows'\]"):
        parse_export("x.json", b'{"format": 1, "exported_at": "2026-03-04T00:00:00+00:00", '
                               b'"partitions": [{"rows": 1}]}')  # fmt: skip


def test_a_lake_opened_in_the_recovery_region_from_the_replicated_bucket(aws_endpoint, tmp_path):
    """The path production takes: the export through S3, the replica bucket in a second region
    (S3 replication played by the test, which copies what replication copies), and `lake dr
    restore` run where the DR deployment runs it, rebuilding that region's Glue catalog."""
    _, primary, _ = open_aws_lake(aws_endpoint, tmp_path / "primary")
    publish(primary, "cards", DAY, "r0", [9.0])
    publish(primary, "cards", DAY, "r1", [1.0, 2.0])
    publish(primary, "cards", NEXT, "r2", [3.0])
    at = datetime.now(UTC)
    export_catalog(primary["catalog"], primary["storage"], at - 2 * WEEK, WEEK)
    _, _, removed = export_catalog(primary["catalog"], primary["storage"], at, WEEK)
    assert removed == 1  # the schedule's pruning, through S3

    dr_env: dict[str, str] = {}
    _, replica, _ = open_aws_lake(
        aws_endpoint, tmp_path / "dr", environ_out=dr_env, region="eu-central-1", bucket="lake-dr"
    )  # fmt: skip
    s3 = boto3.client("s3", endpoint_url=aws_endpoint, region_name="eu-central-1")
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket="lake"):
        for item in page.get("Contents", []):
            s3.copy_object(
                Bucket="lake-dr", Key=item["Key"], CopySource={"Bucket": "lake", "Key": item["Key"]}
            )
    glue_dr = boto3.client("glue", endpoint_url=aws_endpoint, region_name="eu-central-1")
    database = replica["settings"].aws.glue_database
    assert glue_dr.get_tables(DatabaseName=database)["TableList"] == []

    with pytest.MonkeyPatch.context() as patch:
        for name, value in dr_env.items():
            patch.setenv(name, value)
        assert main(["dr", "restore"]) == 0
        assert main(["dr", "check"]) == 0
    [table] = glue_dr.get_tables(DatabaseName=database)["TableList"]
    partitions = glue_dr.get_partitions(DatabaseName=database, TableName="cards")["Partitions"]
    assert sorted(p["StorageDescriptor"]["Location"] for p in partitions) == [
        f"s3://lake-dr/{published_location('cards', run, day)}"
        for run, day in (("r1", DAY), ("r2", NEXT))
    ]
    assert table["Name"] == "cards"
    assert amounts(replica, "cards", DAY) == [1.0, 2.0]
    assert amounts(replica, "cards", NEXT) == [3.0]
    assert LOST not in recovery_plan(replica["catalog"], replica["storage"]).counts()
    kept = kept_versions(replica["catalog"], replica["storage"], "cards", DAY)
    assert [v.entry.run_id for v in kept] == ["r1", "r0"]  # in the DR region's Glue table


def test_the_schedule_exports_through_the_asset_every_15_minutes(tmp_path):
    """What the webserver runs: the schedule's job materializes recovery/catalog_export, which
    writes the export with the catalog's partitions and says where."""
    from dagster import materialize

    from lake_assets.recovery.definitions import catalog_export, catalog_export_schedule

    settings, stores = local_stores(tmp_path / "lake")
    publish(stores, "cards", DAY, "r1", [1.0])
    result = materialize(
        [catalog_export],
        resources={k: stores[k] for k in ("settings", "storage", "catalog")},
    )
    [materialization] = result.asset_materializations_for_node("recovery__catalog_export")
    metadata = {k: v.value for k, v in materialization.metadata.items()}
    [key] = export_keys(stores["storage"])
    assert metadata["export"] == stores["storage"].uri(key) and metadata["partitions"] == 1
    [exported] = parse_export(key, stores["storage"].get_bytes(key)).partitions
    assert exported == stores["catalog"].current("cards", DAY)
    assert catalog_export_schedule.cron_schedule == "*/15 * * * *"
    assert catalog_export_schedule.job_name == "catalog_export"
