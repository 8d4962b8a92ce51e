"""Static checks of terraform/ (the aws profile): it parses, its IAM is least-privilege, and it
provides what the code reads. No AWS account or terraform binary is needed; when terraform and
a local copy of the AWS provider exist, `terraform validate` and `terraform test` run as well.

tests/terraform_config.py reads terraform/ as plain values. The tags and Dagster's own resources
are checked in test_terraform_tags.py and test_terraform_dagster.py.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import hcl2
import pytest
from aws_calls import RECORD_COMMAND, RECORDING, AwsCall, load_recording, zone_in
from dagster_aws_calls import (
    pipes_termination_calls,
)
from iam_grants import COMPUTE_LOG_CALLS, S3_OBJECT_ACTIONS, Grants, grants_of
from terraform_config import (
    BOOTSTRAP_FILES,
    LAKE_ARN,
    LIFECYCLE_MODULE,
    PIPELINE_MODULES,
    REPO_ROOT,
    TF_DIR,
    as_list,
    clean_hcl,
    document_reference,
    key_policy_documents,
    labelled_blocks,
    lake_lifecycle_rules,
    locals_of,
    module_config,
    modules_of,
    one,
    parse_hcl,
    policy_document,
    policy_documents,
    resolve_locals,
    resources_of,
    statements_of,
    terraform_config,
    variables_of,
)

from lake_assets.access.tokens import SECRET_ENV
from lake_assets.alarms.model import METRICS
from lake_assets.cost.model import CUR_COLUMNS, OPTIONAL_CUR_COLUMNS
from lake_assets.settings import AwsSettings
from lake_assets.tables.locations import CUR_EXPORT, CUR_EXPORT_PREFIX
from resources.aws.cloudwatch import LAKE_DIMENSION, NAMESPACE

SETTINGS_FILE = REPO_ROOT / "lake_assets" / "settings.py"

EXPECTED_FILES = [
    "versions.tf",
    "variables.tf",
    "storage.tf",
    "dynamodb.tf",
    "catalog.tf",
    "messaging.tf",
    "emr.tf",
    "iam.tf",
    "secrets.tf",
    "outputs.tf",
    "pipelines.tf",
    "ecs.tf",
    "ecs_iam.tf",
    "database.tf",
    "web.tf",
    "alarms.tf",
    "cicd.tf",
    "dr.tf",
]

# The environment variables the aws profile reads (lake_assets/settings.py), each an output.
ENV_OUTPUTS = {
    "LAKE_S3_BUCKET": "lake_s3_bucket",
    "LAKE_ARRIVALS_QUEUE_URL": "lake_arrivals_queue_url",
    "LAKE_ALERT_TOPIC_ARN": "lake_alert_topic_arn",
    "LAKE_REGISTRY_TABLE": "lake_registry_table",
    "LAKE_FILE_INDEX_TABLE": "lake_file_index_table",
    "LAKE_LINEAGE_TABLE": "lake_lineage_table",
    "LAKE_EVENTS_TABLE": "lake_events_table",
    "LAKE_EVENT_STATE_TABLE": "lake_event_state_table",
    "LAKE_COMPACTION_HISTORY_TABLE": "lake_compaction_history_table",
    "LAKE_ACCESS_AUDIT_TABLE": "lake_access_audit_table",
    "LAKE_GLUE_DATABASE": "lake_glue_database",
    "LAKE_EMR_APPLICATION_ID": "lake_emr_application_id",
    "LAKE_EMR_EXECUTION_ROLE_ARN": "lake_emr_execution_role_arn",
    "LAKE_TOKEN_SECRET_ID": "lake_token_secret_id",
    "LAKE_CLOUDTRAIL_BUCKET": "lake_cloudtrail_bucket",
    "LAKE_CLOUDTRAIL_PREFIX": "lake_cloudtrail_prefix",
    "LAKE_ORCHESTRATOR_ROLE_ARN": "orchestrator_role_arn",
    "LAKE_VIEW_DEFINER_ROLE_ARN": "view_definer_role_arn",
    "LAKE_CONSUMER_ROLE_ARN_PREFIX": "consumer_role_arn_prefix",
}
# Read outside settings.py: where lake_token's key is goes into a gold job's plan (tokens.py).
ENV_READ_ELSEWHERE = {SECRET_ENV}

# The role policy of each role the recording names (tests/aws_calls.py).
ROLE_POLICIES = {
    "orchestrator": "orchestrator",
    "job": "emr_execution",
    "deployer": "deployer",
    "view_definer": "view_definer",
}

# "service:Action" with nothing but letters and digits in the action: no "*" or "?" anywhere.
LITERAL_ACTION = re.compile(r"^[a-z0-9-]+:[A-Za-z0-9]+$")
# One zone of the bucket and what is in it: "${aws_s3_bucket.lake.arn}/raw/*" -> "raw/".
ZONE_OBJECTS = re.compile(re.escape(LAKE_ARN) + r"/([A-Za-z0-9_-]+/)\*")
# The access-log bucket, the one other bucket a role reads (the CloudTrail trail's files): its
# grants may name a folder below a zone ("<logs>/cloudtrail/AWSLogs/<account>/CloudTrail/*"),
# recorded as the zone "logs:cloudtrail/" (tests/aws_calls.py `zone_in`).
LOGS_ARN = "${aws_s3_bucket.logs.arn}"
LOG_OBJECTS = re.compile(re.escape(LOGS_ARN) + r"/([A-Za-z0-9_-]+/)\S*\*")


# --------------------------------------------------------------------------------------------
# Parsing helpers
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def config() -> dict[str, list]:
    return terraform_config()


# --------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------


def test_expected_files_exist():
    present = {p.name for p in TF_DIR.glob("*.tf")}
    missing = [name for name in EXPECTED_FILES if name not in present]
    assert not missing, f"missing terraform files: {missing}"


@pytest.mark.parametrize("path", sorted(TF_DIR.glob("*.tf")), ids=lambda p: p.name)
def test_every_tf_file_parses(path):
    parsed = parse_hcl(path)
    assert parsed, f"{path.name} parsed to nothing"


def test_clean_unquotes_literals_and_keeps_references():
    raw = hcl2.loads(
        'x = ["s3:GetObject", "${aws_s3_bucket.lake.arn}/raw/*", aws_s3_bucket.lake.arn]\n'
    )
    assert clean_hcl(raw)["x"] == [
        "s3:GetObject",
        "${aws_s3_bucket.lake.arn}/raw/*",
        "${aws_s3_bucket.lake.arn}",
    ]


# --------------------------------------------------------------------------------------------
# IAM: every policy is an aws_iam_policy_document, and no document has a wildcard
# --------------------------------------------------------------------------------------------


POLICY_ATTRIBUTES = {"policy", "assume_role_policy"}
# A trust policy's actions: it names no resource (the role it is attached to is it).
TRUST_ACTIONS = {"sts:AssumeRole", "sts:AssumeRoleWithWebIdentity"}


def test_every_policy_attribute_comes_from_a_policy_document(config):
    """So the wildcard checks below see every policy: no jsonencode() or heredoc policies."""
    documents = policy_documents(config)
    seen = 0
    for (type_, name), body in labelled_blocks(config, "resource").items():
        for attribute in POLICY_ATTRIBUTES & set(body):
            seen += 1
            target = document_reference(body[attribute])
            assert target, (
                f"{type_}.{name}.{attribute} must be data.aws_iam_policy_document.<x>.json, "
                f"got {body[attribute]!r}"
            )
            assert target in documents, f"{type_}.{name} uses undefined document {target}"
    # key, two bucket policies, queue policy, two trust policies, two role policies
    assert seen >= 8, f"only {seen} policies found; did the parser miss blocks?"


def _repository_policy_documents(config) -> set[str]:
    """ECR repository policies take no Resource element: a statement applies to its repository."""
    return {
        document_reference(body["policy"])
        for body in resources_of(config, "aws_ecr_repository_policy").values()
    }


# Actions AWS authorises on "*" only (no resource type in the Service Authorization Reference),
# each with the condition key that must narrow it, or None where no key can.
STAR_ONLY_ACTIONS = {
    "cloudwatch:PutMetricData": "cloudwatch:namespace",
    "ecr:GetAuthorizationToken": None,
    "ecs:DescribeTaskDefinition": None,
    # Lake Formation's data access and grants; its own grants are the boundary.
    "lakeformation:GetDataAccess": None,
    "lakeformation:BatchGrantPermissions": None,
    "lakeformation:BatchRevokePermissions": None,
    "lakeformation:ListPermissions": None,
}
# The only wildcard a resource may carry, at its very end: objects under a prefix, job runs of an
# application, tables of a database ("/*"); revisions of a task definition family, streams of a
# log group (":*").
TRAILING_WILDCARD = re.compile(r"[/:]\*$")


def _narrowed_star(actions: list, statement: dict) -> bool:
    conditions = {c.get("variable") for c in statement.get("condition", [])}
    return bool(actions) and all(
        a in STAR_ONLY_ACTIONS and STAR_ONLY_ACTIONS[a] in conditions | {None} for a in actions
    )


def _wildcard_problems(
    name: str, document: dict, is_key_policy: bool, resource_implied: bool = False
) -> list[str]:
    problems = []
    statements = statements_of(document)
    if not statements:
        problems.append(f"{name}: no statements found")
    for index, statement in enumerate(statements):
        where = f"{name}.statement[{statement.get('sid', index)}]"
        effect = statement.get("effect", "Allow")
        for field in ("not_actions", "not_resources", "not_principals"):
            if field in statement:
                problems.append(f"{where}: {field} is a wildcard in disguise")
        actions = as_list(statement.get("actions", []))
        if not actions:
            problems.append(f"{where}: no actions")
        for action in actions:
            if not isinstance(action, str) or not LITERAL_ACTION.fullmatch(action):
                problems.append(f"{where}: action {action!r} is not one literal action")
        resources = statement.get("resources")
        if resources is None:
            if not set(actions) <= TRUST_ACTIONS and not resource_implied:
                problems.append(f"{where}: no resources (only trust policies may omit them)")
        else:
            for resource in as_list(resources):
                if not isinstance(resource, str):
                    problems.append(f"{where}: resource {resource!r} is not a string")
                elif resource == "*":
                    # In a KMS key policy "*" means "this key" and AWS requires it; elsewhere
                    # only for an action AWS authorises on "*" alone, narrowed by its condition.
                    if not (is_key_policy or _narrowed_star(actions, statement)):
                        problems.append(f"{where}: resource '*'")
                elif "*" in TRAILING_WILDCARD.sub("", resource):
                    problems.append(f"{where}: resource {resource!r} has a wildcard")
        for principal in statement.get("principals", []):
            identifiers = as_list(principal.get("identifiers", []))
            if effect == "Allow" and any("*" in str(i) for i in identifiers):
                problems.append(f"{where}: Allow for a wildcard principal {identifiers}")
    return problems


def test_policy_documents_have_no_wildcard_actions_or_resources(config):
    documents = policy_documents(config)
    key_policies = key_policy_documents(config)
    repository_policies = _repository_policy_documents(config)
    assert len(documents) >= 8, f"only {len(documents)} policy documents parsed"
    assert key_policies, "the KMS key must have a policy document"
    problems = [
        problem
        for name, document in documents.items()
        for problem in _wildcard_problems(
            name, document, name in key_policies, name in repository_policies
        )
    ]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    "statement, expected",
    [
        ({"actions": ["s3:*"], "resources": ["${x}/raw/*"]}, "not one literal action"),
        ({"actions": ["s3:Get*"], "resources": ["${x}/raw/*"]}, "not one literal action"),
        ({"actions": ["*"], "resources": ["${x}"]}, "not one literal action"),
        ({"actions": ["s3:GetObject"], "resources": ["*"]}, "resource '*'"),
        # on "*" only, but without the condition that narrows it
        ({"actions": ["cloudwatch:PutMetricData"], "resources": ["*"]}, "resource '*'"),
        (
            {
                "actions": ["cloudwatch:PutMetricData", "s3:GetObject"],
                "resources": ["*"],
                "condition": [{"variable": "cloudwatch:namespace"}],
            },
            "resource '*'",
        ),
        (
            {"actions": ["ecs:DescribeTaskDefinition", "ecs:RunTask"], "resources": ["*"]},
            "resource '*'",
        ),
        ({"actions": ["logs:GetLogEvents"], "resources": ["${x}:*:log-stream:*"]}, "wildcard"),
        (
            {"actions": ["dynamodb:GetItem"], "resources": ["arn:aws:dynamodb:*:1:table/t"]},
            "wildcard",
        ),
        ({"actions": ["s3:GetObject"], "resources": ["arn:aws:s3:::*/raw/*"]}, "wildcard"),
        ({"actions": ["s3:GetObject"], "not_resources": ["${x}"]}, "wildcard in disguise"),
        ({"actions": ["s3:GetObject"]}, "no resources"),
        (
            {
                "actions": ["s3:GetObject"],
                "resources": ["${x}/raw/*"],
                "principals": [{"type": "AWS", "identifiers": ["*"]}],
            },
            "wildcard principal",
        ),
    ],
)
def test_wildcard_check_catches(statement, expected):
    problems = _wildcard_problems("probe", {"statement": [statement]}, is_key_policy=False)
    assert any(expected in p for p in problems), problems


def test_wildcard_check_accepts_object_prefixes_and_key_policy_resource():
    statement = {"actions": ["s3:GetObject"], "resources": ["${aws_s3_bucket.lake.arn}/raw/*"]}
    assert _wildcard_problems("probe", {"statement": [statement]}, False) == []
    key_statement = {"actions": ["kms:Decrypt"], "resources": ["*"]}
    assert _wildcard_problems("probe", {"statement": [key_statement]}, True) == []
    key_wildcard = {"actions": ["kms:*"], "resources": ["*"]}
    assert _wildcard_problems("probe", {"statement": [key_wildcard]}, True)


def _role_document(config, role_policy: str) -> dict:
    body = resources_of(config, "aws_iam_role_policy")[role_policy]
    return policy_documents(config)[document_reference(body["policy"])]


@pytest.fixture(scope="module")
def needed() -> dict[str, Grants]:
    """What each role must be granted for the calls the code makes: those the tests recorded,
    and the orchestrator's cancel of an EMR job run when its Dagster run is terminated."""
    terminating = {AwsCall("orchestrator", *call) for call in pipes_termination_calls()}
    return grants_of(load_recording() | terminating)


