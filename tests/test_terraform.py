"""Static checks of terraform/ (the aws profile): it parses, its IAM is least-privilege, and it
provides what the code reads. No AWS account or terraform binary is needed; when terraform and
a local copy of the AWS provider exist, `terraform validate` and `terraform test` run as well.

python-hcl2 8 keeps HCL syntax in what it returns: string literals keep their quotes
('"s3:GetObject"'), references come back as '${aws_s3_bucket.lake.arn}', block labels are quoted
and every block carries '__is_block__'. `_clean` turns that into plain values, so a literal is
'raw/' and a reference stays recognisable by its '${'.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path

import hcl2
import pytest
from aws_calls import RECORD_COMMAND, RECORDING, AwsCall, load_recording
from ecs_launcher_calls import (
    actions_in_source,
    launcher_actions,
    launcher_method_actions,
    pipes_termination_calls,
)
from iam_grants import COMPUTE_LOG_CALLS, S3_OBJECT_ACTIONS, Grants, grants_of

from lake_assets.access.tokens import SECRET_ENV
from lake_assets.alarms.model import METRICS
from lake_assets.cost.model import CUR_COLUMNS, OPTIONAL_CUR_COLUMNS
from lake_assets.tables.locations import CUR_EXPORT, CUR_EXPORT_PREFIX
from resources.aws.cloudwatch import LAKE_DIMENSION, NAMESPACE

REPO_ROOT = Path(__file__).resolve().parents[1]
TF_DIR = REPO_ROOT / "terraform"
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
}
# Read outside settings.py: where lake_token's key is goes into a gold job's plan (tokens.py).
ENV_READ_ELSEWHERE = {SECRET_ENV}

# The role policy of each role the recording names (tests/aws_calls.py).
ROLE_POLICIES = {"orchestrator": "orchestrator", "job": "emr_execution"}

# "service:Action" with nothing but letters and digits in the action: no "*" or "?" anywhere.
LITERAL_ACTION = re.compile(r"^[a-z0-9-]+:[A-Za-z0-9]+$")
LAKE_ARN = "${aws_s3_bucket.lake.arn}"
# One zone of the bucket and what is in it: "${aws_s3_bucket.lake.arn}/raw/*" -> "raw/".
ZONE_OBJECTS = re.compile(re.escape(LAKE_ARN) + r"/([A-Za-z0-9_-]+/)\*")


# --------------------------------------------------------------------------------------------
# Parsing helpers
# --------------------------------------------------------------------------------------------


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        return text[1:-1]
    return text


# Keys python-hcl2 adds to what it returns: block markers, and a file's comments.
HCL2_MARKERS = {"__is_block__", "__comments__"}


def _clean(value):
    """python-hcl2 8 output -> plain Python values (literals unquoted, block markers dropped)."""
    if isinstance(value, dict):
        return {_unquote(k): _clean(v) for k, v in value.items() if k not in HCL2_MARKERS}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, str):
        return _unquote(value)
    return value


def _parse(path: Path) -> dict:
    with path.open() as handle:
        return _clean(hcl2.load(handle))


@pytest.fixture(scope="module")
def config() -> dict[str, list]:
    """Every top-level block of terraform/*.tf, merged by kind ("resource", "data", ...)."""
    merged: dict[str, list] = {}
    for path in sorted(TF_DIR.glob("*.tf")):
        for kind, entries in _parse(path).items():
            merged.setdefault(kind, []).extend(entries)
    return merged


def _labelled(config: dict, kind: str) -> dict[tuple[str, str], dict]:
    """{(type, name): body} for two-label blocks (resource, data)."""
    found = {}
    for entry in config.get(kind, []):
        for type_, named in entry.items():
            for name, body in named.items():
                assert (type_, name) not in found, f"duplicate {kind} {type_}.{name}"
                found[(type_, name)] = body
    return found


def _locals(config) -> dict:
    return {k: v for block in config.get("locals", []) for k, v in block.items()}


def _resources(config, type_: str) -> dict[str, dict]:
    return {name: body for (t, name), body in _labelled(config, "resource").items() if t == type_}


LOCAL_REFERENCE = re.compile(r"\$\{local\.([A-Za-z0-9_]+)\}")


def _resolve_locals(value, locals_: dict):
    """Substitute '${local.x}' by the local's (string) expression, so a wildcard or a bucket-wide
    ARN kept in a local is seen where it is used."""
    if isinstance(value, dict):
        return {k: _resolve_locals(v, locals_) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_locals(v, locals_) for v in value]
    if isinstance(value, str):
        for _ in range(10):  # locals may refer to locals
            expanded = LOCAL_REFERENCE.sub(
                lambda m: locals_[m.group(1)] if isinstance(locals_.get(m.group(1)), str) else m[0],
                value,
            )
            if expanded == value:
                break
            value = expanded
    return value


def _policy_documents(config) -> dict[str, dict]:
    """Every aws_iam_policy_document, with locals resolved."""
    locals_ = {k: v for block in config.get("locals", []) for k, v in block.items()}
    return {
        name: _resolve_locals(body, locals_)
        for (t, name), body in _labelled(config, "data").items()
        if t == "aws_iam_policy_document"
    }


def _statements(document: dict) -> list[dict]:
    """Static statements and the content of `dynamic "statement"` blocks."""
    statements = list(document.get("statement", []))
    for dynamic in document.get("dynamic", []):
        if "statement" in dynamic:
            statements.extend(dynamic["statement"].get("content", []))
    return statements


def one(items: list):
    assert len(items) == 1, items
    return items[0]


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def _reference_target(expression: str) -> str | None:
    """'${data.aws_iam_policy_document.x.json}' -> 'x'; anything else -> None."""
    match = re.fullmatch(r"\$\{data\.aws_iam_policy_document\.([A-Za-z0-9_-]+)\.json\}", expression)
    return match.group(1) if match else None


def _key_policy_documents(config) -> set[str]:
    return {
        _reference_target(body["policy"])
        for body in _resources(config, "aws_kms_key").values()
        if "policy" in body
    }


# --------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------


def test_expected_files_exist():
    present = {p.name for p in TF_DIR.glob("*.tf")}
    missing = [name for name in EXPECTED_FILES if name not in present]
    assert not missing, f"missing terraform files: {missing}"


@pytest.mark.parametrize("path", sorted(TF_DIR.glob("*.tf")), ids=lambda p: p.name)
def test_every_tf_file_parses(path):
    parsed = _parse(path)
    assert parsed, f"{path.name} parsed to nothing"


def test_clean_unquotes_literals_and_keeps_references():
    raw = hcl2.loads(
        'x = ["s3:GetObject", "${aws_s3_bucket.lake.arn}/raw/*", aws_s3_bucket.lake.arn]\n'
    )
    assert _clean(raw)["x"] == [
        "s3:GetObject",
        "${aws_s3_bucket.lake.arn}/raw/*",
        "${aws_s3_bucket.lake.arn}",
    ]


# --------------------------------------------------------------------------------------------
# IAM: every policy is an aws_iam_policy_document, and no document has a wildcard
# --------------------------------------------------------------------------------------------


POLICY_ATTRIBUTES = {"policy", "assume_role_policy"}


def test_every_policy_attribute_comes_from_a_policy_document(config):
    """So the wildcard checks below see every policy: no jsonencode() or heredoc policies."""
    documents = _policy_documents(config)
    seen = 0
    for (type_, name), body in _labelled(config, "resource").items():
        for attribute in POLICY_ATTRIBUTES & set(body):
            seen += 1
            target = _reference_target(body[attribute])
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
        _reference_target(body["policy"])
        for body in _resources(config, "aws_ecr_repository_policy").values()
    }


# Actions AWS authorises on "*" only (no resource type in the Service Authorization Reference),
# each with the condition key that must narrow it, or None where no key can.
STAR_ONLY_ACTIONS = {
    "cloudwatch:PutMetricData": "cloudwatch:namespace",
    "ecr:GetAuthorizationToken": None,
    "ecs:DescribeTaskDefinition": None,
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
    statements = _statements(document)
    if not statements:
        problems.append(f"{name}: no statements found")
    for index, statement in enumerate(statements):
        where = f"{name}.statement[{statement.get('sid', index)}]"
        effect = statement.get("effect", "Allow")
        for field in ("not_actions", "not_resources", "not_principals"):
            if field in statement:
                problems.append(f"{where}: {field} is a wildcard in disguise")
        actions = _as_list(statement.get("actions", []))
        if not actions:
            problems.append(f"{where}: no actions")
        for action in actions:
            if not isinstance(action, str) or not LITERAL_ACTION.fullmatch(action):
                problems.append(f"{where}: action {action!r} is not one literal action")
        resources = statement.get("resources")
        if resources is None:
            if set(actions) != {"sts:AssumeRole"} and not resource_implied:
                problems.append(f"{where}: no resources (only trust policies may omit them)")
        else:
            for resource in _as_list(resources):
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
            identifiers = _as_list(principal.get("identifiers", []))
            if effect == "Allow" and any("*" in str(i) for i in identifiers):
                problems.append(f"{where}: Allow for a wildcard principal {identifiers}")
    return problems


def test_policy_documents_have_no_wildcard_actions_or_resources(config):
    documents = _policy_documents(config)
    key_policies = _key_policy_documents(config)
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
    body = _resources(config, "aws_iam_role_policy")[role_policy]
    return _policy_documents(config)[_reference_target(body["policy"])]


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
    statements = _statements(_role_document(config, ROLE_POLICIES[role]))
    assert all(s.get("effect", "Allow") == "Allow" for s in statements)
    granted = {a for s in statements for a in _as_list(s["actions"])}
    assert granted == needed[role].actions, _difference(granted, needed[role].actions)


def test_every_recorded_role_has_a_policy(needed):
    assert set(needed) == set(ROLE_POLICIES)


@pytest.mark.parametrize("role", sorted(ROLE_POLICIES))
def test_s3_grants_are_the_zones_the_code_touches(config, needed, role):
    """Object actions per zone ("<bucket>/raw/*") and ListBucket narrowed by s3:prefix to
    zones, each exactly what the code does there."""
    objects, listed = set(), set()
    for statement in _statements(_role_document(config, ROLE_POLICIES[role])):
        actions = set(_as_list(statement["actions"]))
        resources = _as_list(statement["resources"])
        if actions & S3_OBJECT_ACTIONS:
            assert actions <= S3_OBJECT_ACTIONS, f"mix of S3 object and other actions: {actions}"
            for resource in resources:
                zone = ZONE_OBJECTS.fullmatch(resource)
                assert zone, f"{role}: object grant on {resource!r}, not on one zone"
                objects |= {(action, zone.group(1)) for action in actions}
        if "s3:ListBucket" in actions:
            assert resources == [LAKE_ARN], f"{role}: ListBucket on {resources}"
            conditions = statement.get("condition", [])
            prefixes = [c for c in conditions if c["variable"] == "s3:prefix"]
            assert prefixes, f"{role}: ListBucket without an s3:prefix condition"
            assert all(c["test"] == "StringLike" for c in prefixes)
            for value in (v for c in prefixes for v in _as_list(c["values"])):
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
        for s in _statements(_role_document(config, ROLE_POLICIES["orchestrator"]))
        if "iam:PassRole" in _as_list(s["actions"])
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
            for s in _statements(_role_document(config, ROLE_POLICIES[role]))
            if any(a.startswith("secretsmanager:") for a in _as_list(s["actions"]))
        ]
        assert len(statements) == 1, (role, statements)
        assert statements[0]["actions"] == ["secretsmanager:GetSecretValue"], role
        assert statements[0]["resources"] == secrets, role


def test_secrets_use_the_lake_key_and_terraform_holds_no_value(config):
    """Secret values are put by their owners (terraform/secrets.tf), so no state file holds one."""
    secrets = _resources(config, "aws_secretsmanager_secret")
    assert {"crm_db", "lake_token"} <= set(secrets)
    for name, secret in secrets.items():
        assert secret["kms_key_id"] == "${aws_kms_key.lake.arn}", name
    assert not _resources(config, "aws_secretsmanager_secret_version")


def test_arrivals_queue_accepts_only_s3_from_the_lake_bucket(config):
    queue_policy = one(list(_resources(config, "aws_sqs_queue_policy").values()))
    assert queue_policy["queue_url"] == "${aws_sqs_queue.arrivals.id}"
    document = _policy_documents(config)[_reference_target(queue_policy["policy"])]
    statement = one(_statements(document))
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
    [export] = _resources(config, "aws_bcmdataexports_export")["cur"]["export"]
    locals_ = _locals(config)
    assert _resolve_locals(export["name"], locals_) == CUR_EXPORT
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
    bucket = _statements(_policy_documents(config)["lake_bucket"])
    [delivers] = [s for s in bucket if s["effect"] == "Allow"]
    assert delivers["principals"] == [
        {"type": "Service", "identifiers": ["bcm-data-exports.amazonaws.com"]}
    ]
    assert sorted(delivers["actions"]) == ["s3:GetBucketPolicy", "s3:PutObject"]
    conditions = {c["variable"]: c["values"] for c in delivers["condition"]}
    assert conditions["aws:SourceAccount"] == [account]
    assert conditions["aws:SourceArn"][0].endswith(exports)
    key = {s["sid"]: s for s in _statements(_policy_documents(config)["lake_key"])}
    encrypts = key["DataExportsEncryptsTheBill"]
    assert encrypts["principals"] == delivers["principals"]
    assert sorted(encrypts["actions"]) == ["kms:Decrypt", "kms:GenerateDataKey"]
    conditions = {c["variable"]: c["values"] for c in encrypts["condition"]}
    assert conditions == {
        "aws:SourceAccount": [account],
        "kms:ViaService": ["s3.${data.aws_region.current.name}.amazonaws.com"],
    }


def test_s3_notification_sends_each_pipelines_raw_objects_to_the_arrivals_queue(config):
    notification = _resources(config, "aws_s3_bucket_notification")["lake"]
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


PIPELINE_MODULES = sorted((TF_DIR / "pipelines").glob("**/*.tf"))


