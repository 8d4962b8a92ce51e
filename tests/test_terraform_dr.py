"""Cross-region disaster recovery in terraform/ (dr.tf, ADR-0150), read from the HCL as the other
Terraform tests read it: the whole lake bucket replicates into a private, versioned, KMS-encrypted
replica in the recovery region within the lake's 15-minute recovery point, the alarm watches
that same recovery point, the replication role may do exactly what S3 replication needs, and the
Dagster database's backups and the DynamoDB tables have their copies there. What the plan makes
of it (dev in one region, prod with its replica) is `terraform test`'s (aws_profile.tftest.hcl,
environments/environments.tftest.hcl, run by test_terraform.py)."""

from __future__ import annotations

import re

import pytest
from terraform_config import (
    LAKE_ARN,
    TF_DIR,
    as_list,
    document_reference,
    locals_of,
    modules_of,
    one,
    parse_hcl,
    policy_document,
    resources_of,
    statements_by_sid,
    statements_of,
    terraform_config,
    variables_of,
)

DR_KEY = "${aws_kms_key.dr[0].arn}"
REPLICA_ARN = "${aws_s3_bucket.replica[0].arn}"
LAKE_KEY = "${aws_kms_key.lake.arn}"
ALERT_TOPIC = "${aws_sns_topic.schema_drift_alerts.arn}"
DR_PROVIDER = "${aws.dr}"
ONLY_WITH_DR = "${local.dr_enabled ? 1 : 0}"
PRIMARY_REGION = "${data.aws_region.current.name}"  # local.region, resolved

# Everything S3 replication of SSE-KMS objects needs (S3 user guide, "Setting up permissions for
# live replication"), each on the one resource it concerns, and nothing else.
REPLICATION_GRANTS = {
    ("s3:GetReplicationConfiguration", LAKE_ARN),
    ("s3:ListBucket", LAKE_ARN),
    ("s3:GetObjectVersionForReplication", f"{LAKE_ARN}/*"),
    ("s3:GetObjectVersionAcl", f"{LAKE_ARN}/*"),
    ("s3:GetObjectVersionTagging", f"{LAKE_ARN}/*"),
    ("s3:ReplicateObject", f"{REPLICA_ARN}/*"),
    ("s3:ReplicateDelete", f"{REPLICA_ARN}/*"),
    ("s3:ReplicateTags", f"{REPLICA_ARN}/*"),
    ("kms:Decrypt", LAKE_KEY),
    ("kms:Encrypt", DR_KEY),
    ("kms:GenerateDataKey", DR_KEY),
}


@pytest.fixture(scope="module")
def config() -> dict[str, list]:
    return terraform_config()


def _replication_rule(config) -> dict:
    replication = resources_of(config, "aws_s3_bucket_replication_configuration")["lake"]
    return one(replication["rule"])


# --------------------------------------------------------------------------------------------
# The region: off by default, another region than the lake's, set in prod
# --------------------------------------------------------------------------------------------


def test_dr_region_is_off_by_default_and_another_region_than_the_lakes(config):
    variable = variables_of(config)["dr_region"]
    assert variable["default"] is None  # dev and a stack without tfvars: one region
    condition = one(variable["validation"])["condition"]
    assert condition.startswith("${var.dr_region == null ||")
    assert "var.dr_region != var.region" in condition
    assert locals_of(config)["dr_enabled"] == "${var.dr_region != null}"


def test_prod_names_a_recovery_region_and_dev_lives_in_one():
    prod = parse_hcl(TF_DIR / "env" / "prod.tfvars")
    dev = parse_hcl(TF_DIR / "env" / "dev.tfvars")
    assert prod["dr_region"] not in (None, prod["region"])
    assert dev.get("dr_region") is None


def test_the_recovery_provider_is_the_dr_region_with_the_default_tags(config):
    providers = {b["aws"].get("alias"): b["aws"] for b in config["provider"] if "aws" in b}
    dr = providers["dr"]
    assert dr["region"] == "${coalesce(var.dr_region, var.region)}"
    assert one(dr["default_tags"]) == one(providers[None]["default_tags"])