def test_the_pipes_client_only_cancels_the_job_run_when_its_run_is_terminated():
    assert pipes_termination_calls() == {("emr-serverless", "CancelJobRun")}


def _difference(granted: set, expected: set) -> str:
    return (
        f"extra: {sorted(granted - expected)}, missing: {sorted(expected - granted)}; the "
        f"code's calls are in {RECORDING.relative_to(REPO_ROOT)} (re-record: {RECORD_COMMAND})"
    )


@pytest.mark.parametrize("role", sorted(ROLE_POLICIES))
def test_role_actions_are_exactly_what_the_code_uses(config, needed, role):
    statements = statements_of(_role_document(config, ROLE_POLICIES[role]))
    assert all(s.get("effect", "Allow") == "Allow" for s in statements)
    granted = {a for s in statements for a in as_list(s["actions"])}
    assert granted == needed[role].actions, _difference(granted, needed[role].actions)


def test_every_recorded_role_has_a_policy(needed):
    assert set(needed) == set(ROLE_POLICIES)


@pytest.mark.parametrize("role", sorted(ROLE_POLICIES))
def test_s3_grants_are_the_zones_the_code_touches(config, needed, role):
    """Object actions per zone ("<bucket>/raw/*") and ListBucket narrowed by s3:prefix to
    zones, each exactly what the code does there."""
    objects, listed = set(), set()
    for statement in statements_of(_role_document(config, ROLE_POLICIES[role])):
        actions = set(as_list(statement["actions"]))
        resources = as_list(statement["resources"])
        if actions & S3_OBJECT_ACTIONS:
            assert actions <= S3_OBJECT_ACTIONS, f"mix of S3 object and other actions: {actions}"
            for resource in resources:
                zone = ZONE_OBJECTS.fullmatch(resource)
                logs = LOG_OBJECTS.fullmatch(resource)
                assert zone or logs, f"{role}: object grant on {resource!r}, not on one zone"
                place = zone.group(1) if zone else zone_in("logs", logs.group(1))
                objects |= {(action, place) for action in actions}
        if "s3:ListBucket" in actions:
            assert resources in ([LAKE_ARN], [LOGS_ARN]), f"{role}: ListBucket on {resources}"
            conditions = statement.get("condition", [])
            prefixes = [c for c in conditions if c["variable"] == "s3:prefix"]
            assert prefixes, f"{role}: ListBucket without an s3:prefix condition"
            assert all(c["test"] == "StringLike" for c in prefixes)
            for value in (v for c in prefixes for v in as_list(c["values"])):
                if resources == [LOGS_ARN]:
                    assert re.fullmatch(r"[A-Za-z0-9_-]+/\S*\*", value), f"{role}: {value}"
                    listed.add(zone_in("logs", value.split("/", 1)[0] + "/"))
                    continue
                assert re.fullmatch(r"[A-Za-z0-9_-]+/\*", value), f"{role}: s3:prefix {value}"
                listed.add(value[:-1])
    assert objects == needed[role].objects, _difference(objects, needed[role].objects)
    assert listed == needed[role].listed, _difference(listed, needed[role].listed)


