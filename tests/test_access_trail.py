"""`lake access reads`: who actually read what on AWS, from the CloudTrail trail's files
(lake_assets/access/trail.py, resources/aws/cloudtrail.py, ADR-0157).

moto does not run CloudTrail, so the files are written as CloudTrail delivers them: gzipped JSON
`{"Records": [...]}` under `<prefix>/AWSLogs/<account>/CloudTrail/<region>/<yyyy>/<mm>/<dd>/`,
SSE-KMS, the records as AWS writes them for S3 data events and Athena and Glue management events.
"""

from __future__ import annotations

import gzip
import json
from datetime import date

import boto3
import pytest

from lake_assets.access.trail import (
    MalformedRecord,
    TrailFile,
    TrailScope,
    reads_of,
    trail_reads,
)
from lake_assets.cli.main import main
from lake_assets.tables.locations import (
    compacted_location,
    dead_letter_key,
    published_location,
    published_month_location,
    quarantine_location,
    query_output_prefix,
    raw_key,
    run_output_prefix,
    written_quarantine_location,
)

ACCOUNT = "123456789012"  # moto's
REGION = "eu-west-1"
LAKE_BUCKET = "lake"
LOG_BUCKET = "lake-access-logs"
CURATED, VIEWS = "lakehouse_curated", "lakehouse_curated_views"  # settings' default database
ORCHESTRATOR = f"arn:aws:iam::{ACCOUNT}:role/lakehouse-orchestrator"
# The consumer roles of two access profiles (terraform/consumers.tf names them so).
CONSUMERS = f"arn:aws:iam::{ACCOUNT}:role/lakehouse-consumer-"
FRAUD, MARKETING = f"{CONSUMERS}fraud_analyst", f"{CONSUMERS}marketing_analyst"
ALICE = f"arn:aws:sts::{ACCOUNT}:assumed-role/lakehouse-consumer-fraud_analyst/alice@bank.example"
BOB = f"arn:aws:sts::{ACCOUNT}:assumed-role/lakehouse-consumer-marketing_analyst/bob@bank.example"
RUN = "3f9d2c1e-7a4b-4c55-9e0a-2b8f6d1c4e77"
PARQUET = (
    f"curated/card_transactions/run={RUN}/_zone=published/event_date=2026-11-30/"
    "part-00000-5e1f0a3c-0d7b-4a4e-8f6c-1b2d3e4f5a6b.c000.snappy.parquet"
)
MANIFEST = (
    f"curated/card_transactions/run={RUN}/_zone=published/event_date=2026-11-30/_manifest.json"
)
QUARANTINED = f"quarantine/card_transactions/event_date=2026-11-30/run={RUN}/part-00000.parquet"
CLI = "[aws-cli/2.15.30 md/awscrt#0.19.19 ua/2.0 os/linux#6.1.0 md/arch#x86_64 lang/python#3.11.8]"
CONSOLE = "AWS Internal"
QUERY = """\
SELECT c.segment, sum(t.amount) AS spend
FROM "card_transactions__marketing_analyst" t
JOIN "lakehouse_curated_views"."customers__marketing_analyst" c ON t.customer_id = c.customer_id
WHERE t.event_date = DATE '2026-11-30'
GROUP BY c.segment"""


def assumed_role(role: str, session: str, **more) -> dict:
    name = role.rsplit("/", 1)[-1]
    return {
        "type": "AssumedRole",
        "principalId": f"AROA3XFRBF23EXAMPLE:{session}",
        "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}/{session}",
        "accountId": ACCOUNT,
        "accessKeyId": "ASIA3XFRBF23EXAMPLE",
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": "AROA3XFRBF23EXAMPLE",
                "arn": role,
                "accountId": ACCOUNT,
                "userName": name,
            },
            "attributes": {"creationDate": "2026-12-01T08:55:02Z", "mfaAuthenticated": "false"},
        },
        **more,
    }


def _event(event_id: str, at: str, identity: dict, source: str, name: str, **more) -> dict:
    return {
        "eventVersion": "1.10",
        "userIdentity": identity,
        "eventTime": at,
        "eventSource": source,
        "eventName": name,
        "awsRegion": REGION,
        "requestID": f"REQ{event_id[:8].upper()}",
        "eventID": event_id,
        "eventType": "AwsApiCall",
        "recipientAccountId": ACCOUNT,
        "tlsDetails": {
            "tlsVersion": "TLSv1.3",
            "cipherSuite": "TLS_AES_128_GCM_SHA256",
            "clientProvidedHostHeader": f"{source.split('.')[0]}.{REGION}.amazonaws.com",
        },
        **more,
    }