def test_every_dr_resource_exists_only_with_dr_region_and_lives_where_it_must(config):
    """Every resource of dr.tf is counted on dr_region; all live in the recovery region but the
    replication itself (configured on the lake bucket) and its role (IAM is global)."""
    in_the_lakes_region = {
        ("aws_s3_bucket_replication_configuration", "lake"),
        ("aws_iam_role", "replication"),
        ("aws_iam_role_policy", "replication"),
        ("aws_iam_role", "batch_replication"),
        ("aws_iam_role_policy", "batch_replication"),
    }
    resources = [
        (type_, name, body)
        for entry in parse_hcl(TF_DIR / "dr.tf")["resource"]
        for type_, named in entry.items()
        for name, body in named.items()
    ]
    assert len(resources) >= 15
    for type_, name, body in resources:
        assert body["count"] == ONLY_WITH_DR, (type_, name)
        expected = None if (type_, name) in in_the_lakes_region else DR_PROVIDER
        assert body.get("provider") == expected, (type_, name)
    for name in (
        "dr_key",
        "replica_bucket",
        "replica_log_bucket",
        "replication",
        "replication_trust",
        "batch_replication",
        "batch_replication_trust",
    ):
        data = [
            entry["aws_iam_policy_document"][name]
            for entry in config["data"]
            if name in entry.get("aws_iam_policy_document", {})
        ]
        assert one(data)["count"] == ONLY_WITH_DR, name


# --------------------------------------------------------------------------------------------
# The replication: the whole bucket, at the recovery point the alarm watches
# --------------------------------------------------------------------------------------------


def test_one_rule_replicates_the_whole_bucket_deletes_and_kms_objects_included(config):
    replication = resources_of(config, "aws_s3_bucket_replication_configuration")["lake"]
    assert replication["bucket"] == "${aws_s3_bucket.lake.id}"
    assert replication["role"] == "${aws_iam_role.replication[0].arn}"
    rule = _replication_rule(config)
    assert rule["status"] == "Enabled"
    # An empty filter: every zone, _code/, _pipelines/ and the catalog's exports (_recovery/).
    assert rule["filter"] == [{}] and "prefix" not in rule
    assert one(rule["delete_marker_replication"])["status"] == "Enabled"
    criteria = one(one(rule["source_selection_criteria"])["sse_kms_encrypted_objects"])
    assert criteria["status"] == "Enabled"  # without it S3 skips the lake's SSE-KMS objects
    destination = one(rule["destination"])
    assert destination["bucket"] == REPLICA_ARN
    assert one(destination["encryption_configuration"])["replica_kms_key_id"] == DR_KEY
    assert set(replication["depends_on"]) == {
        "${aws_s3_bucket_versioning.lake}",
        "${aws_s3_bucket_versioning.replica}",
    }


def test_the_replication_time_and_its_metrics_are_the_rpo_the_latency_alarm_watches(config):
    locals_ = locals_of(config)
    assert locals_["replication_rpo_minutes"] == 15  # the only threshold S3 RTC offers
    destination = one(_replication_rule(config)["destination"])
    rtc = one(destination["replication_time"])
    metrics = one(destination["metrics"])
    assert (rtc["status"], metrics["status"]) == ("Enabled", "Enabled")
    assert one(rtc["time"])["minutes"] == "${local.replication_rpo_minutes}"
    assert one(metrics["event_threshold"])["minutes"] == "${local.replication_rpo_minutes}"

    latency = resources_of(config, "aws_cloudwatch_metric_alarm")["replication_latency"]
    assert (latency["namespace"], latency["metric_name"]) == ("AWS/S3", "ReplicationLatency")
    # ReplicationLatency is in seconds.
    assert latency["threshold"] == "${local.replication_rpo_minutes * 60}"
    assert latency["comparison_operator"] == "GreaterThanThreshold"
    assert latency["statistic"] == "Maximum"


def test_the_replication_alarms_name_the_rule_and_go_to_the_alert_topic(config):
    alarms = resources_of(config, "aws_cloudwatch_metric_alarm")
    failed = alarms["replication_failed"]
    assert (failed["namespace"], failed["metric_name"]) == ("AWS/S3", "OperationsFailedReplication")
    assert (failed["statistic"], failed["threshold"]) == ("Sum", 0)
    assert failed["comparison_operator"] == "GreaterThanThreshold"
    locals_ = locals_of(config)
    assert locals_["replication_metric_dimensions"] == {
        "SourceBucket": "${local.lake_bucket_name}",
        "DestinationBucket": "${local.replica_bucket_name}",
        "RuleId": "${local.replication_rule_id}",
    }
    assert _replication_rule(config)["id"] == "${local.replication_rule_id}"
    assert resources_of(config, "aws_s3_bucket")["replica"]["bucket"] == (
        "${local.replica_bucket_name}"
    )
    for name in ("replication_latency", "replication_failed"):
        alarm = alarms[name]
        assert alarm["count"] == ONLY_WITH_DR, name
        assert alarm["dimensions"] == "${local.replication_metric_dimensions}", name
        assert alarm["alarm_actions"] == alarm["ok_actions"] == [ALERT_TOPIC], name