@pytest.mark.parametrize("path", PIPELINE_MODULES, ids=lambda p: str(p.relative_to(TF_DIR)))
def test_every_generated_pipeline_module_parses_and_writes_its_stamp_object(path):
    """terraform/pipelines/<name>/*.tf (rendered by `lake generate`): the stamp object the drift
    check reads, under the prefix the orchestrator may read, encrypted with the lake key."""
    parsed = _parse(path)
    if path.name != "main.tf":
        return  # parsed is enough: the stamp object is main.tf's
    stamp = _resources(parsed, "aws_s3_object")["pipeline_stamp"]
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
        for statement in _statements(_role_document(config, policy))
        if table in _as_list(statement["resources"])
        for action in _as_list(statement["actions"])
    }
    assert granted == {("orchestrator", "dynamodb:PutItem"), ("orchestrator", "dynamodb:Scan")}


def test_every_dynamodb_table_is_on_demand_recoverable_and_encrypted(config):
    body = _resources(config, "aws_dynamodb_table")["lake"]
    assert body["for_each"] == "${local.dynamodb_tables}"
    assert body["billing_mode"] == "PAY_PER_REQUEST"
    assert body["deletion_protection_enabled"] is True
    attribute = one(body["dynamic"])["attribute"]
    assert "each.value.hash_key" in attribute["for_each"]
    assert "each.value.range_key" in attribute["for_each"]
    assert one(body["point_in_time_recovery"])["enabled"] is True
    sse = one(body["server_side_encryption"])
    assert sse["enabled"] is True and sse["kms_key_arn"] == "${aws_kms_key.lake.arn}"
    # A deployed stack keeps its tables: each old resource address moves into the map.
    moved = {(m["from"], m["to"]) for m in config.get("moved", [])}
    assert len(moved) == 6 and all("aws_dynamodb_table.lake[" in to for _, to in moved)


