"""What each role must be granted, derived from the AWS calls the code makes (recorded by
tests/aws_calls.py in terraform/tests/aws_calls.json).

- An operation is authorised as "<prefix>:<Operation>", the prefix being the service's signing
  name in botocore's service model, except where AWS authorises it as another action
  (AUTHORISED_AS, from the Service Authorization Reference).
- Some calls need grants beyond their own action (ALSO_NEEDED): the lake key behind encrypted
  objects, queues, topics and the catalog; the execution role EMR Serverless is handed; the
  tags Pipes puts on every job run.
- The job's Spark reads and writes s3:// through Hadoop, not boto3, and EMR Serverless fetches
  the submitted code with the job's role: JOB_STORAGE states those S3 requests per zone.
- Dagster's S3 compute logs are written by dagster-aws, not the lake's code: COMPUTE_LOG_CALLS
  states its requests, checked against its source.
- A role may list every zone it reads, so that a missing object is NoSuchKey (404) and not
  AccessDenied (403), which is what S3 answers a caller that may not list: the code tells the
  two apart (resources/aws/s3.py `head`, Pipes waiting for its first message chunk).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aws_calls import AwsCall
from botocore.session import get_session

AUTHORISED_AS = {
    ("s3", "HeadObject"): "s3:GetObject",
    ("s3", "CopySource"): "s3:GetObject",  # the source of a copy, noted apart by aws_calls
    ("s3", "CopyObject"): "s3:PutObject",
    ("s3", "UploadPartCopy"): "s3:PutObject",  # the managed copy of large objects
    ("s3", "CreateMultipartUpload"): "s3:PutObject",
    ("s3", "UploadPart"): "s3:PutObject",
    ("s3", "CompleteMultipartUpload"): "s3:PutObject",
    ("s3", "DeleteObjects"): "s3:DeleteObject",  # checked per key
    ("s3", "ListObjectsV2"): "s3:ListBucket",
    ("sqs", "DeleteMessageBatch"): "sqs:DeleteMessage",  # checked per message
    ("cloudwatch", "PutMetricData"): "cloudwatch:PutMetricData",  # signed as "monitoring"
}

_KMS_READ = ("kms:Decrypt",)
_KMS_WRITE = ("kms:GenerateDataKey",)
# Parts of a multipart upload, and messages of an encrypted topic, are encrypted under a data
# key that is generated once and decrypted for each use.
_KMS_DATA_KEY = ("kms:Decrypt", "kms:GenerateDataKey")
ALSO_NEEDED = {
    ("s3", "GetObject"): _KMS_READ,
    ("s3", "CopySource"): _KMS_READ,
    ("s3", "PutObject"): _KMS_WRITE,
    ("s3", "CopyObject"): _KMS_WRITE,
    ("s3", "UploadPartCopy"): _KMS_DATA_KEY,
    # The SDK aborts an upload that fails, in the zone it was writing to.
    ("s3", "CreateMultipartUpload"): (*_KMS_DATA_KEY, "s3:AbortMultipartUpload"),
    ("s3", "UploadPart"): _KMS_DATA_KEY,
    ("s3", "CompleteMultipartUpload"): _KMS_DATA_KEY,
    ("sqs", "ReceiveMessage"): _KMS_READ,
    ("sns", "Publish"): _KMS_DATA_KEY,
    # The pulled databases' secrets are encrypted with the lake key (terraform/secrets.tf).
    ("secretsmanager", "GetSecretValue"): _KMS_READ,
    # The job run gets the execution role, and tags (Pipes adds its own to every run), which
    # EMR Serverless authorises as TagResource on the new run.
    ("emr-serverless", "StartJobRun"): ("iam:PassRole", "emr-serverless:TagResource"),
}
# A definer view names its Definer, a role Glue and Lake Formation then act as: creating or
# replacing one passes that role (Lake Formation's "Prerequisites for creating views").
ROLE_ALSO_NEEDED = {
    ("view_definer", "glue", "CreateTable"): ("iam:PassRole",),
    ("view_definer", "glue", "UpdateTable"): ("iam:PassRole",),
}
# Every client of an SSE-KMS Data Catalog, reader or writer, needs all three (Glue developer
# guide, "Setting up encryption").
CATALOG_KMS = ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey")

_SPARK_READS = ("GetObject", "HeadObject", "ListObjectsV2")
_SPARK_WRITES = (
    *_SPARK_READS,
    "PutObject",
    "CreateMultipartUpload",
    "UploadPart",
    "CompleteMultipartUpload",
    "DeleteObjects",  # the committer's temporary files
)
# zone -> the S3 requests the job makes there outside boto3.
JOB_STORAGE = {
    "raw/": _SPARK_READS,  # promotion reads the payloads its plan names
    "curated/": _SPARK_WRITES,  # published versions read; run folders written and read back
    "quarantine/": _SPARK_WRITES,  # promotion's quarantined rows, in its run folder
    "_code/": ("GetObject",),  # EMR Serverless fetches the entry point and the code archive
}

# Dagster's compute logs (the production dagster.yaml: dagster-aws's S3ComputeLogManager under
# _dagster/compute-logs/), written by the runs and the daemon, both on the orchestrator's policy.
# The manager's client calls, by the method it calls on its client -> the S3 requests each makes
# (the managed transfers go multipart above their threshold); test_terraform.py reads the
# manager's source and fails on a method this does not name.
COMPUTE_LOGS_ZONE = "_dagster/"
COMPUTE_LOG_CALLS = {
    "upload_fileobj": (
        "PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload",
    ),
    "download_fileobj": ("HeadObject", "GetObject"),
    "head_object": ("HeadObject",),
    "list_objects": ("ListObjectsV2",),  # authorised as ListBucket, like V2
    "list_objects_v2": ("ListObjectsV2",),
    "delete_objects": ("DeleteObjects",),
    "generate_presigned_url": ("GetObject",),  # the link a browser follows, signed as a GET
}  # fmt: skip

S3_OBJECT_ACTIONS = {
    "s3:GetObject",
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:AbortMultipartUpload",
    "s3:RestoreObject",
}


@dataclass
class Grants:
    actions: set[str] = field(default_factory=set)
    objects: set[tuple[str, str]] = field(default_factory=set)  # (S3 object action, zone)
    listed: set[str] = field(default_factory=set)  # zones ListBucket must cover


def job_storage_calls() -> set[AwsCall]:
    return {
        AwsCall("job", "s3", operation, zone)
        for zone, operations in JOB_STORAGE.items()
        for operation in operations
    }


def iam_action(service: str, operation: str) -> str:
    if (service, operation) in AUTHORISED_AS:
        return AUTHORISED_AS[service, operation]
    model = get_session().get_service_model(service)
    return f"{model.signing_name or model.endpoint_prefix}:{operation}"


def compute_log_calls() -> set[AwsCall]:
    return {
        AwsCall("orchestrator", "s3", operation, COMPUTE_LOGS_ZONE)
        for operations in COMPUTE_LOG_CALLS.values()
        for operation in operations
    }


def grants_of(calls: set[AwsCall]) -> dict[str, Grants]:
    """role -> what it must be granted for `calls` and the job's S3 requests outside boto3."""
    grants: dict[str, Grants] = {}
    for call in calls | job_storage_calls() | compute_log_calls():
        role = grants.setdefault(call.role, Grants())
        actions = {iam_action(call.service, call.operation)}
        actions.update(ALSO_NEEDED.get((call.service, call.operation), ()))
        actions.update(ROLE_ALSO_NEEDED.get((call.role, call.service, call.operation), ()))
        if call.service == "glue":
            actions.update(CATALOG_KMS)
        role.actions |= actions
        role.objects |= {(action, call.zone) for action in actions & S3_OBJECT_ACTIONS}
        if actions & {"s3:ListBucket", "s3:GetObject"}:
            role.listed.add(call.zone)
    for role in grants.values():
        if role.listed:
            role.actions.add("s3:ListBucket")
    return grants