def test_recorded_s3_calls_are_object_or_listing_actions(needed):
    """An S3 operation IAM authorises under another name needs a line in AUTHORISED_AS
    (tests/iam_grants.py); without it the grant would name an action that does not exist."""
    known = S3_OBJECT_ACTIONS | {"s3:ListBucket"}
    for role, grants in needed.items():
        s3 = {a for a in grants.actions if a.startswith("s3:")}
        assert s3 <= known, f"{role}: {sorted(s3 - known)} are not S3 actions of this lake"


def test_pass_role_is_limited_to_the_execution_role(config):
    statements = [
        s
        for s in statements_of(_role_document(config, ROLE_POLICIES["orchestrator"]))
        if "iam:PassRole" in as_list(s["actions"])
    ]
    assert len(statements) == 1
    assert statements[0]["resources"] == ["${aws_iam_role.emr_execution.arn}"]
    condition = one(statements[0]["condition"])
    assert condition["variable"] == "iam:PassedToService"
    assert condition["values"] == ["emr-serverless.amazonaws.com"]


def test_each_role_reads_only_the_secrets_its_code_reads(config):
    """The orchestrator the pulled database's password, the job lake_token's key; nothing else."""
    expected = {
        "orchestrator": ["${aws_secretsmanager_secret.crm_db.arn}"],
        "job": ["${aws_secretsmanager_secret.lake_token.arn}"],
    }
    for role, secrets in expected.items():
        statements = [
            s
            for s in statements_of(_role_document(config, ROLE_POLICIES[role]))
            if any(a.startswith("secretsmanager:") for a in as_list(s["actions"]))
        ]
        assert len(statements) == 1, (role, statements)
        assert statements[0]["actions"] == ["secretsmanager:GetSecretValue"], role
        assert statements[0]["resources"] == secrets, role


def test_secrets_use_the_lake_key_and_terraform_holds_no_value(config):
    """Secret values are put by their owners (terraform/secrets.tf), so no state file holds one."""
    secrets = resources_of(config, "aws_secretsmanager_secret")
    assert {"crm_db", "lake_token"} <= set(secrets)
    for name, secret in secrets.items():
        assert secret["kms_key_id"] == "${aws_kms_key.lake.arn}", name
    assert not resources_of(config, "aws_secretsmanager_secret_version")


def test_arrivals_queue_accepts_only_s3_from_the_lake_bucket(config):
    queue_policy = one(list(resources_of(config, "aws_sqs_queue_policy").values()))
    assert queue_policy["queue_url"] == "${aws_sqs_queue.arrivals.id}"
    document = policy_documents(config)[document_reference(queue_policy["policy"])]
    statement = one(statements_of(document))
    assert statement.get("effect", "Allow") == "Allow"
    assert statement["actions"] == ["sqs:SendMessage"]
    assert statement["resources"] == ["${aws_sqs_queue.arrivals.arn}"]
    principal = one(statement["principals"])
    assert principal == {"type": "Service", "identifiers": ["s3.amazonaws.com"]}
    source_arn = [c for c in statement["condition"] if c["variable"] == "aws:SourceArn"]
    assert one(source_arn)["test"] in {"ArnEquals", "ArnLike"}
    assert one(source_arn)["values"] == ["${aws_s3_bucket.lake.arn}"]


# --------------------------------------------------------------------------------------------
# Storage, messaging, registry
# --------------------------------------------------------------------------------------------