def test_data_at_rest_uses_the_customer_managed_key(config):
    key = _resources(config, "aws_kms_key")["lake"]
    assert key["enable_key_rotation"] is True
    sse = one(
        _resources(config, "aws_s3_bucket_server_side_encryption_configuration")["lake"]["rule"]
    )
    default = one(sse["apply_server_side_encryption_by_default"])
    assert default == {"sse_algorithm": "aws:kms", "kms_master_key_id": "${aws_kms_key.lake.arn}"}
    for name, queue in _resources(config, "aws_sqs_queue").items():
        assert queue.get("kms_master_key_id") == "${aws_kms_key.lake.arn}", name
    for name, topic in _resources(config, "aws_sns_topic").items():
        assert topic.get("kms_master_key_id") == "${aws_kms_key.lake.arn}", name
    arrivals = _resources(config, "aws_sqs_queue")["arrivals"]
    assert "aws_sqs_queue.arrivals_dlq.arn" in arrivals["redrive_policy"]


def test_lake_bucket_is_private_versioned_logged_and_expires_old_versions(config):
    access_block = _resources(config, "aws_s3_bucket_public_access_block")["lake"]
    for flag in (
        "block_public_acls",
        "block_public_policy",
        "ignore_public_acls",
        "restrict_public_buckets",
    ):
        assert access_block[flag] is True, flag
    versioning = _resources(config, "aws_s3_bucket_versioning")["lake"]
    assert one(versioning["versioning_configuration"])["status"] == "Enabled"
    logging = _resources(config, "aws_s3_bucket_logging")["lake"]
    assert logging["target_bucket"] == "${aws_s3_bucket.logs.id}"
    rules = _resources(config, "aws_s3_bucket_lifecycle_configuration")["lake"]["rule"]
    assert any("abort_incomplete_multipart_upload" in r for r in rules)
    assert any("noncurrent_version_expiration" in r for r in rules)


def _provider_tags(config) -> list[str]:
    """Each aws provider block's default_tags expression, a local it names resolved."""
    providers = [block["aws"] for block in config["provider"] if "aws" in block]
    assert providers
    return [
        _resolve_locals(one(provider["default_tags"])["tags"], _locals(config))
        for provider in providers
    ]


def test_default_tags(config):
    for tags in _provider_tags(config):
        assert tags.startswith("${merge(var.tags,"), tags
        for key, value in {
            "project": "lakehouse",
            "managed_by": "terraform",
            "data_classification": "confidential",
        }.items():
            assert re.search(rf'\b{key}\s*=\s*\\?"{value}\\?"', tags), f"{key} missing: {tags}"


# --------------------------------------------------------------------------------------------
# Cost tags: every taggable resource carries team, pipeline and environment (issue 16), the
# tags `lake cost tags` and the asset check cost/cur:tags_complete require of the bill
# --------------------------------------------------------------------------------------------

