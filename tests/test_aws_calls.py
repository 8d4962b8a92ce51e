"""The recorder of the code's AWS calls (tests/aws_calls.py) and the grants derived from them
(tests/iam_grants.py), against the moto server."""

from __future__ import annotations

from datetime import date

import boto3
import pytest
from aws_calls import (
    RECORD_COMMAND,
    REPO,
    AwsCall,
    call_name,
    load_recording,
    recording_apart,
    rerecorded,
    write_recording,
)
from iam_grants import COMPUTE_LOGS_ZONE, grants_of

from resources.aws.dynamo_registry import DynamoRegistryStore
from resources.aws.s3 import S3Storage

REGION = "eu-west-1"
BUCKET = "lake-calls"


@pytest.fixture
def bucket(aws_endpoint):
    s3 = boto3.client("s3", endpoint_url=aws_endpoint, region_name=REGION)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    return s3


def test_the_codes_calls_are_recorded_and_the_tests_own_are_not(aws_endpoint, bucket):
    with recording_apart() as recorder:
        storage = S3Storage(BUCKET, "lake", endpoint_url=aws_endpoint, region=REGION)
        storage.put_bytes("raw/source=a/x.json", b"{}")
        # The test's own client, and the test calling the code's client directly: not the code.
        bucket.list_objects_v2(Bucket=BUCKET)
        storage._s3.list_objects_v2(Bucket=BUCKET)
        # Tables are Terraform's in production: creating them here is no call of the code's.
        registry = DynamoRegistryStore.create_tables(
            "registry", "files", endpoint_url=aws_endpoint, region=REGION
        )
        registry.raw_files("a")
    assert recorder.seen == {
        AwsCall("orchestrator", "s3", "PutObject", "raw/"),  # below the storage's root "lake/"
        AwsCall("orchestrator", "s3", "HeadObject", "raw/"),
        AwsCall("orchestrator", "dynamodb", "Query"),
    }


def test_a_client_the_job_entry_point_builds_makes_the_jobs_calls(aws_endpoint, bucket):
    # Code compiled as lake_assets/runtime/entry.py stands for the job process's entry point.
    entry = str(REPO / "lake_assets" / "runtime" / "entry.py")
    job_code = (
        "s3 = boto3.client('s3', endpoint_url=endpoint, region_name=region)\n"
        "s3.put_object(Bucket=bucket, Key='_pipes/session/1.json', Body=b'{}')\n"
    )
    scope = {"boto3": boto3, "endpoint": aws_endpoint, "region": REGION, "bucket": BUCKET}
    with recording_apart() as recorder:
        exec(compile(job_code, entry, "exec"), scope)
        scope["s3"].list_objects_v2(Bucket=BUCKET)  # the test's call on it: not recorded
    assert recorder.seen == {AwsCall("job", "s3", "PutObject", "_pipes/")}


def test_the_trail_readers_calls_are_on_the_access_log_buckets_zone(aws_endpoint, bucket):
    """The CloudTrail trail's files are in the access-log bucket, not the lake's (ADR-0157):
    its reader's calls are noted in that bucket's zone, and granted there."""
    from resources.aws.cloudtrail import CloudTrailFiles

    day = "cloudtrail/AWSLogs/123456789012/CloudTrail/eu-west-1/2026/12/01/"
    bucket.put_object(Bucket=BUCKET, Key=f"{day}a.json.gz", Body=b"")
    with recording_apart() as recorder:
        trail = CloudTrailFiles(BUCKET, "cloudtrail", endpoint_url=aws_endpoint, region=REGION)
        assert [f.key for f in trail.files([date(2026, 12, 1)])] == [f"{day}a.json.gz"]
    assert recorder.seen == {
        AwsCall("orchestrator", "s3", "ListObjectsV2", "logs:cloudtrail/"),
        AwsCall("orchestrator", "s3", "GetObject", "logs:cloudtrail/"),
    }
    grants = grants_of(recorder.seen)["orchestrator"]
    assert ("s3:GetObject", "logs:cloudtrail/") in grants.objects
    assert "logs:cloudtrail/" in grants.listed


def test_calls_made_while_lake_deploy_uploads_the_code_are_the_deployers(aws_endpoint, bucket):
    """CI deploys with a role of its own (ADR-0143): whoever built the client, what
    `deploy_code` calls is the deployer's; checking the code before a submission is not."""
    from lake_assets.runtime.deploy import deploy_code, require_deployed_code

    storage = S3Storage(BUCKET, "lake", endpoint_url=aws_endpoint, region=REGION)
    with recording_apart() as recorder:
        deploy_code(storage)
        require_deployed_code(storage, "promote")
    roles = {(call.role, call.operation) for call in recorder.seen}
    assert ("deployer", "PutObject") in roles
    assert ("orchestrator", "PutObject") not in roles
    assert {call.role for call in recorder.seen if call.operation == "HeadObject"} == {
        "deployer",
        "orchestrator",
    }
    assert {call.zone for call in recorder.seen} == {"_code/"}