# --------------------------------------------------------------------------------------------
# The replication role: trusted by S3 for the lake bucket, exactly replication's grants
# --------------------------------------------------------------------------------------------


def test_the_replication_role_is_trusted_by_s3_for_the_lake_bucket_of_this_account(config):
    role = resources_of(config, "aws_iam_role")["replication"]
    assert document_reference(role["assume_role_policy"]) == "replication_trust"
    trust = one(statements_of(policy_document(config, "replication_trust")))
    assert trust["effect"] == "Allow" and trust["actions"] == ["sts:AssumeRole"]
    assert trust["principals"] == [{"type": "Service", "identifiers": ["s3.amazonaws.com"]}]
    conditions = {c["variable"]: (c["test"], c["values"]) for c in trust["condition"]}
    assert conditions == {
        "aws:SourceAccount": ("StringEquals", ["${data.aws_caller_identity.current.account_id}"]),
        "aws:SourceArn": ("ArnEquals", [LAKE_ARN]),
    }


def test_the_replication_role_may_do_exactly_what_replication_needs(config):
    policies = [
        body
        for body in resources_of(config, "aws_iam_role_policy").values()
        if body["role"] == "${aws_iam_role.replication[0].id}"
    ]
    document = policy_document(config, document_reference(one(policies)["policy"]))
    statements = statements_of(document)
    assert all(s["effect"] == "Allow" for s in statements)
    granted = {
        (action, resource)
        for s in statements
        for action in as_list(s["actions"])
        for resource in as_list(s["resources"])
    }
    assert granted == REPLICATION_GRANTS, (
        f"extra: {sorted(granted - REPLICATION_GRANTS)}, "
        f"missing: {sorted(REPLICATION_GRANTS - granted)}"
    )
    assert not any("*" in action for action, _ in granted)


def test_a_batch_replication_job_for_what_was_there_before_has_a_role_of_its_own(config):
    """Replication copies what is written after it exists; what the lake held before is copied
    once by an S3 Batch Replication job on the rule (the disaster-recovery runbook's command).
    Its role is S3 Batch Operations' for this account, may initiate the lake's replication and
    list what the rule makes eligible, and writes its manifest and report under one prefix of
    the log bucket; the outputs name both for the runbook."""
    role = resources_of(config, "aws_iam_role")["batch_replication"]
    assert document_reference(role["assume_role_policy"]) == "batch_replication_trust"
    trust = one(statements_of(policy_document(config, "batch_replication_trust")))
    assert trust["actions"] == ["sts:AssumeRole"]
    assert trust["principals"] == [
        {"type": "Service", "identifiers": ["batchoperations.s3.amazonaws.com"]}
    ]
    assert [(c["variable"], c["values"]) for c in trust["condition"]] == [
        ("aws:SourceAccount", ["${data.aws_caller_identity.current.account_id}"])
    ]
    [policy] = [
        body
        for body in resources_of(config, "aws_iam_role_policy").values()
        if body["role"] == "${aws_iam_role.batch_replication[0].id}"
    ]
    statements = statements_of(policy_document(config, document_reference(policy["policy"])))
    reports = "${aws_s3_bucket.logs.arn}/batch-replication"  # the prefix's local, resolved
    granted = {
        (action, resource)
        for s in statements
        for action in as_list(s["actions"])
        for resource in as_list(s["resources"])
    }
    assert all(s["effect"] == "Allow" for s in statements)
    assert granted == {
        ("s3:InitiateReplication", f"{LAKE_ARN}/*"),
        ("s3:GetReplicationConfiguration", LAKE_ARN),
        ("s3:PutInventoryConfiguration", LAKE_ARN),
        ("s3:PutObject", f"{reports}/*"),
        ("s3:GetObject", f"{reports}/*"),
        ("s3:GetObjectVersion", f"{reports}/*"),
    }
    outputs = {name: body for entry in config["output"] for name, body in entry.items()}
    assert outputs["dr_batch_replication_role_arn"]["value"] == (
        "${one(aws_iam_role.batch_replication[*].arn)}"
    )
    assert outputs["dr_batch_replication_reports"]["value"] == (
        '${local.dr_enabled ? "${aws_s3_bucket.logs.arn}/${local.batch_replication_prefix}" : null}'
    )