# Resource types by whether they take tags, as the AWS provider's schema says (checked with
# `terraform providers schema -json`, hashicorp/aws 5.100.0: each taggable one has `tags` and
# `tags_all`, so the provider's default_tags reach it). A new type fails
# test_every_resource_type_is_placed until it is placed here.
TAGGABLE = {
    "aws_bcmdataexports_export",
    "aws_cloudwatch_log_group",
    "aws_cloudwatch_metric_alarm",
    "aws_cognito_user_pool",
    "aws_db_instance",
    "aws_db_parameter_group",
    "aws_db_subnet_group",
    "aws_dynamodb_table",
    "aws_ecs_cluster",
    "aws_ecs_service",
    "aws_ecs_task_definition",
    "aws_lb",
    "aws_lb_listener",
    "aws_lb_target_group",
    "aws_security_group",
    "aws_vpc_security_group_egress_rule",
    "aws_vpc_security_group_ingress_rule",
    "aws_ecr_repository",
    "aws_emrserverless_application",
    "aws_glue_catalog_database",
    "aws_iam_policy",
    "aws_iam_role",
    "aws_kms_key",
    "aws_s3_bucket",
    "aws_s3_object",
    "aws_secretsmanager_secret",
    "aws_sns_topic",
    "aws_sqs_queue",
}
UNTAGGABLE = {
    "aws_cognito_user_pool_client",
    "aws_cognito_user_pool_domain",
    "aws_ecr_repository_policy",
    "aws_ecs_cluster_capacity_providers",
    "aws_iam_role_policy_attachment",
    "aws_sns_topic_policy",
    "aws_sns_topic_subscription",
    "aws_glue_data_catalog_encryption_settings",
    "aws_iam_role_policy",
    "aws_kms_alias",
    "aws_s3_bucket_lifecycle_configuration",
    "aws_s3_bucket_logging",
    "aws_s3_bucket_notification",
    "aws_s3_bucket_ownership_controls",
    "aws_s3_bucket_policy",
    "aws_s3_bucket_public_access_block",
    "aws_s3_bucket_server_side_encryption_configuration",
    "aws_s3_bucket_versioning",
    "aws_sqs_queue_policy",
    "aws_sqs_queue_redrive_allow_policy",
}
# Taggable types whose tags the provider's default_tags do not reach (the block that carries
# them instead): none is declared today; one that is must name the required tags itself.
OWN_TAG_BLOCKS = {
    "aws_autoscaling_group": "tag",  # the group's tags, propagated to its instances
    "aws_launch_template": "tag_specifications",  # the instances and volumes it launches
}
# S3 allows at most 10 tags on an object (default_tags included).
S3_OBJECT_TAG_LIMIT = 10


@pytest.fixture(scope="module")
def tagging():
    """The required tags and the values the lake knows (config/cost/tagging.yaml, the lake's
    owners and pipelines), as the tagging check sees them."""
    from lake_assets.cost.tagging import load_tagging_policy
    from lake_assets.cost.tagging_service import lake_vocabulary
    from lake_assets.settings import load_settings

    policy = load_tagging_policy()
    return policy, lake_vocabulary(load_settings(), policy)


BOOTSTRAP_FILES = sorted((TF_DIR / "bootstrap").glob("*.tf"))


@cache
def _every_resource() -> list[tuple[str, str, str, dict]]:
    """(file, type, name, body) of each resource of the root, the pipeline modules and the state
    bootstrap."""
    found = []
    for path in sorted(TF_DIR.glob("*.tf")) + PIPELINE_MODULES + BOOTSTRAP_FILES:
        for entry in _parse(path).get("resource", []):
            for type_, named in entry.items():
                for name, body in named.items():
                    found.append((str(path.relative_to(TF_DIR)), type_, name, body))
    return found


def _literal_tag(expression: str, tag: str) -> str | None:
    """The value a tags expression gives `tag` ('team = "x"' -> 'x', 'team = null' -> 'null',
    'team = var.team' -> 'var.team'); None when it does not set it."""
    found = re.search(rf'(?:^|[{{,\s"]){tag}"?\s*=\s*(\\?"[^"\\]*\\?"|[A-Za-z_][\w.]*)', expression)
    return found.group(1).replace('\\"', '"').strip('"') if found else None


def test_every_resource_type_is_placed():
    types = {type_ for _, type_, _, _ in _every_resource()}
    unplaced = types - TAGGABLE - UNTAGGABLE - set(OWN_TAG_BLOCKS)
    assert not unplaced, f"place {sorted(unplaced)} in TAGGABLE, UNTAGGABLE or OWN_TAG_BLOCKS"
    assert types & TAGGABLE, "no taggable resource found: did the parser miss blocks?"


def test_the_provider_tags_every_resource_with_the_required_tags(config, tagging):
    """default_tags reach every taggable resource of the provider, the modules' too (they
    declare no provider of their own); the required tags come last in the merge, from their
    own variables, whose defaults are values the lake knows."""
    policy, known = tagging
    for tags in _provider_tags(config):
        for tag in policy.required_tags:
            assert _literal_tag(tags, tag) == f"var.{tag}", f"default_tags: {tag} in {tags}"
    variables = {name: body for entry in config["variable"] for name, body in entry.items()}
    extra = one(variables["tags"]["validation"])["condition"]
    assert all(f'"{tag}"' in extra for tag in policy.required_tags), extra
    assert variables["team"]["default"] in known["team"]
    assert variables["pipeline"]["default"] in policy.shared_pipelines
    assert variables["environment"]["default"] in policy.environments
    allowed = one(variables["environment"]["validation"])["condition"]
    assert re.findall(r'"([a-z]+)"', allowed) == list(policy.environments), allowed
    for path in PIPELINE_MODULES:
        assert "provider" not in _parse(path), f"{path}: a module's own provider drops default_tags"
    for entry in config["module"]:
        for name, body in entry.items():
            assert "providers" not in body, f"module {name} must use the root's aws provider"