def get_object(event_id, at, identity, bucket, key, ip, agent, **more) -> dict:
    """An S3 data event, as the trail's "Objects of the lake bucket" selector records it."""
    return _event(
        event_id,
        at,
        identity,
        "s3.amazonaws.com",
        "GetObject",
        sourceIPAddress=ip,
        userAgent=agent,
        requestParameters={
            "bucketName": bucket,
            "Host": f"{bucket}.s3.{REGION}.amazonaws.com",
            "key": key,
        },
        responseElements=None,
        additionalEventData={
            "SignatureVersion": "SigV4",
            "CipherSuite": "TLS_AES_128_GCM_SHA256",
            "bytesTransferredIn": 0,
            "AuthenticationMethod": "AuthHeader",
            "x-amz-id-2": "Jx0x2Q8yEXAMPLE=",
            "bytesTransferredOut": 48213,
        },
        readOnly=True,
        resources=[
            {"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{bucket}/{key}"},
            {"accountId": ACCOUNT, "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{bucket}"},
        ],
        managementEvent=False,
        eventCategory="Data",
        **more,
    )


def start_query(event_id, at, identity, sql, database, workgroup) -> dict:
    return _event(
        event_id,
        at,
        identity,
        "athena.amazonaws.com",
        "StartQueryExecution",
        sourceIPAddress="198.51.100.23",
        userAgent=CONSOLE,
        requestParameters={
            "queryString": sql,
            "clientRequestToken": "0c1f8d5e-3b1a-4b6e-9a77-52f1c0d4e8aa",
            "queryExecutionContext": {"catalog": "AwsDataCatalog", "database": database},
            "resultConfiguration": {"outputLocation": f"s3://lake-athena-results/{workgroup}/"},
            "workGroup": workgroup,
        },
        responseElements={"queryExecutionId": "a3c5e7f9-1b2d-4f6a-8c0e-2d4f6a8c0e12"},
        readOnly=False,
        managementEvent=True,
        eventCategory="Management",
        sessionCredentialFromConsole="true",
    )


def management(event_id, at, identity, source, name, request, ip, agent) -> dict:
    return _event(
        event_id,
        at,
        identity,
        source,
        name,
        sourceIPAddress=ip,
        userAgent=agent,
        requestParameters=request,
        responseElements=None,
        readOnly=True,
        managementEvent=True,
        eventCategory="Management",
    )


def delivered(*records: dict) -> bytes:
    return gzip.compress(json.dumps({"Records": list(records)}).encode())


def log_key(region: str, day: str, stamp: str, suffix: str) -> str:
    yyyy, mm, dd = day.split("-")
    return (
        f"cloudtrail/AWSLogs/{ACCOUNT}/CloudTrail/{region}/{yyyy}/{mm}/{dd}/"
        f"{ACCOUNT}_CloudTrail_{region}_{stamp}_{suffix}.json.gz"
    )


MORNING_FILE = log_key(REGION, "2026-12-01", "20261201T0935Z", "Xk2P9vQeTz4LmB7c")
MIDNIGHT_FILE = log_key(REGION, "2026-12-02", "20261202T0005Z", "Hq3W8nRyUv5KpD1f")
GLOBAL_FILE = log_key("us-east-1", "2026-12-01", "20261201T0940Z", "Zc6T1mWsBx8NjE4g")
CORRUPT_FILE = log_key(REGION, "2026-12-01", "20261201T1000Z", "Rt7Y2kLpAw9QhC3v")
EARLIER_FILE = log_key(REGION, "2026-11-30", "20261130T1200Z", "Mn4B6vCxZq1WsE8r")


