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
from aws_calls import RECORD_COMMAND, RECORDING, load_recording
from iam_grants import S3_OBJECT_ACTIONS, Grants, grants_of

from lake_assets.access.tokens import SECRET_ENV

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


def _clean(value):
    """python-hcl2 8 output -> plain Python values (literals unquoted, block markers dropped)."""
    if isinstance(value, dict):
        return {_unquote(k): _clean(v) for k, v in value.items() if k != "__is_block__"}
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


# Actions AWS authorises on "*" only (no resource-level permissions), each with the condition
# key that must narrow it (Service Authorization Reference).
STAR_ONLY_ACTIONS = {"cloudwatch:PutMetricData": "cloudwatch:namespace"}


def _narrowed_star(actions: list, statement: dict) -> bool:
    conditions = {c.get("variable") for c in statement.get("condition", [])}
    return bool(actions) and all(STAR_ONLY_ACTIONS.get(a) in conditions for a in actions)


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
                elif "*" in (resource[:-2] if resource.endswith("/*") else resource):
                    # A trailing "/*" (objects under a prefix, job runs of an application,
                    # tables of a database) is the only wildcard a resource may carry.
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
    """What each role must be granted for the calls the code makes."""
    return grants_of(load_recording())


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


def test_default_tags(config):
    provider = one(config["provider"])["aws"]
    tags = one(provider["default_tags"])["tags"]
    assert tags.startswith("${merge(var.tags,"), tags
    for key, value in {
        "project": "lakehouse",
        "managed_by": "terraform",
        "data_classification": "confidential",
    }.items():
        assert re.search(rf'\b{key}\s*=\s*\\?"{value}\\?"', tags), f"{key} missing from {tags}"


# --------------------------------------------------------------------------------------------
# Cost tags: every taggable resource carries team, pipeline and environment (issue 16), the
# tags `lake cost tags` and the asset check cost/cur:tags_complete require of the bill
# --------------------------------------------------------------------------------------------

# Resource types by whether they take tags, as the AWS provider's schema says (checked with
# `terraform providers schema -json`, hashicorp/aws 5.100.0: each taggable one has `tags` and
# `tags_all`, so the provider's default_tags reach it). A new type fails
# test_every_resource_type_is_placed until it is placed here.
TAGGABLE = {
    "aws_dynamodb_table",
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
    "aws_ecr_repository_policy",
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


@cache
def _every_resource() -> list[tuple[str, str, str, dict]]:
    """(file, type, name, body) of each resource of the root and of the pipeline modules."""
    found = []
    for path in sorted(TF_DIR.glob("*.tf")) + PIPELINE_MODULES:
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
    providers = [block["aws"] for block in config["provider"] if "aws" in block]
    assert providers
    for provider in providers:
        tags = one(provider["default_tags"])["tags"]
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
    provider = one(config["provider"])["aws"]
    defaults = set(re.findall(r"(\w+)\s*=", one(provider["default_tags"])["tags"]))
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
    lake_env = outputs["lake_env"]["value"]
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

    def run(*args: str) -> None:
        result = subprocess.run(
            ["terraform", *args, "-no-color"],
            cwd=work,
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