def test_no_resource_overrides_a_required_tag_with_a_bad_value(tagging):
    """A resource's own tags win over default_tags key by key: one that sets a required tag
    must set a value the lake knows (an empty or null one would drop it)."""
    policy, known = tagging
    problems = []
    for file, type_, name, body in _every_resource():
        for tag in policy.required_tags:
            value = _literal_tag(str(body.get("tags", "")), tag)
            if value is None or value.startswith(("var.", "local.")):
                continue  # not set here, or set from a checked variable or local
            if value in ("", "null") or (tag in known and value not in known[tag]):
                problems.append(f"{file}: {type_}.{name} sets {tag} = {value!r}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", PIPELINE_MODULES, ids=lambda p: str(p.relative_to(TF_DIR)))
def test_a_pipelines_resources_carry_its_own_pipeline_and_team(path, tagging):
    """The generated module (lake_assets/pipelines/templates/main.tf.j2) sets pipeline and team
    last in each resource's merge, so neither the provider's platform defaults nor the spec's
    tags replace them; environment stays the provider's."""
    if path.name != "main.tf":
        return
    _, known = tagging
    parsed = _parse(path)
    locals_ = {k: v for block in parsed["locals"] for k, v in block.items()}
    name = path.parent.name
    assert locals_["stamp"]["pipeline"] == name
    cost_tags = locals_["cost_tags"]
    assert cost_tags["pipeline"] == "${local.stamp.pipeline}"
    assert cost_tags["team"] in known["team"] and name in known["pipeline"]
    resources = [
        body for entry in parsed["resource"] for named in entry.values() for body in named.values()
    ]
    for body in resources:
        assert re.fullmatch(r"\$\{merge\(.*, local\.cost_tags\)\}", body["tags"]), body["tags"]


def test_a_pipelines_stamp_object_stays_within_the_tags_s3_allows(config):
    """default_tags, the spec's tags (pipelines.tf) and the stamp's own: at most 10 on an object
    (a spec with more tags fails the apply)."""
    defaults = {key for tags in _provider_tags(config) for key in re.findall(r"(\w+)\s*=", tags)}
    modules = {name: body for entry in config["module"] for name, body in entry.items()}
    for path in PIPELINE_MODULES:
        if path.name != "main.tf":
            continue
        parsed = _parse(path)
        locals_ = {k: v for block in parsed["locals"] for k, v in block.items()}
        stamp = _resources(parsed, "aws_s3_object")["pipeline_stamp"]
        own = set(re.findall(r"(\w+)\s*=", stamp["tags"])) | set(locals_["cost_tags"])
        spec = set(modules[f"pipeline_{path.parent.name}"]["tags"])
        assert len(defaults | own | spec) <= S3_OBJECT_TAG_LIMIT, sorted(defaults | own | spec)


def _own_tag_problems(type_: str, name: str, body: dict, required) -> list[str]:
    block = OWN_TAG_BLOCKS[type_]
    text = str(body.get(block, ""))
    return [f"{type_}.{name}: {tag} missing from {block}" for tag in required if tag not in text]


def test_types_default_tags_miss_carry_the_required_tags_themselves(tagging):
    policy, _ = tagging
    problems = [
        problem
        for _, type_, name, body in _every_resource()
        if type_ in OWN_TAG_BLOCKS
        for problem in _own_tag_problems(type_, name, body, policy.required_tags)
    ]
    assert not problems, "\n".join(problems)
    # The rule bites: an autoscaling group tagging its instances with the team only.
    group = _clean(
        hcl2.loads(
            'resource "aws_autoscaling_group" "workers" {\n'
            '  tag {\n    key = "team"\n    value = "data-platform"\n'
            "    propagate_at_launch = true\n  }\n}\n"
        )
    )["resource"][0]["aws_autoscaling_group"]["workers"]
    assert _own_tag_problems("aws_autoscaling_group", "workers", group, policy.required_tags) == [
        "aws_autoscaling_group.workers: pipeline missing from tag",
        "aws_autoscaling_group.workers: environment missing from tag",
    ]


@pytest.mark.parametrize(
    "expression, tag, value",
    [
        ('${merge(var.tags, {team = var.team, pipeline = "x"})}', "team", "var.team"),
        ('${merge(var.tags, {team = var.team, pipeline = "x"})}', "pipeline", "x"),
        ('${{team = ""}}', "team", ""),
        ("${{team = null}}", "team", "null"),
        ('${merge(var.tags, {lake_pipeline = "x"})}', "pipeline", None),
        ('${{"environment" = "dev"}}', "environment", "dev"),
    ],
)
def test_literal_tag_reads_what_an_expression_sets(expression, tag, value):
    assert _literal_tag(expression, tag) == value


# --------------------------------------------------------------------------------------------
# Dagster in AWS (ecs.tf, ecs_iam.tf, database.tf, web.tf): its roles, database and front door
# --------------------------------------------------------------------------------------------

# EcsRunLauncher calls that the rendered dagster.yaml never reaches (its run_launcher, from the
# dagster_instance output: task_definition set, use_current_ecs_task_config false, secrets_tag
# null), so the daemon is not granted them. Each must still be in dagster-aws's code: a stale
# entry fails.
LAUNCHER_CALLS_NOT_REACHED = {
    "ecs:RegisterTaskDefinition": "task_definition names Terraform's run task definition",
    "ec2:DescribeNetworkInterfaces": "subnets and security groups come from the instance config",
    "secretsmanager:ListSecrets": "secrets_tag is null: no secrets are looked up by tag",
    "secretsmanager:DescribeSecret": "no secrets are given as bare ARNs",
}
# What IAM authorises a launcher call with besides its own action: RunTask tags the task at
# launch (TagResource) and hands ECS the run task definition's roles (PassRole).
LAUNCHER_ALSO_NEEDED = {"ecs:RunTask": {"ecs:TagResource", "iam:PassRole"}}
ECS_TASKS = "ecs-tasks.amazonaws.com"
COMPUTE_LOGS = "_dagster/compute-logs/"


def _document(config, name: str) -> dict:
    return _policy_documents(config)[name]


def _actions(document: dict) -> set[str]:
    return {a for s in _statements(document) for a in _as_list(s["actions"])}


def _by_sid(document: dict) -> dict[str, dict]:
    return {s["sid"]: s for s in _statements(document)}


def test_the_launcher_scan_finds_the_calls_of_dagster_aws():
    """The scan reads dagster-aws's source: RunTask and StopTask are the launcher's own calls."""
    assert {"ecs:RunTask", "ecs:StopTask", "ecs:DescribeTasks"} <= launcher_actions()
    assert launcher_method_actions("terminate") == {"ecs:DescribeTasks", "ecs:StopTask"}