def test_the_cur_export_delivers_what_the_cur_source_reads_where_it_lands_from(config):
    """The CUR 2.0 export (cost.tf) writes <S3 prefix>/<name>/, the prefix the cost/cur asset
    lands deliveries from, as hourly Parquet overwritten per month, selecting exactly the
    columns the CUR source reads; only Data Exports of this account may write to the bucket
    (as AWS documents the export bucket's policy) and encrypt with the lake key through S3."""
    [export] = resources_of(config, "aws_bcmdataexports_export")["cur"]["export"]
    locals_ = locals_of(config)
    assert resolve_locals(export["name"], locals_) == CUR_EXPORT
    [destination] = one(export["destination_configurations"])["s3_destination"]
    assert destination["s3_bucket"] == "${aws_s3_bucket.lake.bucket}"
    assert f"{destination['s3_prefix']}/{CUR_EXPORT}/" == CUR_EXPORT_PREFIX
    output = one(destination["s3_output_configurations"])
    assert (output["format"], output["compression"], output["overwrite"]) == (
        "PARQUET",
        "PARQUET",
        "OVERWRITE_REPORT",
    )
    query = one(export["data_query"])
    table = query["table_configurations"]["COST_AND_USAGE_REPORT"]
    assert table["TIME_GRANULARITY"] == "HOURLY"
    # Resource ids, and the split_line_item_* columns the query selects, exist only when asked.
    assert table["INCLUDE_RESOURCES"] == table["INCLUDE_SPLIT_COST_ALLOCATION_DATA"] == "TRUE"
    assert table["BILLING_VIEW_ARN"].endswith(":billingview/primary")
    assert query["query_statement"] == (
        'SELECT ${join(", ", local.cur_columns)} FROM COST_AND_USAGE_REPORT'
    )
    assert sorted(locals_["cur_columns"]) == sorted({**CUR_COLUMNS, **OPTIONAL_CUR_COLUMNS})

    account = "${data.aws_caller_identity.current.account_id}"
    exports = f":bcm-data-exports:us-east-1:{account}:export/*"
    bucket = statements_of(policy_documents(config)["lake_bucket"])
    [delivers] = [s for s in bucket if s["effect"] == "Allow"]
    assert delivers["principals"] == [
        {"type": "Service", "identifiers": ["bcm-data-exports.amazonaws.com"]}
    ]
    assert sorted(delivers["actions"]) == ["s3:GetBucketPolicy", "s3:PutObject"]
    conditions = {c["variable"]: c["values"] for c in delivers["condition"]}
    assert conditions["aws:SourceAccount"] == [account]
    assert conditions["aws:SourceArn"][0].endswith(exports)
    key = {s["sid"]: s for s in statements_of(policy_documents(config)["lake_key"])}
    encrypts = key["DataExportsEncryptsTheBill"]
    assert encrypts["principals"] == delivers["principals"]
    assert sorted(encrypts["actions"]) == ["kms:Decrypt", "kms:GenerateDataKey"]
    conditions = {c["variable"]: c["values"] for c in encrypts["condition"]}
    assert conditions == {
        "aws:SourceAccount": [account],
        "kms:ViaService": ["s3.${data.aws_region.current.name}.amazonaws.com"],
    }


def test_s3_notification_sends_each_pipelines_raw_objects_to_the_arrivals_queue(config):
    notification = resources_of(config, "aws_s3_bucket_notification")["lake"]
    assert notification["bucket"] == "${aws_s3_bucket.lake.id}"
    assert "queue" not in notification  # one rule per pipeline, none for raw/ as a whole
    dynamic = one(notification["dynamic"])["queue"]
    assert dynamic["for_each"] == "${local.pipeline_raw_prefixes}"
    queue = dynamic["content"][0]
    assert queue["filter_prefix"] == "${queue.value}"
    assert queue["queue_arn"] == "${aws_sqs_queue.arrivals.arn}"
    assert queue["events"] == ["s3:ObjectCreated:*"]
    assert "lambda_function" not in notification and "topic" not in notification
    prefixes = one(
        [b["pipeline_raw_prefixes"] for b in config["locals"] if "pipeline_raw_prefixes" in b]
    )
    # Each pipeline's own prefix, as a literal or its module's output (generated pipelines.tf).
    assert prefixes
    for name, prefix in prefixes.items():
        assert prefix in (f"raw/source={name}/", f"${{module.pipeline_{name}.raw_prefix}}"), name


@pytest.mark.parametrize("path", PIPELINE_MODULES, ids=lambda p: str(p.relative_to(TF_DIR)))
def test_every_generated_pipeline_module_parses_and_writes_its_stamp_object(path):
    """terraform/pipelines/<name>/*.tf (rendered by `lake generate`): the stamp object the drift
    check reads, under the prefix the orchestrator may read, encrypted with the lake key."""
    parsed = parse_hcl(path)
    if path.name != "main.tf":
        return  # parsed is enough: the stamp object is main.tf's
    stamp = resources_of(parsed, "aws_s3_object")["pipeline_stamp"]
    assert stamp["key"] == f"_pipelines/{path.parent.name}.json"
    assert stamp["kms_key_id"].startswith("${")
    for tag in ("lake_pipeline", "lake_template_version", "lake_spec_hash"):
        assert tag in str(stamp["tags"]), tag


@pytest.mark.parametrize(
    "table, hash_key, range_key",
    [
        ("schema_registry", "source_id", "version"),
        ("raw_file_index", "source_id", "key"),
        ("lineage", "run_id", "state"),
        ("events", "idempotency_key", None),
        ("event_state", "pk", "sk"),
        ("compaction_history", "dataset", "entry"),
        ("access_audit", "decision_id", None),
    ],
)
def test_dynamodb_keys_match_the_stores(config, table, hash_key, range_key):
    locals_ = {k: v for block in config.get("locals", []) for k, v in block.items()}
    declared = locals_["dynamodb_tables"][table]
    assert (declared["hash_key"], declared["range_key"]) == (hash_key, range_key)


def test_the_access_audit_trail_can_be_appended_and_read_but_not_changed(config):
    """Append-only on AWS is the roles' grants: a conditional put and a scan
    (resources/aws/dynamo_access_audit.py), nothing that updates or deletes an entry."""
    table = '${aws_dynamodb_table.lake["access_audit"].arn}'
    granted = {
        (role, action)
        for role, policy in ROLE_POLICIES.items()
        for statement in statements_of(_role_document(config, policy))
        if table in as_list(statement["resources"])
        for action in as_list(statement["actions"])
    }
    assert granted == {("orchestrator", "dynamodb:PutItem"), ("orchestrator", "dynamodb:Scan")}


def test_every_dynamodb_table_is_on_demand_recoverable_and_encrypted(config):
    body = resources_of(config, "aws_dynamodb_table")["lake"]
    assert body["for_each"] == "${local.dynamodb_tables}"
    assert body["billing_mode"] == "PAY_PER_REQUEST"
    assert body["deletion_protection_enabled"] is True
    attribute = one([d["attribute"] for d in body["dynamic"] if "attribute" in d])
    assert "each.value.hash_key" in attribute["for_each"]
    assert "each.value.range_key" in attribute["for_each"]
    assert one(body["point_in_time_recovery"])["enabled"] is True
    sse = one(body["server_side_encryption"])
    assert sse["enabled"] is True and sse["kms_key_arn"] == "${aws_kms_key.lake.arn}"
    # A deployed stack keeps its tables: each old resource address moves into the map.
    moved = {
        (m["from"], m["to"])
        for m in config.get("moved", [])
        if m["from"].startswith("${aws_dynamodb_table.")
    }
    assert len(moved) == 6 and all("aws_dynamodb_table.lake[" in to for _, to in moved)


def test_data_at_rest_uses_the_customer_managed_key(config):
    key = resources_of(config, "aws_kms_key")["lake"]
    assert key["enable_key_rotation"] is True
    sse = one(
        resources_of(config, "aws_s3_bucket_server_side_encryption_configuration")["lake"]["rule"]
    )
    default = one(sse["apply_server_side_encryption_by_default"])
    assert default == {"sse_algorithm": "aws:kms", "kms_master_key_id": "${aws_kms_key.lake.arn}"}
    for name, queue in resources_of(config, "aws_sqs_queue").items():
        assert queue.get("kms_master_key_id") == "${aws_kms_key.lake.arn}", name
    for name, topic in resources_of(config, "aws_sns_topic").items():
        assert topic.get("kms_master_key_id") == "${aws_kms_key.lake.arn}", name
    arrivals = resources_of(config, "aws_sqs_queue")["arrivals"]
    assert "aws_sqs_queue.arrivals_dlq.arn" in arrivals["redrive_policy"]


