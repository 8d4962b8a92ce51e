"""Raw days in Glacier: a backfill refuses them before any compute, `lake restore` brings them
back, and the same backfill then publishes every row (the aws profile on the moto server, its
Spark jobs on the fake EMR Serverless)."""

from __future__ import annotations

import boto3
import pytest
from aws_lake import REGION
from runbook_harness import run_runbook

from lake_assets.archive.cli import describe
from lake_assets.archive.model import Thaw, thaw_of
from lake_assets.archive.service import restore_days
from lake_assets.cli.main import main
from resources.storage import ArchivedObjectError, ObjectInfo

CARDS = "card_transactions"
DAY = "2025-01-02"


def archive(s3, bucket: str, prefix: str, storage_class: str = "GLACIER") -> list[str]:
    """What the bucket's lifecycle rule does after 90 days: the objects move to Glacier
    Flexible Retrieval (or another archive class), bytes and ETag unchanged."""
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]]
    for key in keys:
        s3.copy_object(
            Bucket=bucket,
            Key=key,
            CopySource={"Bucket": bucket, "Key": key},
            StorageClass=storage_class,
            MetadataDirective="COPY",
        )
    return keys


def test_a_backfill_of_archived_days_waits_for_lake_restore_as_the_runbook_says(emr_lake, tmp_path):
    emr_lake.deliver_cards(DAY, [1, 2, 3])
    assert emr_lake.profile(CARDS, DAY).success
    s3 = boto3.client("s3", endpoint_url=emr_lake.emr.moto_endpoint, region_name=REGION)
    bucket = emr_lake.settings.aws.bucket
    archived = archive(s3, bucket, f"raw/source={CARDS}/")
    assert len(archived) == 1
    with pytest.raises(ArchivedObjectError, match="lake restore"):
        emr_lake.storage.get_bytes(archived[0])

    (tmp_path / "home").mkdir()
    env = {**emr_lake.env, "DAGSTER_HOME": str(tmp_path / "home")}
    variables = {"SOURCE": CARDS, "FIRST": DAY, "LAST": DAY}
    refused, asked, ready, published = run_runbook("restore-from-glacier", variables, env)

    assert archived[0] in refused  # the refusal names the files
    assert "1 raw files: 0 available, 0 archived, 1 restoring" in asked
    assert "Bulk tier: ready within about 12 hours" in asked
    assert "1 restored" in ready  # moto restores at once; S3 would say restoring for hours
    restored = s3.head_object(Bucket=bucket, Key=archived[0])
    assert (
        restored["StorageClass"] == "GLACIER" and 'ongoing-request="false"' in (restored["Restore"])
    )
    # The refused backfill submitted nothing: the one job run is the backfill after the restore.
    assert [r.state for r in emr_lake.emr.runs] == ["SUCCESS"], published
    assert emr_lake.catalog.current(CARDS, DAY).row_count == 3


def test_a_deep_archive_restore_cannot_be_expedited(emr_lake):
    emr_lake.deliver_cards(DAY, [1])
    assert emr_lake.profile(CARDS, DAY).success
    s3 = boto3.client("s3", endpoint_url=emr_lake.emr.moto_endpoint, region_name=REGION)
    key = archive(s3, emr_lake.settings.aws.bucket, f"raw/source={CARDS}/", "DEEP_ARCHIVE")[0]
    source = emr_lake.settings.source(CARDS)
    with pytest.raises(ValueError, match="DEEP_ARCHIVE cannot be restored with the Expedited"):
        restore_days(emr_lake.storage, emr_lake.registry, CARDS, source.event_time_field,
                     DAY, DAY, 7, "Expedited")  # fmt: skip
    thawing = restore_days(emr_lake.storage, emr_lake.registry, CARDS, source.event_time_field,
                           DAY, DAY, 7, "Bulk")  # fmt: skip
    assert thawing.requested == (key,) and thawing.ready_within_hours == 48
    assert "within about 48 hours" in describe(thawing)


@pytest.mark.parametrize(
    ("storage_class", "restore", "state"),
    [
        ("STANDARD", None, Thaw.AVAILABLE),
        ("GLACIER_IR", None, Thaw.AVAILABLE),
        ("GLACIER", None, Thaw.ARCHIVED),
        ("DEEP_ARCHIVE", 'ongoing-request="true"', Thaw.RESTORING),
        ("GLACIER", 'ongoing-request="false", expiry-date="Fri, 11 Dec 2026 00:00:00 GMT"',
         Thaw.RESTORED),
    ],
)  # fmt: skip
def test_the_state_of_an_object_is_read_from_its_class_and_restore_header(
    storage_class, restore, state
):
    info = ObjectInfo("raw/x", 1, "e", None, storage_class, restore)
    assert thaw_of(info) is state


def test_lake_restore_on_a_local_lake_has_nothing_to_restore(lake, monkeypatch, capsys):
    lake.deliver_cards(DAY, [1, 2])
    assert lake.profile(CARDS, DAY).success
    for name, value in lake.env.items():
        monkeypatch.setenv(name, value)
    assert main(["restore", "--source", CARDS, "--date", DAY]) == 0
    out = capsys.readouterr().out
    assert f"{CARDS} {DAY}..{DAY}: 1 raw files: 1 available, 0 archived" in out
    assert f"ready: lake promote --source {CARDS} --date {DAY} --to {DAY}" in out
    with pytest.raises(SystemExit):  # S3's three tiers only
        main(["restore", "--source", CARDS, "--date", DAY, "--tier", "Fast"])
    assert "invalid choice: 'Fast'" in capsys.readouterr().err