def test_the_launcher_scan_reads_client_calls_paginators_and_resource_loads():
    source = """
        def launch(self, ecs, secrets_manager, ec2):
            self.ecs.run_task(cluster="c")
            secrets_manager.get_paginator("list_secrets")
            ec2.NetworkInterface("eni-1").groups
            self.logs.get_log_events(logGroupName="g")
            self.ecs.meta.service_model.shape_for("RunTaskRequest")
            other.run_task()
    """
    assert actions_in_source(source) == {
        "ecs:RunTask",
        "secretsmanager:ListSecrets",
        "ec2:DescribeNetworkInterfaces",
        "logs:GetLogEvents",
    }


def test_the_daemon_may_make_exactly_the_run_launchers_calls(config):
    scanned = set(launcher_actions())
    stale = set(LAUNCHER_CALLS_NOT_REACHED) - scanned
    assert not stale, f"dagster-aws no longer calls {sorted(stale)}: drop them from the list"
    expected = scanned - set(LAUNCHER_CALLS_NOT_REACHED)
    expected |= {a for action in expected for a in LAUNCHER_ALSO_NEEDED.get(action, ())}
    granted = _actions(_document(config, "dagster_run_launcher"))
    assert granted == expected, f"extra: {granted - expected}, missing: {expected - granted}"


def test_the_daemon_launches_only_the_run_task_definition_in_the_dagster_cluster(config):
    statements = _by_sid(_document(config, "dagster_run_launcher"))
    start = statements["StartRunTasks"]
    assert start["resources"] == [
        '${aws_ecs_task_definition.dagster["run"].arn_without_revision}:*'
    ]
    cluster = one(start["condition"])
    assert (cluster["variable"], cluster["values"]) == (
        "ecs:cluster",
        ["${aws_ecs_cluster.dagster.arn}"],
    )
    tag = statements["TagRunTasksAtLaunch"]
    assert one(tag["condition"])["values"] == ["RunTask"]
    tasks = (
        "arn:${data.aws_partition.current.partition}:ecs:${data.aws_region.current.name}:"
        "${data.aws_caller_identity.current.account_id}:task/${aws_ecs_cluster.dagster.name}/*"
    )
    for sid in ("TagRunTasksAtLaunch", "MonitorAndStopRunTasks"):
        assert statements[sid]["resources"] == [tasks], sid
    assert statements["ReadFailedRunLogs"]["resources"] == [
        '${aws_cloudwatch_log_group.dagster["run"].arn}:log-stream:*'
    ]
    pass_role = statements["PassRunRoles"]
    assert pass_role["resources"] == [
        "${aws_iam_role.orchestrator.arn}",
        "${aws_iam_role.dagster_task_execution.arn}",
    ]
    condition = one(pass_role["condition"])
    assert (condition["variable"], condition["values"]) == ("iam:PassedToService", [ECS_TASKS])


def test_the_daemon_does_the_lakes_work_with_the_orchestrators_own_policy(config):
    """Sensors and schedules run the lake's code in the daemon: the orchestrator's document, not
    a copy; a run is the orchestrator role itself."""
    policies = {
        body["policy"]
        for body in _resources(config, "aws_iam_role_policy").values()
        if body["role"] == "${aws_iam_role.dagster_daemon.id}"
    }
    assert policies == {
        "${data.aws_iam_policy_document.orchestrator.json}",
        "${data.aws_iam_policy_document.dagster_run_launcher.json}",
    }
    assert _locals(config)["dagster_task_roles"] == {
        "webserver": "${aws_iam_role.dagster_webserver.arn}",
        "daemon": "${aws_iam_role.dagster_daemon.arn}",
        "run": "${aws_iam_role.orchestrator.arn}",
    }
    variables = _variables(config)
    assert variables["orchestrator_trusted_service"]["default"] == ECS_TASKS


def test_the_webserver_may_only_stop_runs_and_read_compute_logs(config):
    """Building the launcher (it resolves the run task definition) and terminating a run from the
    UI; the compute logs under their prefix. Nothing of the lake."""
    document = _document(config, "dagster_webserver")
    expected = launcher_method_actions("__init__", "terminate")
    expected |= {"s3:GetObject", "s3:ListBucket", "kms:Decrypt"}
    assert _actions(document) == expected
    statements = _by_sid(document)
    assert statements["ReadComputeLogs"]["resources"] == [f"{LAKE_ARN}/{COMPUTE_LOGS}*"]
    listed = one(statements["ListComputeLogs"]["condition"])
    assert listed["values"] == [f"{COMPUTE_LOGS}*"]
    via = one(statements["DecryptComputeLogs"]["condition"])
    assert via["variable"] == "kms:ViaService"


def test_the_task_execution_role_pulls_one_image_writes_its_logs_reads_one_secret(config):
    statements = _by_sid(_document(config, "dagster_task_execution"))
    assert statements["PullDagsterImage"]["resources"] == ["${aws_ecr_repository.dagster.arn}"]
    assert statements["WriteContainerLogs"]["resources"] == [
        f'${{aws_cloudwatch_log_group.dagster["{name}"].arn}}:log-stream:*'
        for name in ("webserver", "daemon", "run")
    ]
    secret = statements["ReadDatabaseSecret"]
    assert secret["actions"] == ["secretsmanager:GetSecretValue"]
    assert secret["resources"] == ["${aws_db_instance.dagster.master_user_secret[0].secret_arn}"]
    decrypt = statements["DecryptDatabaseSecret"]
    assert decrypt["actions"] == ["kms:Decrypt"]
    assert one(decrypt["condition"])["variable"] == "kms:ViaService"


def test_every_dagster_role_is_assumed_by_ecs_tasks_of_this_account(config):
    trust = "${data.aws_iam_policy_document.ecs_tasks_trust.json}"
    roles = _resources(config, "aws_iam_role")
    for name in ("dagster_task_execution", "dagster_webserver", "dagster_daemon"):
        assert roles[name]["assume_role_policy"] == trust, name
    statement = one(_statements(_document(config, "ecs_tasks_trust")))
    assert one(statement["principals"])["identifiers"] == [ECS_TASKS]
    assert {c["variable"] for c in statement["condition"]} == {"aws:SourceAccount", "aws:SourceArn"}