def test_lake_bucket_is_private_versioned_logged_and_expires_old_versions(config):
    access_block = resources_of(config, "aws_s3_bucket_public_access_block")["lake"]
    for flag in (
        "block_public_acls",
        "block_public_policy",
        "ignore_public_acls",
        "restrict_public_buckets",
    ):
        assert access_block[flag] is True, flag
    versioning = resources_of(config, "aws_s3_bucket_versioning")["lake"]
    assert one(versioning["versioning_configuration"])["status"] == "Enabled"
    logging = resources_of(config, "aws_s3_bucket_logging")["lake"]
    assert logging["target_bucket"] == "${aws_s3_bucket.logs.id}"
    # Over the whole bucket: the parts of a failed multipart upload go after a week, an object's
    # past versions after their retention, and the delete markers left without one.
    rules = {rule["id"]: rule for rule in lake_lifecycle_rules(config, {})}
    multipart = rules["abort-incomplete-multipart-uploads"]
    assert multipart["prefix"] is None
    assert multipart["abort_incomplete_multipart_upload_days"] == 7
    versions = rules["expire-noncurrent-versions"]
    assert versions["prefix"] is None
    assert versions["noncurrent_version_expiration_days"] == (
        "${var.noncurrent_version_retention_days}"
    )
    assert versions["expired_object_delete_marker"] is True


# --------------------------------------------------------------------------------------------
# Alarms and who they notify (alarms.tf)
# --------------------------------------------------------------------------------------------

ALERT_TOPIC = "${aws_sns_topic.schema_drift_alerts.arn}"
ALARM_RUNBOOK = REPO_ROOT / "docs" / "runbooks" / "alarm-response.md"


def _alarm_names(config) -> set[str]:
    """Each alarm's name after the prefix ("${var.name_prefix}-emr-failed-jobs" -> its tail),
    the platform metrics' from their keys."""
    names = set()
    for alarm in resources_of(config, "aws_cloudwatch_metric_alarm").values():
        tail = alarm["alarm_name"].removeprefix("${var.name_prefix}-")
        names |= set(locals_of(config)["platform_metrics"]) if tail == "${each.key}" else {tail}
    return names


def test_every_alarm_notifies_the_alert_topic(config):
    alarms = resources_of(config, "aws_cloudwatch_metric_alarm")
    assert set(alarms) == {
        "platform",
        "arrivals_dead_letters",
        "emr_failed_jobs",
        "replication_latency",  # with dr_region: dr.tf, tests/test_terraform_dr.py
        "replication_failed",
    }
    for name, alarm in alarms.items():
        assert alarm["alarm_actions"] == [ALERT_TOPIC], name
        assert alarm["treat_missing_data"] == "notBreaching", name
        assert "alarm-response.md" in alarm["alarm_description"], name


def test_every_alarm_has_its_section_in_the_alarm_runbook(config):
    """The runbook names each alarm `<prefix>-<name>` in a heading; an alarm it does not name
    leaves the person it wakes without instructions."""
    headings = set(re.findall(r"^## .*\(`<prefix>-([a-z-]+)`\)", ALARM_RUNBOOK.read_text(), re.M))
    assert _alarm_names(config) == headings


def test_the_platform_alarms_watch_the_metrics_the_code_emits(config):
    alarm = resources_of(config, "aws_cloudwatch_metric_alarm")["platform"]
    locals_ = locals_of(config)
    assert alarm["for_each"] == "${local.platform_metrics}"
    assert alarm["namespace"] == "${local.platform_metric_namespace}"
    assert locals_["platform_metric_namespace"] == NAMESPACE
    assert alarm["metric_name"] == "${each.value.metric}"
    assert sorted(m["metric"] for m in locals_["platform_metrics"].values()) == sorted(METRICS)
    assert alarm["dimensions"] == {LAKE_DIMENSION: "${local.lake_bucket_name}"}
    rule = (alarm["statistic"], alarm["period"], alarm["evaluation_periods"], alarm["threshold"])
    assert rule == ("Sum", 300, 1, 1)
    assert alarm["comparison_operator"] == "GreaterThanOrEqualToThreshold"


def test_the_dead_letter_and_emr_alarms_watch_the_lakes_own_resources(config):
    alarms = resources_of(config, "aws_cloudwatch_metric_alarm")
    dlq = alarms["arrivals_dead_letters"]
    assert (dlq["namespace"], dlq["metric_name"]) == (
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
    )
    assert dlq["dimensions"] == {"QueueName": "${aws_sqs_queue.arrivals_dlq.name}"}
    assert (dlq["threshold"], dlq["comparison_operator"]) == (0, "GreaterThanThreshold")
    emr = alarms["emr_failed_jobs"]
    assert (emr["namespace"], emr["metric_name"]) == ("AWS/EMRServerless", "FailedJobs")
    assert emr["dimensions"] == {"ApplicationId": "${aws_emrserverless_application.spark.id}"}
    assert (emr["statistic"], emr["threshold"]) == ("Sum", 1)


def test_the_alert_topics_subscribers_come_from_variables(config):
    subscriptions = resources_of(config, "aws_sns_topic_subscription")
    assert {(s["protocol"], s["for_each"]) for s in subscriptions.values()} == {
        ("email", "${toset(var.alert_emails)}"),
        ("https", "${toset(var.alert_https_endpoints)}"),
    }
    for subscription in subscriptions.values():
        assert subscription["topic_arn"] == ALERT_TOPIC
        assert subscription["endpoint"] == "${each.value}"


def may_publish_to_the_encrypted_alert_topic(config, services: list[str]) -> None:
    """The alert topic's policy lets the services publish to it, in one statement, and the lake
    key's policy lets them encrypt for it."""
    principal = {"type": "Service", "identifiers": services}
    policy = one(list(resources_of(config, "aws_sns_topic_policy").values()))
    assert policy["arn"] == ALERT_TOPIC
    topic = statements_of(policy_document(config, document_reference(policy["policy"])))
    publish = one([s for s in topic if s.get("principals") == [principal]])
    assert (publish["actions"], publish["resources"]) == (["sns:Publish"], [ALERT_TOPIC])
    key = statements_of(policy_document(config, "lake_key"))
    use = one([s for s in key if s.get("principals") == [principal]])
    assert set(use["actions"]) == {"kms:Decrypt", "kms:GenerateDataKey"}


def test_cloudwatch_may_publish_to_the_encrypted_alert_topic(config):
    may_publish_to_the_encrypted_alert_topic(config, ["cloudwatch.amazonaws.com"])