def test_every_output_the_terraform_readme_reads_is_declared(config):
    """The README's commands (the batch replication job's among them) read outputs by name."""
    read = set(re.findall(r"terraform output -raw (\w+)", (TF_DIR / "README.md").read_text()))
    declared = {name for entry in config["output"] for name in entry}
    assert {"lake_s3_bucket", "dr_batch_replication_role_arn"} <= read
    assert read <= declared, sorted(read - declared)


def test_the_replication_role_uses_each_key_only_through_s3_in_its_region(config):
    statements = statements_by_sid(policy_document(config, "replication"))
    via = {
        sid: {c["variable"]: c["values"] for c in statements[sid]["condition"]}
        for sid in ("DecryptWithTheLakeKey", "EncryptWithTheRecoveryKey")
    }
    assert via == {
        "DecryptWithTheLakeKey": {"kms:ViaService": [f"s3.{PRIMARY_REGION}.amazonaws.com"]},
        "EncryptWithTheRecoveryKey": {"kms:ViaService": ["s3.${var.dr_region}.amazonaws.com"]},
    }
    # The lake key's policy hands its use to IAM (the account's statement grants kms:Decrypt),
    # so the role's own policy is enough to decrypt what it replicates.
    account = statements_by_sid(policy_document(config, "lake_key"))
    assert "kms:Decrypt" in account["AccountAdministersKeyThroughIam"]["actions"]


# --------------------------------------------------------------------------------------------
# The replica: private, versioned, encrypted with the recovery key, TLS only, logged, and
# expiring what the lake expires
# --------------------------------------------------------------------------------------------


def test_the_replica_is_private_versioned_and_encrypted_with_the_recovery_key(config):
    block = resources_of(config, "aws_s3_bucket_public_access_block")["replica"]
    for flag in (
        "block_public_acls",
        "block_public_policy",
        "ignore_public_acls",
        "restrict_public_buckets",
    ):
        assert block[flag] is True, flag
    ownership = resources_of(config, "aws_s3_bucket_ownership_controls")["replica"]
    assert one(ownership["rule"])["object_ownership"] == "BucketOwnerEnforced"
    versioning = resources_of(config, "aws_s3_bucket_versioning")["replica"]
    assert one(versioning["versioning_configuration"])["status"] == "Enabled"
    sse = one(
        resources_of(config, "aws_s3_bucket_server_side_encryption_configuration")["replica"][
            "rule"
        ]
    )
    default = one(sse["apply_server_side_encryption_by_default"])
    assert default == {"sse_algorithm": "aws:kms", "kms_master_key_id": DR_KEY}
    logging = resources_of(config, "aws_s3_bucket_logging")["replica"]
    assert logging["target_bucket"] == "${aws_s3_bucket.replica_logs[0].id}"


def test_the_replica_refuses_plain_http(config):
    policy = resources_of(config, "aws_s3_bucket_policy")["replica"]
    assert document_reference(policy["policy"]) == "replica_bucket"
    deny = one(statements_of(policy_document(config, "replica_bucket")))
    assert deny["effect"] == "Deny"
    assert deny["resources"] == [REPLICA_ARN, f"{REPLICA_ARN}/*"]
    assert one(deny["condition"]) == {
        "test": "Bool",
        "variable": "aws:SecureTransport",
        "values": ["false"],
    }
    # Every operation the lake bucket's own deny names, and replication's writes.
    lake = statements_of(policy_document(config, "lake_bucket"))
    lake_deny = one([s for s in lake if s["effect"] == "Deny"])
    replicates = {"s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"}
    assert set(deny["actions"]) == set(lake_deny["actions"]) | replicates