def test_the_tasks_get_the_database_credentials_from_the_managed_secret(config):
    secrets = {s["name"]: s["valueFrom"] for s in _locals(config)["dagster_db_secrets"]}
    arn = "${aws_db_instance.dagster.master_user_secret[0].secret_arn}"
    assert secrets == {
        "DAGSTER_PG_USERNAME": f"{arn}:username::",
        "DAGSTER_PG_PASSWORD": f"{arn}:password::",
    }


def test_dagsters_database_is_private_encrypted_and_reachable_only_from_the_tasks(config):
    db = _resources(config, "aws_db_instance")["dagster"]
    assert db["publicly_accessible"] is False
    assert db["storage_encrypted"] is True
    assert db["kms_key_id"] == db["master_user_secret_kms_key_id"] == "${aws_kms_key.lake.arn}"
    assert db["manage_master_user_password"] is True and "password" not in db
    assert db["backup_retention_period"] == "${var.db_backup_retention_days}"
    assert db["deletion_protection"] == "${var.deletion_protection}"
    assert db["vpc_security_group_ids"] == ["${aws_security_group.database.id}"]
    assert db["db_subnet_group_name"] == "${aws_db_subnet_group.dagster.name}"
    subnets = _resources(config, "aws_db_subnet_group")["dagster"]["subnet_ids"]
    assert subnets == "${var.private_subnet_ids}"
    ingress = [
        rule
        for rule in _resources(config, "aws_vpc_security_group_ingress_rule").values()
        if rule["security_group_id"] == "${aws_security_group.database.id}"
    ]
    assert one(ingress)["referenced_security_group_id"] == "${aws_security_group.dagster_tasks.id}"
    assert "cidr_ipv4" not in one(ingress)
    parameters = _resources(config, "aws_db_parameter_group")["dagster"]["parameter"]
    assert {p["name"]: p["value"] for p in parameters}["rds.force_ssl"] == "1"


def test_the_webserver_is_reached_over_https_only_and_after_signing_in(config):
    listeners = _resources(config, "aws_lb_listener")
    assert {name: body["protocol"] for name, body in listeners.items()} == {
        "https": "HTTPS",
        "http_redirect": "HTTP",
    }
    redirect = one(listeners["http_redirect"]["default_action"])
    assert redirect["type"] == "redirect"
    assert one(redirect["redirect"])["protocol"] == "HTTPS"
    https = listeners["https"]
    assert https["ssl_policy"].startswith("ELBSecurityPolicy-TLS13-1-2")
    assert https["certificate_arn"] == "${var.certificate_arn}"
    actions = sorted(https["default_action"], key=lambda action: action["order"])
    assert [a["type"] for a in actions] == ["authenticate-cognito", "forward"]
    sign_in = one(actions[0]["authenticate_cognito"])
    assert sign_in["user_pool_client_id"] == "${aws_cognito_user_pool_client.dagster.id}"
    lb = _resources(config, "aws_lb")["dagster"]
    assert lb["drop_invalid_header_fields"] is True
    logs = one(lb["access_logs"])
    assert (logs["bucket"], logs["enabled"]) == ("${aws_s3_bucket.logs.id}", True)
    pool = _resources(config, "aws_cognito_user_pool")["dagster"]
    assert one(pool["admin_create_user_config"])["allow_admin_create_user_only"] is True
    assert pool["mfa_configuration"] == "ON"
    # The client's secret is Cognito's, handed from resource to resource: no variable holds one.
    assert not [name for name in _variables(config) if "secret" in name or "password" in name]


def test_the_load_balancer_admits_only_the_declared_networks(config):
    rules = [
        rule
        for rule in _resources(config, "aws_vpc_security_group_ingress_rule").values()
        if rule["security_group_id"] == "${aws_security_group.load_balancer.id}"
    ]
    rule = one(rules)
    assert "var.webserver_ingress_cidrs" in rule["for_each"]
    assert rule["cidr_ipv4"] == "${each.value[0]}"
    assert "default" not in _variables(config)["webserver_ingress_cidrs"]


def test_the_access_log_bucket_admits_the_load_balancers_logs_under_its_prefix(config):
    statements = _by_sid(_document(config, "log_bucket"))
    logs = statements["LoadBalancerAccessLogs"]
    assert logs["actions"] == ["s3:PutObject"]
    assert logs["resources"] == [
        "${aws_s3_bucket.logs.arn}/alb/${var.name_prefix}-dagster/AWSLogs/"
        "${data.aws_caller_identity.current.account_id}/*"
    ]


def test_dagster_instance_output_has_what_the_renderer_reads(config):
    outputs = {name: body for entry in config["output"] for name, body in entry.items()}
    value = outputs["dagster_instance"]["value"]
    assert set(value) == {"region", "postgres", "run_launcher", "compute_logs", "webserver_url"}
    assert set(value["postgres"]) == {"hostname", "port", "db_name", "secret_arn"}
    assert value["postgres"]["hostname"] == "${aws_db_instance.dagster.address}"
    launcher = value["run_launcher"]
    assert set(launcher) == {
        "cluster",
        "task_definition",
        "container_name",
        "subnets",
        "security_groups",
    }
    assert launcher["container_name"] == "run"
    assert launcher["task_definition"] == '${aws_ecs_task_definition.dagster["run"].family}'
    assert launcher["subnets"] == "${var.private_subnet_ids}"
    assert value["compute_logs"] == {
        "bucket": "${aws_s3_bucket.lake.bucket}",
        "prefix": "${local.dagster_compute_logs}",
    }
    assert _locals(config)["dagster_compute_logs"] == COMPUTE_LOGS
    assert value["webserver_url"] == "https://${local.webserver_host}"


# --------------------------------------------------------------------------------------------
# Alarms and who they notify (alarms.tf)
# --------------------------------------------------------------------------------------------

ALERT_TOPIC = "${aws_sns_topic.schema_drift_alerts.arn}"
ALARM_RUNBOOK = REPO_ROOT / "docs" / "runbooks" / "alarm-response.md"