def trail_files() -> dict[str, bytes]:
    alice, bob = (
        assumed_role(FRAUD, "alice@bank.example"),
        assumed_role(MARKETING, "bob@bank.example"),
    )
    orchestrator = assumed_role(ORCHESTRATOR, "4b8e2f1a9c3d4e5f8a7b6c5d4e3f2a1b")
    return {
        MORNING_FILE: delivered(
            get_object(
                "e6a1d0c4-0f1e-4b8e-9d4a-7c2b1a0f9e8d",
                "2026-12-01T09:30:05Z",
                orchestrator,
                LAKE_BUCKET,
                MANIFEST,
                "10.0.12.34",
                "[Boto3/1.35.0 md/Botocore#1.35.0 ua/2.0 os/linux lang/python#3.11.10]",
            ),
            get_object(
                "1b0c6f2e-8a3d-4c7e-b5f1-0d9e8c7b6a51",
                "2026-12-01T09:31:12Z",
                alice,
                LAKE_BUCKET,
                PARQUET,
                "10.20.30.40",
                CLI,
            ),
            get_object(
                "7d3e5f9a-2c4b-4e6d-8f1a-3b5c7d9e1f20",
                "2026-12-01T09:32:00Z",
                alice,
                "risk-team-reports",
                "reports/2026-11/exposure.csv",
                "10.20.30.40",
                CLI,
            ),
            start_query(
                "c4f2a8e6-5b1d-4f3a-9e7c-8d6b4a2f0e13",
                "2026-12-01T09:33:40Z",
                bob,
                QUERY,
                VIEWS,
                "marketing",
            ),
            management(
                "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
                "2026-12-01T09:33:41Z",
                assumed_role(MARKETING, "bob@bank.example", invokedBy="athena.amazonaws.com"),
                "glue.amazonaws.com",
                "GetTable",
                {
                    "catalogId": ACCOUNT,
                    "databaseName": VIEWS,
                    "name": "card_transactions__marketing_analyst",
                },
                "athena.amazonaws.com",
                "athena.amazonaws.com",
            ),
            management(
                "2e4f6a8c-0b1d-4e3f-9a5c-7e9b1d3f5a70",
                "2026-12-01T09:33:45Z",
                bob,
                "athena.amazonaws.com",
                "GetQueryExecution",
                {"queryExecutionId": "a3c5e7f9-1b2d-4f6a-8c0e-2d4f6a8c0e12"},
                "198.51.100.23",
                CONSOLE,
            ),
        ),
        # Delivered after midnight: the last minutes of Dec 1, and the first of Dec 2.
        MIDNIGHT_FILE: delivered(
            get_object(
                "5c7e9a1b-3d5f-4b7c-9e1a-3c5e7a9b1d2f",
                "2026-12-01T23:59:58Z",
                alice,
                LAKE_BUCKET,
                QUARANTINED,
                "10.20.30.40",
                CLI,
                errorCode="AccessDenied",
                errorMessage="Access Denied",
            ),
            get_object(
                "8f0a2c4e-6b8d-4f0a-8c2e-4a6c8e0a2c4e",
                "2026-12-02T00:01:00Z",
                alice,
                LAKE_BUCKET,
                PARQUET,
                "10.20.30.40",
                CLI,
            ),
        ),
        # A global service's events go to us-east-1's folder of a multi-region trail.
        GLOBAL_FILE: delivered(
            management(
                "3b5d7f9a-1c3e-4a5b-8d7f-9a1c3e5b7d9f",
                "2026-12-01T09:36:10Z",
                alice,
                "iam.amazonaws.com",
                "GetRole",
                {"roleName": "lakehouse-consumer-fraud_analyst"},
                "10.20.30.40",
                CLI,
            ),
        ),
        CORRUPT_FILE: delivered()[:9],  # cut short in delivery
        EARLIER_FILE: delivered(
            get_object(
                "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
                "2026-11-30T11:58:00Z",
                alice,
                LAKE_BUCKET,
                PARQUET,
                "10.20.30.40",
                CLI,
            ),
        ),
    }