def test_the_budget_and_anomaly_monitor_watch_the_lakes_tag_and_alert_through_the_topic(config):
    """Seed 003's budget alerts (ADR-0140): both read project=lakehouse, both publish to the
    encrypted alert topic, whose policy and key admit exactly their services."""
    budget = one(list(resources_of(config, "aws_budgets_budget").values()))
    assert (budget["budget_type"], budget["time_unit"]) == ("COST", "MONTHLY")
    assert budget["for_each"] == "${local.budgets}"
    assert one(budget["cost_filter"]) == {"name": "TagKeyValue", "values": ["${each.value.tag}"]}
    # The lake's own is the budget `monthly` on the project tag (the mocked plan in
    # terraform/tests/aws_profile.tftest.hcl evaluates local.budgets, teams included).
    budgets = locals_of(config)["budgets"]
    assert 'monthly = {usd = var.monthly_budget_usd, tag = format(local.budget_tag, "project", ' \
        'local.provider_tags.project)}' in budgets  # fmt: skip
    assert budget_alerts(config, budget) == {("ACTUAL", 80), ("FORECASTED", 100)}

    monitor = one(list(resources_of(config, "aws_ce_anomaly_monitor").values()))
    subscription = one(list(resources_of(config, "aws_ce_anomaly_subscription").values()))
    assert monitor["provider"] == subscription["provider"] == "${aws.billing}"  # us-east-1
    assert one(subscription["subscriber"]) == {"type": "SNS", "address": ALERT_TOPIC}
    assert subscription["frequency"] == "IMMEDIATE"

    services = ["budgets.amazonaws.com", "costalerts.amazonaws.com"]
    may_publish_to_the_encrypted_alert_topic(config, services)


def budget_alerts(config, budget: dict) -> set[tuple[str, int]]:
    """(type, threshold %) of each notification a budget makes from local.budget_alerts, each
    to the alert topic."""
    notifications = one([d["notification"] for d in budget["dynamic"] if "notification" in d])
    assert notifications["for_each"] == "${local.budget_alerts}"
    content = one(notifications["content"])
    assert content["subscriber_sns_topic_arns"] == [ALERT_TOPIC]
    assert content["threshold_type"] == "PERCENTAGE"
    assert content["comparison_operator"] == "GREATER_THAN"
    alerts = locals_of(config)["budget_alerts"]
    return {(alert["type"], alert["threshold"]) for alert in alerts}


def test_a_team_that_asks_for_a_budget_gets_one_on_its_team_tag(config):
    """team_monthly_budgets_usd: a budget per team on the `team` cost allocation tag, alerting as
    the lake's does; each team budgeted in an environment is a team the lake knows (the `team`
    values its tagging check accepts)."""
    from lake_assets.cost.tagging import load_tagging_policy
    from lake_assets.cost.tagging_service import lake_vocabulary
    from lake_assets.settings import load_settings

    budgets = locals_of(config)["budgets"]
    assert "for team, usd in var.team_monthly_budgets_usd" in budgets
    assert (
        '"team-${team}-monthly" => {usd = usd, tag = format(local.budget_tag, "team", team)}'
        in budgets
    )
    assert variables_of(config)["team_monthly_budgets_usd"]["default"] == {}
    policy = load_tagging_policy()
    teams = lake_vocabulary(load_settings(), policy)["team"]
    budgeted = {
        name: set(parse_hcl(ENV_DIR / f"{name}.tfvars").get("team_monthly_budgets_usd", {}))
        for name in ENVIRONMENTS
    }
    assert budgeted["prod"], "prod declares team budgets (the example of the variable)"
    for environment, names in budgeted.items():
        assert names <= teams, f"{environment}: {sorted(names - teams)} are no team of the lake"


def test_the_trail_records_the_lake_buckets_objects_and_the_accounts_management_events(config):
    """Seed 003's access logging through CloudTrail (ADR-0141): who read or wrote which object
    of the lake, Athena's reads for a consumer included, validated and encrypted, delivered
    where only this trail may write."""
    trail = one(list(resources_of(config, "aws_cloudtrail").values()))
    assert trail["enable_log_file_validation"] is True and trail["is_multi_region_trail"] is True
    assert trail["kms_key_id"] == "${aws_kms_key.lake.arn}"
    assert (trail["s3_bucket_name"], trail["s3_key_prefix"]) == (
        "${aws_s3_bucket.logs.id}",
        "${local.trail_log_prefix}",
    )
    selectors = {
        selector["name"]: {
            f["field"]: f.get("equals", f.get("starts_with")) for f in selector["field_selector"]
        }
        for selector in trail["advanced_event_selector"]
    }
    assert selectors == {
        "Management events": {"eventCategory": ["Management"]},
        "Objects of the lake bucket": {
            "eventCategory": ["Data"],
            "resources.type": ["AWS::S3::Object"],
            "resources.ARN": ["${aws_s3_bucket.lake.arn}/"],
        },
    }
    cloudtrail = {"type": "Service", "identifiers": ["cloudtrail.amazonaws.com"]}
    bucket = statements_of(policy_document(config, "log_bucket"))
    put = one(
        [
            s
            for s in bucket
            if s.get("principals") == [cloudtrail] and "s3:PutObject" in s["actions"]
        ]
    )
    account = "${data.aws_caller_identity.current.account_id}"
    assert put["resources"] == [f"${{aws_s3_bucket.logs.arn}}/cloudtrail/AWSLogs/{account}/*"]
    conditions = {c["variable"]: c["values"] for c in put["condition"]}
    [trail_arn] = conditions.pop("aws:SourceArn")
    assert trail_arn.endswith(f":{account}:trail/${{var.name_prefix}}-lake-access")
    assert conditions == {"s3:x-amz-acl": ["bucket-owner-full-control"]}
    key = statements_of(policy_document(config, "lake_key"))
    encrypt = one(
        [
            s
            for s in key
            if s.get("principals") == [cloudtrail] and s["actions"] == ["kms:GenerateDataKey"]
        ]
    )
    conditions = {c["variable"]: c["values"] for c in encrypt["condition"]}
    assert conditions["aws:SourceArn"] == [trail_arn]
    assert conditions["kms:EncryptionContext:aws:cloudtrail:arn"][0].endswith(f":{account}:trail/*")


def test_the_orchestrator_reads_the_trails_log_files_and_nothing_else_of_the_log_bucket(config):
    """`lake access reads` (ADR-0157): the trail's own files (not its digests, not the bucket's
    other logs) under the prefix the trail delivers to and the settings read by default, listed
    under that prefix; no other role reaches the log bucket."""
    account = "${data.aws_caller_identity.current.account_id}"
    prefix = locals_of(config)["trail_log_prefix"]
    assert prefix == AwsSettings.cloudtrail_prefix == "cloudtrail"
    on_logs = {
        role: [
            s
            for s in statements_of(_role_document(config, policy))
            if any(str(r).startswith(LOGS_ARN) for r in as_list(s.get("resources", [])))
        ]
        for role, policy in ROLE_POLICIES.items()
    }
    assert {role for role, found in on_logs.items() if found} == {"orchestrator"}
    listing, reading = sorted(on_logs["orchestrator"], key=lambda s: s["sid"])
    assert (listing["sid"], listing["actions"]) == ("ListTrailFiles", ["s3:ListBucket"])
    assert listing["resources"] == [LOGS_ARN]
    assert one(listing["condition"]) == {
        "test": "StringLike",
        "variable": "s3:prefix",
        "values": [f"{prefix}/AWSLogs/*"],
    }
    assert (reading["sid"], reading["actions"]) == ("ReadTrailFiles", ["s3:GetObject"])
    assert reading["resources"] == [f"{LOGS_ARN}/{prefix}/AWSLogs/{account}/CloudTrail/*"]