def _alarm_names(config) -> set[str]:
    """Each alarm's name after the prefix ("${var.name_prefix}-emr-failed-jobs" -> its tail),
    the platform metrics' from their keys."""
    names = set()
    for alarm in _resources(config, "aws_cloudwatch_metric_alarm").values():
        tail = alarm["alarm_name"].removeprefix("${var.name_prefix}-")
        names |= set(_locals(config)["platform_metrics"]) if tail == "${each.key}" else {tail}
    return names


def test_every_alarm_notifies_the_alert_topic(config):
    alarms = _resources(config, "aws_cloudwatch_metric_alarm")
    assert set(alarms) == {"platform", "arrivals_dead_letters", "emr_failed_jobs"}
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
    alarm = _resources(config, "aws_cloudwatch_metric_alarm")["platform"]
    locals_ = _locals(config)
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
    alarms = _resources(config, "aws_cloudwatch_metric_alarm")
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
    subscriptions = _resources(config, "aws_sns_topic_subscription")
    assert {(s["protocol"], s["for_each"]) for s in subscriptions.values()} == {
        ("email", "${toset(var.alert_emails)}"),
        ("https", "${toset(var.alert_https_endpoints)}"),
    }
    for subscription in subscriptions.values():
        assert subscription["topic_arn"] == ALERT_TOPIC
        assert subscription["endpoint"] == "${each.value}"


def test_cloudwatch_may_publish_to_the_encrypted_alert_topic(config):
    policy = one(list(_resources(config, "aws_sns_topic_policy").values()))
    assert policy["arn"] == ALERT_TOPIC
    cloudwatch = {"type": "Service", "identifiers": ["cloudwatch.amazonaws.com"]}
    topic = _statements(_document(config, _reference_target(policy["policy"])))
    publish = one([s for s in topic if s.get("principals") == [cloudwatch]])
    assert (publish["actions"], publish["resources"]) == (["sns:Publish"], [ALERT_TOPIC])
    key = _statements(_document(config, "lake_key"))
    use = one([s for s in key if s.get("principals") == [cloudwatch]])
    assert set(use["actions"]) == {"kms:Decrypt", "kms:GenerateDataKey"}


# --------------------------------------------------------------------------------------------
# Storage lifecycle: colder storage per zone, retention of quarantine and dead letters
# --------------------------------------------------------------------------------------------


def _variables(config) -> dict[str, dict]:
    return {name: body for entry in config["variable"] for name, body in entry.items()}


def test_raw_objects_move_to_glacier_after_90_days_by_default(config):
    assert _variables(config)["zone_transitions"]["default"] == {
        "raw/": [{"days": 90, "storage_class": "GLACIER"}]
    }
    lifecycle = _resources(config, "aws_s3_bucket_lifecycle_configuration")["lake"]
    zones = one([d["rule"] for d in lifecycle["dynamic"] if "rule" in d])
    assert zones["for_each"] == "${var.zone_transitions}"
    content = one(zones["content"])
    assert one(content["filter"])["prefix"] == "${rule.key}"
    transition = one(content["dynamic"])["transition"]
    assert transition["for_each"] == "${rule.value}"
    assert one(transition["content"]) == {
        "days": "${transition.value.days}",
        "storage_class": "${transition.value.storage_class}",
    }


def test_quarantine_and_dead_letters_expire_after_their_declared_retention(config):
    rules = {
        rule["id"]: rule
        for rule in _resources(config, "aws_s3_bucket_lifecycle_configuration")["lake"]["rule"]
    }
    for rule_id, prefix, variable in (
        ("expire-quarantine", "quarantine/", "quarantine_retention_days"),
        ("expire-dead-letters", "dead-letter/", "dead_letter_retention_days"),
    ):
        assert one(rules[rule_id]["filter"])["prefix"] == prefix
        assert one(rules[rule_id]["expiration"])["days"] == f"${{var.{variable}}}"
        assert _variables(config)[variable]["default"] >= 30
    assert "noncurrent_version_expiration" in rules["expire-noncurrent-versions"]


def test_zone_transitions_are_validated(config):
    """Storage classes S3 knows, 30 days before an infrequent-access class (terraform test
    exercises the refusals with a mocked provider)."""
    conditions = " ".join(
        v["condition"] for v in _variables(config)["zone_transitions"]["validation"]
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
    backend = _parse(ENV_DIR / f"{environment}.s3.tfbackend")
    assert backend["use_lockfile"] is True and backend["encrypt"] is True
    assert environment in backend["key"]
    assert "dynamodb_table" not in backend


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_an_environments_variables_are_declared_and_complete(config, environment):
    values = _parse(ENV_DIR / f"{environment}.tfvars")
    variables = _variables(config)
    assert set(values) <= set(variables), f"undeclared: {sorted(set(values) - set(variables))}"
    required = {name for name, body in variables.items() if "default" not in body}
    assert required <= set(values), f"{environment} must set {sorted(required - set(values))}"
    assert values["environment"] == environment


def test_the_environments_are_the_ones_the_files_hold():
    assert {p.name.split(".")[0] for p in ENV_DIR.iterdir()} == set(ENVIRONMENTS)


def test_the_state_bucket_is_versioned_encrypted_private_and_tls_only():
    bootstrap: dict[str, list] = {}
    for path in BOOTSTRAP_FILES:
        for kind, entries in _parse(path).items():
            bootstrap.setdefault(kind, []).extend(entries)
    versioning = _resources(bootstrap, "aws_s3_bucket_versioning")["state"]
    assert one(versioning["versioning_configuration"])["status"] == "Enabled"
    sse = one(
        _resources(bootstrap, "aws_s3_bucket_server_side_encryption_configuration")["state"]["rule"]
    )
    default = one(sse["apply_server_side_encryption_by_default"])
    assert default == {"sse_algorithm": "aws:kms", "kms_master_key_id": "${aws_kms_key.state.arn}"}
    block = _resources(bootstrap, "aws_s3_bucket_public_access_block")["state"]
    assert all(
        block[flag] is True
        for flag in (
            "block_public_acls",
            "block_public_policy",
            "ignore_public_acls",
            "restrict_public_buckets",
        )
    )
    documents = _policy_documents(bootstrap)
    deny = one(_statements(documents["state_bucket"]))
    assert deny["effect"] == "Deny"
    assert one(deny["condition"])["variable"] == "aws:SecureTransport"
    assert _resources(bootstrap, "aws_kms_key")["state"]["enable_key_rotation"] is True
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
    lake_env = _locals(config)["lake_env"]
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