@pytest.fixture
def trail_lake(aws_endpoint, tmp_path, monkeypatch):
    """The aws profile's environment on the moto server (what `terraform output lake_env`
    gives the command: nothing of the lake's stores is read), and the trail's files in the
    access-log bucket, encrypted with the lake key."""
    environ = {
        "LAKE_PROFILE": "aws",
        "LAKE_ROOT": str(tmp_path / "unused"),
        "AWS_DEFAULT_REGION": REGION,
        "LAKE_AWS_ENDPOINT_URL": aws_endpoint,
        "LAKE_S3_BUCKET": LAKE_BUCKET,
        "LAKE_CLOUDTRAIL_BUCKET": LOG_BUCKET,
        "LAKE_ORCHESTRATOR_ROLE_ARN": ORCHESTRATOR,
        "LAKE_CONSUMER_ROLE_ARN_PREFIX": CONSUMERS,
        "LAKE_EMR_EXECUTION_ROLE_ARN": f"arn:aws:iam::{ACCOUNT}:role/lakehouse-promotion-job",
    }
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    s3 = boto3.client("s3", endpoint_url=aws_endpoint, region_name=REGION)
    kms = boto3.client("kms", endpoint_url=aws_endpoint, region_name=REGION)
    lake_key = kms.create_key(Description="the lake key")["KeyMetadata"]["Arn"]
    s3.create_bucket(Bucket=LOG_BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    for key, body in trail_files().items():
        s3.put_object(
            Bucket=LOG_BUCKET,
            Key=key,
            Body=body,
            ServerSideEncryption="aws:kms",
            SSEKMSKeyId=lake_key,
        )
    # The trail's digest files sit beside its log files; they are no log file.
    s3.put_object(
        Bucket=LOG_BUCKET,
        Key=f"cloudtrail/AWSLogs/{ACCOUNT}/CloudTrail-Digest/{REGION}/2026/12/01/digest.json.gz",
        Body=b"\x1f\x8b not a log file",
    )
    return s3


def _lake(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


ALICE_BY = f"by {ALICE} (role {FRAUD}) as profile fraud_analyst"
BOB_BY = f"by {BOB} (role {MARKETING}) as profile marketing_analyst"


def test_lake_access_reads_lists_who_read_what_from_the_trail_files(trail_lake, capsys):
    code, out, err = _lake(
        capsys, "access", "reads", "--since", "2026-12-01", "--until", "2026-12-01"
    )
    assert (code, err) == (1, "")  # a malformed file
    assert out.splitlines() == [
        f"2026-12-01T09:31:12+00:00  s3:GetObject  card_transactions[2026-11-30] (curated)  "
        f"{ALICE_BY}  from 10.20.30.40 [{CLI}]  event 1b0c6f2e-8a3d-4c7e-b5f1-0d9e8c7b6a51  "
        "AROUND THE MASKS: read the lake's objects, not a masked view",
        f"2026-12-01T09:33:40+00:00  athena:StartQueryExecution  card_transactions (view "
        f"{VIEWS}.card_transactions__marketing_analyst) in workgroup marketing  {BOB_BY}  "
        f"from 198.51.100.23 [{CONSOLE}]  event c4f2a8e6-5b1d-4f3a-9e7c-8d6b4a2f0e13",
        f"2026-12-01T09:33:40+00:00  athena:StartQueryExecution  customers (view "
        f"{VIEWS}.customers__marketing_analyst) in workgroup marketing  {BOB_BY}  "
        f"from 198.51.100.23 [{CONSOLE}]  event c4f2a8e6-5b1d-4f3a-9e7c-8d6b4a2f0e13",
        f"2026-12-01T09:33:41+00:00  glue:GetTable  card_transactions (view "
        f"{VIEWS}.card_transactions__marketing_analyst)  {BOB_BY}  from athena.amazonaws.com "
        "via athena.amazonaws.com [athena.amazonaws.com]  event 9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
        f"2026-12-01T23:59:58+00:00  s3:GetObject  card_transactions[2026-11-30] (quarantine)  "
        f"{ALICE_BY}  from 10.20.30.40 [{CLI}]  event 5c7e9a1b-3d5f-4b7c-9e1a-3c5e7a9b1d2f  "
        "REFUSED: AccessDenied",
        "5 reads in 4 trail files of 2026-12-01..2026-12-01; 1 by the lake's own roles not "
        "listed (--with-lake-roles)",
        "skipped 3 records that are not reads of the lake (another bucket's object 1, "
        "not a read 2)",
        "malformed 1:",
        f"  {CORRUPT_FILE}: not a gzip file (Compressed file ended before the end-of-stream "
        "marker was reached)",
        "1 reads by consumer roles went around the masks",
    ]  # fmt: skip


def test_lake_access_reads_of_one_dataset_with_the_lakes_own_as_json(trail_lake, capsys):
    code, out, _ = _lake(capsys, "access", "reads", "--since", "2026-12-01", "--dataset",
                         "card_transactions", "--with-lake-roles", "--until", "2026-12-01",
                         "--json")  # fmt: skip
    assert code == 1
    found = json.loads(out)
    assert (found["files"], found["lake_own"]) == (4, 0)
    assert found["skipped"] == {"another bucket's object": 1, "not a read": 2}
    assert found["malformed"] == [
        {
            "key": CORRUPT_FILE,
            "reason": "not a gzip file (Compressed file ended before the end-of-stream marker "
            "was reached)",
        }
    ]
    reads = [
        (r["at"][11:19], r["action"], r["principal"], r["role"], r["dataset"], r["partition"],
         r["target"], r["by_lake"], r["error"])
        for r in found["reads"]
    ]  # fmt: skip
    orchestrator = f"arn:aws:sts::{ACCOUNT}:assumed-role/lakehouse-orchestrator/"
    view = f"{VIEWS}.card_transactions__marketing_analyst"
    assert reads == [
        ("09:30:05", "s3:GetObject", orchestrator + "4b8e2f1a9c3d4e5f8a7b6c5d4e3f2a1b",
         ORCHESTRATOR, "card_transactions", "2026-11-30", MANIFEST, True, None),
        ("09:31:12", "s3:GetObject", ALICE, FRAUD, "card_transactions", "2026-11-30", PARQUET,
         False, None),
        ("09:33:40", "athena:StartQueryExecution", BOB, MARKETING, "card_transactions", None,
         view, False, None),
        ("09:33:41", "glue:GetTable", BOB, MARKETING, "card_transactions", None, view, False,
         None),
        ("23:59:58", "s3:GetObject", ALICE, FRAUD, "card_transactions", "2026-11-30",
         QUARANTINED, False, "AccessDenied"),
    ]  # fmt: skip
    query = found["reads"][2]
    assert (query["view_profile"], query["workgroup"], query["region"]) == (
        "marketing_analyst",
        "marketing",
        REGION,
    )
    assert found["reads"][3]["invoked_by"] == "athena.amazonaws.com"


def test_an_organizations_trail_is_read_for_each_account_it_delivers_for(trail_lake, capsys):
    """An AWS Organization's trail delivers under `AWSLogs/<organization id>/<account>/`: a
    member account's files are read beside the account trail's (a role of that account reading
    the lake's bucket across accounts)."""
    member = "444455556666"
    key = (
        f"cloudtrail/AWSLogs/o-a1b2c3d4e5/{member}/CloudTrail/{REGION}/2026/12/01/"
        f"{member}_CloudTrail_{REGION}_20261201T1100Z_Pq8R2sTuVw3XyZ4a.json.gz"
    )
    analyst = assumed_role(f"arn:aws:iam::{member}:role/risk-analyst", "carol@bank.example")
    read = get_object("0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9", "2026-12-01T10:55:00Z", analyst,
                      LAKE_BUCKET, PARQUET, "10.40.50.60", CLI)  # fmt: skip
    trail_lake.put_object(Bucket=LOG_BUCKET, Key=key, Body=delivered(read))

    code, out, _ = _lake(capsys, "access", "reads", "--since", "2026-12-01", "--until",
                         "2026-12-01", "--json")  # fmt: skip
    found = json.loads(out)
    assert found["files"] == 5  # the account trail's four, and the member's one
    [carol] = [r for r in found["reads"] if r["event_id"].startswith("0f1e2d3c")]
    assert (carol["role"], carol["dataset"], carol["target"]) == (
        f"arn:aws:iam::{member}:role/risk-analyst",
        "card_transactions",
        PARQUET,
    )


def test_lake_access_reads_says_cloudtrail_is_on_aws_only(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LAKE_ROOT", str(tmp_path / "lake"))
    monkeypatch.delenv("LAKE_PROFILE", raising=False)
    code, out, err = _lake(capsys, "access", "reads", "--since", "2026-12-01")
    assert (code, out) == (2, "")
    assert err == (
        "lake: error: CloudTrail exists only on the aws profile (LAKE_PROFILE=aws, "
        "terraform/audit.tf): a local lake has no trail of reads; its own decisions are in "
        "`lake access audit`\n"
    )
    monkeypatch.setenv("LAKE_PROFILE", "aws")
    code, out, err = _lake(capsys, "access", "reads", "--since", "2026-12-01")
    assert (code, out) == (2, "")
    assert "LAKE_CLOUDTRAIL_BUCKET is not set" in err
    with pytest.raises(SystemExit):
        main(["access", "reads", "--since", "2026-12-32"])
    assert "date '2026-12-32' is not a real calendar day" in capsys.readouterr().err
    code, _, err = _lake(
        capsys, "access", "reads", "--since", "2026-12-02", "--until", "2026-12-01"
    )
    assert (code, err) == (2, "lake: error: --until 2026-12-01 is before --since 2026-12-02\n")


# --- the core, without AWS ---------------------------------------------------------------------

SCOPE = TrailScope(LAKE_BUCKET, CURATED, VIEWS, frozenset({ORCHESTRATOR}))
ENGINEER = f"arn:aws:iam::{ACCOUNT}:user/dana"


def _s3_read(key: str) -> tuple:
    [read] = reads_of(
        get_object("k", "2026-12-01T10:00:00Z", {}, LAKE_BUCKET, key, "10.0.0.1", CLI), SCOPE
    )
    return read.zone, read.dataset, read.partition


def test_every_key_the_lake_writes_is_read_back_as_its_dataset_and_partition():
    """Through the lake's own builders (tables/locations.py, ingestion/raw_zone.py)."""
    day, run = "2026-11-30", "r-1"
    name = "20261201T093000000000Z-a1b2-batch.json"
    assert _s3_read(published_location("cards", run, day) + "part-0.parquet") == (
        "curated", "cards", day,
    )  # fmt: skip
    assert _s3_read(published_month_location("cost_ledger", run, "2026-11") + "x.parquet") == (
        "curated", "cost_ledger", "2026-11",
    )  # fmt: skip
    assert _s3_read(written_quarantine_location("cards", run, day) + "p.parquet") == (
        "curated", "cards", day,
    )  # fmt: skip
    assert _s3_read(compacted_location("cards", run, day) + "p.parquet") == (
        "curated", "cards", day,
    )  # fmt: skip
    assert _s3_read(quarantine_location("cards", run, day) + "p.parquet") == (
        "quarantine", "cards", day,
    )  # fmt: skip
    assert _s3_read(dead_letter_key("cards", "2026-12-01", name)) == (
        "dead-letter", "cards", "2026-12-01",
    )  # fmt: skip
    assert _s3_read(raw_key("cards", "2026-12-01", name)) == ("raw", "cards", "2026-12-01")
    # Folders naming no partition: a history version, a query's output, a late arrival.
    history = run_output_prefix("customers_history", run) + "version=2/p.parquet"
    assert _s3_read(history) == ("curated", "customers_history", None)
    assert _s3_read(query_output_prefix("customers_history", "q-1") + "rows.parquet") == (
        "curated", "customers_history", None,
    )  # fmt: skip
    late = "quarantine/cards/late/20261201T093000000000Z-a1b2-batch.json.json"  # late_key's
    assert _s3_read(late) == ("quarantine", "cards", None)
    # A CUR delivery's folder is its source's, with no ingest date.
    assert _s3_read("raw/source=cur/billing_period=2026-11/delivery=d1/data/x.parquet") == (
        "raw", "cur", None,
    )  # fmt: skip
    assert _s3_read("_recovery/catalog/2026-12-01T10:00:00.json") == ("_recovery", None, None)


def test_the_core_reads_queries_tables_and_principals_and_names_what_it_cannot_read():
    engineer = {"type": "IAMUser", "principalId": "AIDA3EXAMPLE", "arn": ENGINEER,
                "accountId": ACCOUNT, "userName": "dana"}  # fmt: skip
    service = {"type": "AWSService", "invokedBy": "athena.amazonaws.com"}
    cte = (
        "WITH recent AS (SELECT * FROM lakehouse_curated.card_transactions) "
        "SELECT * FROM recent JOIN finance.fx_rates f ON true JOIN AwsDataCatalog.lakehouse_curated."
        "Customers c ON true"
    )
    records = [
        start_query("q1", "2026-12-01T10:00:00Z", engineer, cte, CURATED, "engineering"),
        start_query("q2", "2026-12-01T10:01:00Z", engineer, "SELECT * FROM finance.fx_rates",
                    CURATED, "engineering"),
        start_query("q3", "2026-12-01T10:02:00Z", engineer, "MSCK REPAIR TABLE ((", VIEWS,
                    "engineering"),
        start_query("q4", "2026-12-01T10:03:00Z", engineer, "SELECT 1 FROM ((", "default",
                    "engineering"),
        management("t1", "2026-12-01T10:04:00Z", service, "glue.amazonaws.com", "GetTable",
                   {"databaseName": CURATED, "name": "customers"}, "athena.amazonaws.com",
                   "athena.amazonaws.com"),
        management("t2", "2026-12-01T10:05:00Z", engineer, "glue.amazonaws.com", "GetTable",
                   {"databaseName": "finance", "name": "fx_rates"}, "10.0.0.9", CLI),
        {"eventID": "x1", "eventSource": "s3.amazonaws.com", "eventName": "GetObject"},
        ["not", "a", "record"],
        get_object("x3", "yesterday", engineer, LAKE_BUCKET, PARQUET, "10.0.0.9", CLI),
        {**get_object("x4", "2026-12-01T10:06:00Z", engineer, LAKE_BUCKET, PARQUET, "10.0.0.9",
                      CLI), "requestParameters": "bucketName=lake"},
    ]  # fmt: skip
    files = [
        TrailFile("a.json.gz", delivered(*records)),
        TrailFile("b.json.gz", gzip.compress(b"{not json")),
        TrailFile("c.json.gz", gzip.compress(b'{"Events": []}')),
        TrailFile("d.json.gz", unreadable="could not be read: AccessDenied"),
    ]
    found = trail_reads(files, SCOPE, since=date(2026, 12, 1), until=date(2026, 12, 1))
    # sqlglot's own words follow "query not parsed: " (one line).
    targets = [r.target.split(": ", 1)[0] for r in found.reads]
    assert [(r.event_id, r.principal, r.role, r.dataset) for r in found.reads] == [
        ("q1", ENGINEER, None, "card_transactions"),
        ("q1", ENGINEER, None, "customers"),  # AwsDataCatalog.lakehouse_curated.Customers
        ("q3", ENGINEER, None, None),  # not parsed, in the views database
        ("t1", "athena.amazonaws.com", None, "customers"),
    ]
    assert targets == [
        f"{CURATED}.card_transactions",
        f"{CURATED}.customers",
        f"{VIEWS}.? (query not parsed",
        f"{CURATED}.customers",
    ]
    assert "\n" not in found.reads[2].target and found.reads[2].target.endswith(".)")
    assert dict(found.skipped) == {"no table of the lake's databases": 3}
    assert [str(m) for m in found.malformed] == [
        "a.json.gz: record 6: no eventTime",
        "a.json.gz: record 7: not a JSON object",
        "a.json.gz: record 8: eventTime 'yesterday' is not a time",
        "a.json.gz: record 9: not shaped as CloudTrail writes a record ('str' object has no "
        "attribute 'get')",
        "b.json.gz: not JSON (Expecting property name enclosed in double quotes: line 1 "
        "column 2 (char 1))",
        'c.json.gz: no "Records" list',
        "d.json.gz: could not be read: AccessDenied",
    ]
    assert found.files == 4
    with pytest.raises(MalformedRecord, match="without its queryString"):
        reads_of({**records[0], "requestParameters": {}}, SCOPE)


def test_a_consumer_reading_anything_but_its_profiles_views_went_around_the_masks(
    trail_lake, capsys
):
    """A consumer role may read its profile's masked views and nothing else (ADR-0161); a read
    the trail shows succeeding elsewhere is a grant that should not exist, and is flagged."""
    scope = TrailScope(LAKE_BUCKET, CURATED, VIEWS, frozenset({ORCHESTRATOR}), CONSUMERS)
    alice = assumed_role(FRAUD, "alice@bank.example")
    engineer = {"type": "IAMUser", "principalId": "AIDA3EXAMPLE", "arn": ENGINEER,
                "accountId": ACCOUNT, "userName": "dana"}  # fmt: skip
    at = "2026-12-01T10:00:00Z"
    records = [
        start_query("own", at, alice, 'SELECT * FROM "customers__fraud_analyst"', VIEWS, "wg"),
        start_query("other", at, alice, "SELECT * FROM customers__marketing_analyst", VIEWS,
                    "wg"),
        start_query("table", at, alice, "SELECT * FROM lakehouse_curated.customers", VIEWS,
                    "wg"),
        get_object("object", at, alice, LAKE_BUCKET, PARQUET, "10.20.30.40", CLI),
        get_object("refused", at, alice, LAKE_BUCKET, PARQUET, "10.20.30.40", CLI,
                   errorCode="AccessDenied"),
        start_query("engineer", at, engineer, "SELECT * FROM lakehouse_curated.customers",
                    CURATED, "engineering"),
        management("planned", at, assumed_role(FRAUD, "alice@bank.example",
                                               invokedBy="athena.amazonaws.com"),
                   "glue.amazonaws.com", "GetTable", {"databaseName": CURATED, "name": "customers"},
                   "athena.amazonaws.com", "athena.amazonaws.com"),
    ]  # fmt: skip
    found = trail_reads([TrailFile("a.json.gz", delivered(*records))], scope,
                        since=date(2026, 12, 1), until=date(2026, 12, 1))  # fmt: skip
    assert [(r.event_id, r.as_profile, r.around_masks) for r in found.reads] == [
        ("engineer", None, None),  # not a consumer role: shown, not judged
        ("object", "fraud_analyst", "read the lake's objects, not a masked view"),
        ("other", "fraud_analyst", "read the view of profile marketing_analyst"),
        ("own", "fraud_analyst", None),
        ("planned", "fraud_analyst", None),  # Athena's, for the query: judged by the query
        ("refused", "fraud_analyst", None),  # refused: Lake Formation held
        ("table", "fraud_analyst", "read a curated table, not a masked view"),
    ]
    # The command lists only those with --around-masks, and fails while there is one.
    code, out, _ = _lake(capsys, "access", "reads", "--since", "2026-12-01", "--until",
                         "2026-12-01", "--around-masks")  # fmt: skip
    lines = out.splitlines()
    assert code == 1 and "1b0c6f2e-8a3d-4c7e-b5f1-0d9e8c7b6a51" in lines[0]
    assert lines[1].startswith("1 reads in 4 trail files of 2026-12-01..2026-12-01")
    assert lines[-1] == "1 reads by consumer roles went around the masks"


def test_a_read_through_prepare_execute_or_explain_is_judged_as_any_query():
    """sqlglot keeps PREPARE, EXECUTE and EXPLAIN ANALYZE as text, naming no table, which read
    as "no table of the lake's databases" and went unjudged. The statement a PREPARE or EXPLAIN
    runs is read for its tables; EXECUTE may read anything, so in a lake database it is a read
    of that database, as a query that cannot be parsed is."""
    scope = TrailScope(LAKE_BUCKET, CURATED, VIEWS, frozenset(), CONSUMERS)
    alice = assumed_role(FRAUD, "alice@bank.example")

    def judged(sql: str, database: str):
        found = reads_of(
            start_query("q", "2026-12-01T10:00:00Z", alice, sql, database, "wg"), scope
        )
        return found if isinstance(found, str) else [(r.target, r.around_masks) for r in found]

    around = "read a curated table, not a masked view"
    prepared = f"PREPARE p FROM SELECT * FROM {CURATED}.customers WHERE customer_id = ?"
    assert judged(prepared, "default") == [(f"{CURATED}.customers", around)]
    explained = f"EXPLAIN ANALYZE VERBOSE SELECT count(*) FROM {CURATED}.customers"
    assert judged(explained, "default") == [(f"{CURATED}.customers", around)]
    # A parenthesised query is the statement, not EXPLAIN's (FORMAT ...) options.
    union = f"(SELECT national_id FROM {CURATED}.customers) UNION ALL (SELECT 1)"
    assert judged(f"EXPLAIN ANALYZE {union}", "default") == [(f"{CURATED}.customers", around)]
    formatted = f"EXPLAIN (FORMAT JSON) SELECT * FROM {CURATED}.customers"
    assert judged(formatted, "default") == [(f"{CURATED}.customers", around)]
    own = 'PREPARE own FROM SELECT * FROM "customers__fraud_analyst"'
    assert judged(own, VIEWS) == [(f"{VIEWS}.customers__fraud_analyst", None)]
    [(target, why)] = judged("EXECUTE p USING 'C00001'", CURATED)
    assert target.startswith(f"{CURATED}.? (query not parsed: EXECUTE") and why == around
    assert judged("EXECUTE p USING 'C00001'", "default") == "no table of the lake's databases"


def test_every_morning_a_check_reads_yesterdays_trail_and_alerts_on_reads_around_the_masks(
    trail_lake, tmp_path, monkeypatch
):
    """The consumer_reads_watch job (daily at 07:10 UTC, on from the start) judges the day
    before: Alice's direct read of a curated object fails it and reaches the alert topic once;
    the corrupt file is named too, since it may hide a read."""
    from datetime import UTC, datetime

    from dagster import DefaultScheduleStatus, Definitions

    from lake_assets.access.definitions import access_definitions
    from lake_assets.settings import load_settings
    from resources.notifier import LocalNotifier

    monkeypatch.setattr(
        "lake_assets.access.checks.utc_now", lambda: datetime(2026, 12, 2, 7, 10, tzinfo=UTC)
    )
    settings = load_settings()
    defs = access_definitions(settings)
    [schedule] = defs.schedules
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("10 7 * * *", "UTC")
    assert schedule.default_status == DefaultScheduleStatus.RUNNING
    notifier = LocalNotifier(tmp_path / "alerts.jsonl")
    # The check belongs to the masked views' asset, whose stores the job must name; only the
    # check runs, so they are never used.
    unused = dict.fromkeys(["storage", "catalog", "classification"], "not used")
    stores = unused | {"settings": settings, "notifier": notifier}
    job = Definitions.merge(defs, Definitions(resources=stores)).resolve_job_def(
        "consumer_reads_watch"
    )
    result = job.execute_in_process()
    [evaluation] = result.get_asset_check_evaluations()
    assert evaluation.check_name == "no_consumer_read_around_the_masks"
    assert not evaluation.passed and evaluation.severity.value == "ERROR"
    metadata = {name: value.value for name, value in evaluation.metadata.items()}
    assert (metadata["day"], metadata["trail_files"], metadata["reads"]) == ("2026-12-01", 4, 6)
    [line] = metadata["around_the_masks"]
    assert (
        "event 1b0c6f2e-8a3d-4c7e-b5f1-0d9e8c7b6a51" in line and "as profile fraud_analyst" in line
    )
    assert [m.split(":")[0] for m in metadata["malformed"]] == [CORRUPT_FILE]
    [alert] = notifier.alerts()
    assert alert.kind == "access.read_around_the_masks"
    assert alert.subject == "1 consumer reads went around the masked views on 2026-12-01"
    assert alert.detail["reads"] == [line]


def test_the_consumer_reads_watch_exists_only_where_there_is_a_trail(tmp_path, monkeypatch):
    from lake_assets.access.definitions import access_definitions
    from lake_assets.settings import load_settings

    monkeypatch.setenv("LAKE_ROOT", str(tmp_path / "lake"))
    monkeypatch.delenv("LAKE_PROFILE", raising=False)
    assert not access_definitions(load_settings()).schedules
    aws = load_settings({"LAKE_PROFILE": "aws", "LAKE_S3_BUCKET": LAKE_BUCKET})
    assert not access_definitions(aws).schedules