# --------------------------------------------------------------------------------------------
# Storage lifecycle: colder storage per zone, retention of quarantine and dead letters
# --------------------------------------------------------------------------------------------


# What each rule of local.lake_lifecycle_rules (storage.tf) states: every action, null where the
# rule does not take it (no transitions: []). Both lifecycles read each of them.
LIFECYCLE_RULE_FIELDS = {
    "id",
    "prefix",
    "abort_incomplete_multipart_upload_days",
    "expiration_days",
    "expired_object_delete_marker",
    "noncurrent_version_expiration_days",
    "transitions",
}


def _only_with(field: str) -> str:
    """A dynamic action block's for_each: the block exists where the rule has the action."""
    return f"${{rule.value.{field} == null ? [] : [rule.value.{field}]}}"


def test_the_lake_lifecycle_rules_and_their_order(config):
    """The rules S3 receives for two zones: whole-bucket housekeeping, each zone's transitions,
    then what expires under a prefix, each with its actions and nothing else. The provider keeps
    the rules as a list: another order would be a change to apply."""
    zones = {
        "raw/": [
            {"days": 90, "storage_class": "GLACIER"},
            {"days": 365, "storage_class": "DEEP_ARCHIVE"},
        ],
        "curated/": [{"days": 30, "storage_class": "STANDARD_IA"}],
    }
    rules = lake_lifecycle_rules(config, zones)
    for rule in rules:
        assert set(rule) == LIFECYCLE_RULE_FIELDS, rule["id"]
    assert [(rule["id"], rule["prefix"]) for rule in rules] == [
        ("abort-incomplete-multipart-uploads", None),
        ("expire-noncurrent-versions", None),
        ("transition-curated", "curated/"),
        ("transition-raw", "raw/"),
        ("expire-quarantine", "quarantine/"),
        ("expire-dead-letters", "dead-letter/"),
        ("expire-pipes-messages", "_pipes/"),
        ("expire-athena-results", "athena-results/"),
        ("expire-superseded-site-pages", "site/"),
    ]
    taken = {
        rule["id"]: {
            field: value
            for field, value in rule.items()
            if field not in ("id", "prefix") and value not in (None, [])
        }
        for rule in rules
    }
    assert taken == {
        "abort-incomplete-multipart-uploads": {"abort_incomplete_multipart_upload_days": 7},
        "expire-noncurrent-versions": {
            "noncurrent_version_expiration_days": "${var.noncurrent_version_retention_days}",
            "expired_object_delete_marker": True,
        },
        "transition-curated": {"transitions": zones["curated/"]},
        "transition-raw": {"transitions": zones["raw/"]},
        "expire-quarantine": {"expiration_days": "${var.quarantine_retention_days}"},
        "expire-dead-letters": {"expiration_days": "${var.dead_letter_retention_days}"},
        # Dagster Pipes' message chunks are read once, while their job runs.
        "expire-pipes-messages": {"expiration_days": 3},
        # A consumer's Athena results are fetched once.
        "expire-athena-results": {"expiration_days": 7},
        # The SLO dashboard's superseded pages are kept a day.
        "expire-superseded-site-pages": {"noncurrent_version_expiration_days": 1},
    }


def test_each_lifecycle_rule_becomes_its_s3_rule(config):
    """The lake's lifecycle is local.lake_lifecycle_rules and nothing else, made by
    modules/lifecycle: each rule with its filter (a null prefix: an empty one, the whole bucket;
    the provider wants a filter in every rule) and an action block for each action the rule
    takes, with the rule's value. The replica's calls the module with the same rules
    (test_terraform_dr.py)."""
    assert modules_of(config)["lake_lifecycle"] == {
        "source": "./modules/lifecycle",
        "bucket": "${aws_s3_bucket.lake.id}",
        "rules": "${local.lake_lifecycle_rules}",
        "depends_on": ["${aws_s3_bucket_versioning.lake}"],
    }
    # The lifecycle deployed before the module keeps its object.
    assert {
        "from": "${aws_s3_bucket_lifecycle_configuration.lake}",
        "to": "${module.lake_lifecycle.aws_s3_bucket_lifecycle_configuration.this}",
    } in config["moved"]
    module = module_config(LIFECYCLE_MODULE)
    assert set(labelled_blocks(module, "resource")) == {
        ("aws_s3_bucket_lifecycle_configuration", "this")
    }
    lifecycle = resources_of(module, "aws_s3_bucket_lifecycle_configuration")["this"]
    assert lifecycle["bucket"] == "${var.bucket}"
    assert "rule" not in lifecycle
    rules = one([d["rule"] for d in lifecycle["dynamic"] if "rule" in d])
    assert rules["for_each"] == "${var.rules}"
    content = one(rules["content"])
    assert content["id"] == "${rule.value.id}"
    assert content["status"] == "Enabled"
    assert content["filter"] == [{"prefix": "${rule.value.prefix}"}]
    actions = {block: body for d in content["dynamic"] for block, body in d.items()}
    assert actions == {
        "abort_incomplete_multipart_upload": {
            "for_each": _only_with("abort_incomplete_multipart_upload_days"),
            "content": [{"days_after_initiation": "${abort_incomplete_multipart_upload.value}"}],
        },
        "noncurrent_version_expiration": {
            "for_each": _only_with("noncurrent_version_expiration_days"),
            "content": [{"noncurrent_days": "${noncurrent_version_expiration.value}"}],
        },
        "expiration": {
            "for_each": "${rule.value.expiration_days == null"
            " && rule.value.expired_object_delete_marker == null ? [] : [rule.value]}",
            "content": [
                {
                    "days": "${expiration.value.expiration_days}",
                    "expired_object_delete_marker": (
                        "${expiration.value.expired_object_delete_marker}"
                    ),
                }
            ],
        },
        "transition": {
            "for_each": "${rule.value.transitions}",
            "content": [
                {
                    "days": "${transition.value.days}",
                    "storage_class": "${transition.value.storage_class}",
                }
            ],
        },
    }


def test_raw_objects_move_to_glacier_after_90_days_by_default(config):
    default = variables_of(config)["zone_transitions"]["default"]
    assert default == {"raw/": [{"days": 90, "storage_class": "GLACIER"}]}
    transitions = [rule for rule in lake_lifecycle_rules(config, default) if rule["transitions"]]
    assert [(rule["id"], rule["prefix"], rule["transitions"]) for rule in transitions] == [
        ("transition-raw", "raw/", [{"days": 90, "storage_class": "GLACIER"}])
    ]


def test_quarantine_and_dead_letters_expire_after_their_declared_retention(config):
    rules = {rule["id"]: rule for rule in lake_lifecycle_rules(config, {})}
    for rule_id, prefix, variable in (
        ("expire-quarantine", "quarantine/", "quarantine_retention_days"),
        ("expire-dead-letters", "dead-letter/", "dead_letter_retention_days"),
    ):
        assert rules[rule_id]["prefix"] == prefix
        assert rules[rule_id]["expiration_days"] == f"${{var.{variable}}}"
        assert variables_of(config)[variable]["default"] >= 30
    # Their expired objects' versions go with the versions of the whole bucket.
    versions = rules["expire-noncurrent-versions"]
    assert versions["prefix"] is None and versions["noncurrent_version_expiration_days"]