def test_a_copy_is_recorded_as_a_write_and_a_read_of_its_source(aws_endpoint, bucket):
    storage = S3Storage(BUCKET, endpoint_url=aws_endpoint, region=REGION)
    storage.put_bytes("raw/source=a/x.json", b"{}")
    with recording_apart() as recorder:
        storage.copy("raw/source=a/x.json", "dead-letter/source=a/x.json")
    assert {c for c in recorder.seen if c.operation != "HeadObject"} == {
        AwsCall("orchestrator", "s3", "CopyObject", "dead-letter/"),
        AwsCall("orchestrator", "s3", "CopySource", "raw/"),
    }


def test_a_call_outside_the_recording_fails_the_test_with_how_to_re_record(aws_endpoint, bucket):
    with recording_apart(expected=set()) as recorder:
        S3Storage(BUCKET, endpoint_url=aws_endpoint, region=REGION).head("raw/missing.json")
    with pytest.raises(pytest.fail.Exception) as failure:
        recorder.fail_on_unrecorded()
    assert "orchestrator: s3 HeadObject on 'raw/'" in str(failure.value)
    assert RECORD_COMMAND in str(failure.value)
    recorder.fail_on_unrecorded()  # reported once


def test_the_recording_round_trips(tmp_path):
    calls = {
        AwsCall("orchestrator", "s3", "GetObject", "raw/"),
        AwsCall("orchestrator", "s3", "ListObjectsV2", ""),
        AwsCall("job", "glue", "GetTable"),
    }
    write_recording(calls, tmp_path / "calls.json")
    assert load_recording(tmp_path / "calls.json") == calls


def test_a_rerecording_keeps_a_call_no_test_made_unless_it_is_named_as_dropped():
    """The quarantine copy (ADR-0126): its test went away, and a new recording would have
    dropped the call and, with it, the grant production needs."""
    copy = AwsCall("orchestrator", "s3", "CopyObject", "quarantine/")
    glue = AwsCall("job", "glue", "GetTable")
    seen = {AwsCall("orchestrator", "s3", "GetObject", "raw/"), glue}
    calls, lost = rerecorded({copy, glue}, seen, dropped=set())
    assert (calls, lost) == (seen | {copy}, {copy})
    calls, lost = rerecorded({copy, glue}, seen, dropped={"orchestrator:s3:CopyObject:quarantine/"})
    assert (calls, lost) == (seen, set())
    assert call_name(glue) == "job:glue:GetTable"
    assert call_name(AwsCall("orchestrator", "s3", "ListObjectsV2", "")) == (
        "orchestrator:s3:ListObjectsV2:"
    )


def test_grants_follow_from_the_calls():
    grants = grants_of(
        {
            AwsCall("orchestrator", "s3", "HeadObject", "_code/"),
            AwsCall("orchestrator", "s3", "CreateMultipartUpload", "raw/"),
            AwsCall("orchestrator", "emr-serverless", "StartJobRun"),
            AwsCall("orchestrator", "sqs", "DeleteMessageBatch"),
            AwsCall("job", "s3", "GetObject", "_pipes/"),
        }
    )
    orchestrator = grants["orchestrator"]
    assert orchestrator.actions == {
        "s3:GetObject",  # HeadObject is authorised as GetObject
        "s3:ListBucket",  # where it reads, so that a missing object is a 404
        "s3:PutObject",
        "s3:AbortMultipartUpload",
        "kms:Decrypt",
        "kms:GenerateDataKey",
        "emr-serverless:StartJobRun",
        "emr-serverless:TagResource",
        "iam:PassRole",
        "sqs:DeleteMessage",
        "s3:DeleteObject",  # Dagster's compute logs, deleted with their run (COMPUTE_LOG_CALLS)
    }
    logs = {(a, z) for a, z in orchestrator.objects if z == COMPUTE_LOGS_ZONE}
    assert orchestrator.objects - logs == {
        ("s3:GetObject", "_code/"),
        ("s3:PutObject", "raw/"),
        ("s3:AbortMultipartUpload", "raw/"),
    }
    assert {a for a, _ in logs} == {
        "s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:DeleteObject"
    }  # fmt: skip
    assert orchestrator.listed == {"_code/", COMPUTE_LOGS_ZONE}
    # The job's Spark I/O and EMR's fetch of its code come from JOB_STORAGE.
    job = grants["job"]
    assert ("s3:GetObject", "_pipes/") in job.objects and ("s3:GetObject", "_code/") in job.objects
    assert ("s3:PutObject", "curated/") in job.objects and "raw/" in job.listed
