"""Dagster in AWS (terraform/ecs.tf, ecs_iam.tf, database.tf, web.tf): its roles, checked against
dagster-aws's own calls, its database and its front door."""

from __future__ import annotations

import pytest
from dagster_aws_calls import actions_in_source, launcher_actions, launcher_method_actions
from terraform_config import (
    LAKE_ARN,
    actions_of,
    locals_of,
    one,
    policy_document,
    resources_of,
    statements_by_sid,
    statements_of,
    terraform_config,
    variables_of,
)


@pytest.fixture(scope="module")
def config() -> dict[str, list]:
    return terraform_config()


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
    granted = actions_of(policy_document(config, "dagster_run_launcher"))
    assert granted == expected, f"extra: {granted - expected}, missing: {expected - granted}"


def test_the_daemon_launches_only_the_run_task_definition_in_the_dagster_cluster(config):
    statements = statements_by_sid(policy_document(config, "dagster_run_launcher"))
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
        for body in resources_of(config, "aws_iam_role_policy").values()
        if body["role"] == "${aws_iam_role.dagster_daemon.id}"
    }
    assert policies == {
        "${data.aws_iam_policy_document.orchestrator.json}",
        "${data.aws_iam_policy_document.dagster_run_launcher.json}",
    }
    assert locals_of(config)["dagster_task_roles"] == {
        "webserver": "${aws_iam_role.dagster_webserver.arn}",
        "daemon": "${aws_iam_role.dagster_daemon.arn}",
        "run": "${aws_iam_role.orchestrator.arn}",
    }
    variables = variables_of(config)
    assert variables["orchestrator_trusted_service"]["default"] == ECS_TASKS


def test_the_webserver_may_only_stop_runs_and_read_compute_logs(config):
    """Building the launcher (it resolves the run task definition) and terminating a run from the
    UI; the compute logs under their prefix. Nothing of the lake."""
    document = policy_document(config, "dagster_webserver")
    expected = launcher_method_actions("__init__", "terminate")
    expected |= {"s3:GetObject", "s3:ListBucket", "kms:Decrypt"}
    assert actions_of(document) == expected
    statements = statements_by_sid(document)
    assert statements["ReadComputeLogs"]["resources"] == [f"{LAKE_ARN}/{COMPUTE_LOGS}*"]
    listed = one(statements["ListComputeLogs"]["condition"])
    assert listed["values"] == [f"{COMPUTE_LOGS}*"]
    via = one(statements["DecryptComputeLogs"]["condition"])
    assert via["variable"] == "kms:ViaService"


def test_the_task_execution_role_pulls_one_image_writes_its_logs_reads_one_secret(config):
    statements = statements_by_sid(policy_document(config, "dagster_task_execution"))
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
    roles = resources_of(config, "aws_iam_role")
    for name in ("dagster_task_execution", "dagster_webserver", "dagster_daemon"):
        assert roles[name]["assume_role_policy"] == trust, name
    statement = one(statements_of(policy_document(config, "ecs_tasks_trust")))
    assert one(statement["principals"])["identifiers"] == [ECS_TASKS]
    assert {c["variable"] for c in statement["condition"]} == {"aws:SourceAccount", "aws:SourceArn"}


def test_the_tasks_get_the_database_credentials_from_the_managed_secret(config):
    secrets = {s["name"]: s["valueFrom"] for s in locals_of(config)["dagster_db_secrets"]}
    arn = "${aws_db_instance.dagster.master_user_secret[0].secret_arn}"
    assert secrets == {
        "DAGSTER_PG_USERNAME": f"{arn}:username::",
        "DAGSTER_PG_PASSWORD": f"{arn}:password::",
    }


def test_dagsters_database_is_private_encrypted_and_reachable_only_from_the_tasks(config):
    db = resources_of(config, "aws_db_instance")["dagster"]
    assert db["publicly_accessible"] is False
    assert db["storage_encrypted"] is True
    assert db["kms_key_id"] == db["master_user_secret_kms_key_id"] == "${aws_kms_key.lake.arn}"
    assert db["manage_master_user_password"] is True and "password" not in db
    assert db["backup_retention_period"] == "${var.db_backup_retention_days}"
    assert db["deletion_protection"] == "${var.deletion_protection}"
    assert db["vpc_security_group_ids"] == ["${aws_security_group.database.id}"]
    assert db["db_subnet_group_name"] == "${aws_db_subnet_group.dagster.name}"
    subnets = resources_of(config, "aws_db_subnet_group")["dagster"]["subnet_ids"]
    assert subnets == "${var.private_subnet_ids}"
    ingress = [
        rule
        for rule in resources_of(config, "aws_vpc_security_group_ingress_rule").values()
        if rule["security_group_id"] == "${aws_security_group.database.id}"
    ]
    assert one(ingress)["referenced_security_group_id"] == "${aws_security_group.dagster_tasks.id}"
    assert "cidr_ipv4" not in one(ingress)
    parameters = resources_of(config, "aws_db_parameter_group")["dagster"]["parameter"]
    assert {p["name"]: p["value"] for p in parameters}["rds.force_ssl"] == "1"


def test_the_webserver_is_reached_over_https_only_and_after_signing_in(config):
    listeners = resources_of(config, "aws_lb_listener")
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
    lb = resources_of(config, "aws_lb")["dagster"]
    assert lb["drop_invalid_header_fields"] is True
    logs = one(lb["access_logs"])
    assert (logs["bucket"], logs["enabled"]) == ("${aws_s3_bucket.logs.id}", True)
    pool = resources_of(config, "aws_cognito_user_pool")["dagster"]
    assert one(pool["admin_create_user_config"])["allow_admin_create_user_only"] is True
    assert pool["mfa_configuration"] == "ON"
    # The client's secret is Cognito's, handed from resource to resource: no variable holds one.
    assert not [name for name in variables_of(config) if "secret" in name or "password" in name]


def test_the_load_balancer_admits_only_the_declared_networks(config):
    rules = [
        rule
        for rule in resources_of(config, "aws_vpc_security_group_ingress_rule").values()
        if rule["security_group_id"] == "${aws_security_group.load_balancer.id}"
    ]
    rule = one(rules)
    assert "var.webserver_ingress_cidrs" in rule["for_each"]
    assert rule["cidr_ipv4"] == "${each.value[0]}"
    assert "default" not in variables_of(config)["webserver_ingress_cidrs"]


def test_the_access_log_bucket_admits_the_load_balancers_logs_under_its_prefix(config):
    statements = statements_by_sid(policy_document(config, "log_bucket"))
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
    assert locals_of(config)["dagster_compute_logs"] == COMPUTE_LOGS
    assert value["webserver_url"] == "https://${local.webserver_host}"