def test_zone_transitions_are_validated(config):
    """Storage classes S3 knows, 30 days before an infrequent-access class (terraform test
    exercises the refusals with a mocked provider)."""
    conditions = " ".join(
        v["condition"] for v in variables_of(config)["zone_transitions"]["validation"]
    )
    for storage_class in ("STANDARD_IA", "GLACIER", "DEEP_ARCHIVE", "GLACIER_IR"):
        assert f'"{storage_class}"' in conditions
    assert ">=" in conditions and "30" in conditions


# --------------------------------------------------------------------------------------------
# State and environments
# --------------------------------------------------------------------------------------------

ENV_DIR = TF_DIR / "env"
ENVIRONMENTS = ("dev", "prod")


def test_the_root_keeps_its_state_in_a_partial_s3_backend(config):
    terraform = one(config["terraform"])
    backend = one(terraform["backend"])
    assert list(backend) == ["s3"] and not backend["s3"], "the environment's file configures it"
    # use_lockfile (the backend's own lock) needs Terraform 1.10.
    assert terraform["required_version"] == ">= 1.10.0"


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_each_environment_has_a_backend_with_a_lock_file(environment):
    backend = parse_hcl(ENV_DIR / f"{environment}.s3.tfbackend")
    assert backend["use_lockfile"] is True and backend["encrypt"] is True
    assert environment in backend["key"]
    assert "dynamodb_table" not in backend


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_an_environments_variables_are_declared_and_complete(config, environment):
    values = parse_hcl(ENV_DIR / f"{environment}.tfvars")
    variables = variables_of(config)
    assert set(values) <= set(variables), f"undeclared: {sorted(set(values) - set(variables))}"
    required = {name for name, body in variables.items() if "default" not in body}
    assert required <= set(values), f"{environment} must set {sorted(required - set(values))}"
    assert values["environment"] == environment


def test_the_environments_are_the_ones_the_files_hold():
    assert {p.name.split(".")[0] for p in ENV_DIR.iterdir()} == set(ENVIRONMENTS)


def test_the_state_bucket_is_versioned_encrypted_private_and_tls_only():
    bootstrap: dict[str, list] = {}
    for path in BOOTSTRAP_FILES:
        for kind, entries in parse_hcl(path).items():
            bootstrap.setdefault(kind, []).extend(entries)
    versioning = resources_of(bootstrap, "aws_s3_bucket_versioning")["state"]
    assert one(versioning["versioning_configuration"])["status"] == "Enabled"
    sse = one(
        resources_of(bootstrap, "aws_s3_bucket_server_side_encryption_configuration")["state"][
            "rule"
        ]
    )
    default = one(sse["apply_server_side_encryption_by_default"])
    assert default == {"sse_algorithm": "aws:kms", "kms_master_key_id": "${aws_kms_key.state.arn}"}
    block = resources_of(bootstrap, "aws_s3_bucket_public_access_block")["state"]
    assert all(
        block[flag] is True
        for flag in (
            "block_public_acls",
            "block_public_policy",
            "ignore_public_acls",
            "restrict_public_buckets",
        )
    )
    documents = policy_documents(bootstrap)
    deny = one(statements_of(documents["state_bucket"]))
    assert deny["effect"] == "Deny"
    assert one(deny["condition"])["variable"] == "aws:SecureTransport"
    assert resources_of(bootstrap, "aws_kms_key")["state"]["enable_key_rotation"] is True
    tags = one(one(bootstrap["provider"])["aws"]["default_tags"])["tags"]
    for tag in ("team", "pipeline", "environment"):
        assert tag in tags, tag


# --------------------------------------------------------------------------------------------
# Outputs: one per environment variable the code reads
# --------------------------------------------------------------------------------------------


def test_env_vars_are_the_ones_settings_reads():
    read = set(re.findall(r'env\.get\("(LAKE_[A-Z0-9_]+)"', SETTINGS_FILE.read_text()))
    read |= ENV_READ_ELSEWHERE
    missing = set(ENV_OUTPUTS) - read
    assert not missing, f"settings.py does not read {sorted(missing)}; outputs would be unused"


def test_every_required_output_exists(config):
    outputs = {name: body for entry in config["output"] for name, body in entry.items()}
    missing = [name for name in ENV_OUTPUTS.values() if name not in outputs]
    assert not missing, f"missing outputs: {missing}"
    assert outputs["lake_env"]["value"] == "${local.lake_env}"
    lake_env = locals_of(config)["lake_env"]
    for env_var, output in ENV_OUTPUTS.items():
        assert lake_env.get(env_var) == outputs[output]["value"], (
            f"lake_env[{env_var}] = {lake_env.get(env_var)!r} but output {output} = "
            f"{outputs[output]['value']!r}"
        )
    assert lake_env.get("LAKE_PROFILE") == "aws"


# --------------------------------------------------------------------------------------------
# terraform itself, where it is installed with a local copy of the AWS provider
# --------------------------------------------------------------------------------------------

PLUGIN_DIR = Path(os.environ.get("LAKE_TF_PLUGIN_DIR", "/opt/tf-plugins"))


@pytest.mark.skipif(
    shutil.which("terraform") is None or not PLUGIN_DIR.is_dir(),
    reason="terraform or a local AWS provider (LAKE_TF_PLUGIN_DIR) is not installed",
)
def test_terraform_validate_and_mocked_test(tmp_path):
    work = tmp_path / "terraform"
    shutil.copytree(TF_DIR, work, ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*"))
    # consumers.tf reads the access profiles from the repository's config, beside terraform/.
    shutil.copytree(REPO_ROOT / "config" / "access", tmp_path / "config" / "access")
    env = {
        **os.environ,
        "TF_IN_AUTOMATION": "1",
        "TF_CLI_CONFIG_FILE": os.devnull,
        "CHECKPOINT_DISABLE": "1",
    }

    def run(*args: str, cwd: Path = work) -> None:
        result = subprocess.run(
            ["terraform", *args, "-no-color"],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, (
            f"terraform {args[0]} failed:\n{result.stdout}\n{result.stderr}"
        )

    run("init", "-backend=false", "-input=false", f"-plugin-dir={PLUGIN_DIR}")
    run("validate")
    run("test")
    for environment in ENVIRONMENTS:  # each environment's variables pass the validations
        run("test", "-test-directory=tests/environments", f"-var-file=env/{environment}.tfvars")
    bootstrap = work / "bootstrap"  # the state bucket's own root module
    run("init", "-backend=false", "-input=false", f"-plugin-dir={PLUGIN_DIR}", cwd=bootstrap)
    run("validate", cwd=bootstrap)


def test_the_compute_log_grants_cover_every_call_dagster_aws_makes_for_them():
    """COMPUTE_LOG_CALLS (the orchestrator's grants on _dagster/) names every method the S3
    compute log manager calls on its client: a dagster-aws upgrade that calls another fails
    here until its requests are stated and granted."""
    import inspect

    import dagster_aws.s3.compute_log_manager as manager

    called = set(re.findall(r"_s3_session\.([a-z_0-9]+)\(", inspect.getsource(manager)))
    assert {"upload_fileobj", "download_fileobj", "delete_objects"} <= called
    assert called <= set(COMPUTE_LOG_CALLS), sorted(called - set(COMPUTE_LOG_CALLS))