def test_the_replica_expires_what_the_lake_expires(config):
    """S3 does not replicate what a lifecycle rule expires: the replica's lifecycle is the lake's
    rules (local.lake_lifecycle_rules: retention of quarantine, dead letters, old versions; the
    zones' colder storage; test_terraform.py checks them) made into S3's rules by the lake's
    module, or the replica would keep them for ever."""
    modules = modules_of(config)
    lake = modules["lake_lifecycle"]
    # Nothing else is given to the module: no input of the replica's own could change its rules.
    assert modules["replica_lifecycle"] == {
        "source": lake["source"],
        "count": ONLY_WITH_DR,
        "providers": {"aws": DR_PROVIDER},
        "bucket": "${aws_s3_bucket.replica[0].id}",
        "rules": lake["rules"],
        "depends_on": ["${aws_s3_bucket_versioning.replica}"],
    }
    assert lake["rules"] == "${local.lake_lifecycle_rules}"
    # The replica's lifecycle deployed before the module keeps its object (an instance of a
    # counted resource moves to the module's instance).
    assert {
        "from": "${aws_s3_bucket_lifecycle_configuration.replica[0]}",
        "to": "${module.replica_lifecycle[0].aws_s3_bucket_lifecycle_configuration.this}",
    } in config["moved"]


def test_the_replicas_access_logs_stay_in_the_recovery_region_from_the_replica_only(config):
    statements = statements_by_sid(policy_document(config, "replica_log_bucket"))
    put = statements["S3ServerAccessLogsFromReplicaBucket"]
    assert put["principals"] == [{"type": "Service", "identifiers": ["logging.s3.amazonaws.com"]}]
    assert put["actions"] == ["s3:PutObject"]
    conditions = {c["variable"]: c["values"] for c in put["condition"]}
    assert conditions["aws:SourceArn"] == [REPLICA_ARN]
    assert statements["DenyInsecureTransport"]["effect"] == "Deny"
    sse = one(
        resources_of(config, "aws_s3_bucket_server_side_encryption_configuration")["replica_logs"][
            "rule"
        ]
    )
    assert one(sse["apply_server_side_encryption_by_default"]) == {"sse_algorithm": "AES256"}


def test_the_recovery_key_rotates_and_is_administered_as_the_lake_key(config):
    key = resources_of(config, "aws_kms_key")["dr"]
    assert key["enable_key_rotation"] is True
    assert key["provider"] == DR_PROVIDER
    assert document_reference(key["policy"]) == "dr_key"
    [account] = statements_of(policy_document(config, "dr_key"))
    lake = statements_by_sid(policy_document(config, "lake_key"))["AccountAdministersKeyThroughIam"]
    assert account == lake
    alias = resources_of(config, "aws_kms_alias")["dr"]
    assert alias["target_key_id"] == "${aws_kms_key.dr[0].key_id}"


# --------------------------------------------------------------------------------------------
# The database's backups and the DynamoDB tables in the recovery region
# --------------------------------------------------------------------------------------------


def test_the_databases_backups_are_replicated_for_the_instances_retention(config):
    replication = resources_of(config, "aws_db_instance_automated_backups_replication")["dagster"]
    assert replication["provider"] == DR_PROVIDER
    assert replication["count"] == ONLY_WITH_DR
    assert replication["source_db_instance_arn"] == "${aws_db_instance.dagster.arn}"
    assert replication["kms_key_id"] == DR_KEY  # the instance is encrypted: a key there
    assert replication["retention_period"] == ("${aws_db_instance.dagster.backup_retention_period}")


def test_every_dynamodb_table_has_a_recoverable_encrypted_replica_in_the_recovery_region(config):
    table = resources_of(config, "aws_dynamodb_table")["lake"]
    replica = one([d["replica"] for d in table["dynamic"] if "replica" in d])
    assert replica["for_each"] == "${local.dr_enabled ? [var.dr_region] : []}"
    assert one(replica["content"]) == {
        "region_name": "${replica.value}",
        "kms_key_arn": DR_KEY,
        "point_in_time_recovery": True,
        "propagate_tags": True,
    }
    # Replicas need the table's stream with both images; without dr_region, no stream.
    assert table["stream_enabled"] == "${local.dr_enabled}"
    assert table["stream_view_type"] == '${local.dr_enabled ? "NEW_AND_OLD_IMAGES" : null}'


def test_the_outputs_name_the_replica_and_the_region(config):
    outputs = {name: body for entry in config["output"] for name, body in entry.items()}
    assert outputs["dr_region"]["value"] == "${var.dr_region}"
    assert outputs["dr_replica_bucket"]["value"] == "${one(aws_s3_bucket.replica[*].bucket)}"
    assert outputs["dr_replica_bucket_arn"]["value"] == "${one(aws_s3_bucket.replica[*].arn)}"
