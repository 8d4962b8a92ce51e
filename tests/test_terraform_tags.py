"""terraform/'s tags: the provider's default tags, and the cost tags every taggable resource
carries (team, pipeline, environment: issue 16), which `lake cost tags` and the asset check
cost/cur:tags_complete require of the bill."""

from __future__ import annotations

import re
from functools import cache

import hcl2
import pytest
from terraform_config import (
    BOOTSTRAP_FILES,
    PIPELINE_MODULES,
    SHARED_MODULES,
    TF_DIR,
    clean_hcl,
    locals_of,
    modules_of,
    one,
    parse_hcl,
    resolve_locals,
    resources_of,
    terraform_config,
)


@pytest.fixture(scope="module")
def config() -> dict[str, list]:
    return terraform_config()


def _provider_tags(config) -> list[str]:
    """Each aws provider block's default_tags expression, a local it names resolved."""
    providers = [block["aws"] for block in config["provider"] if "aws" in block]
    assert providers
    return [
        resolve_locals(one(provider["default_tags"])["tags"], locals_of(config))
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
    "aws_athena_workgroup",
    "aws_bcmdataexports_export",
    "aws_budgets_budget",
    "aws_ce_anomaly_monitor",
    "aws_ce_anomaly_subscription",
    "aws_chatbot_slack_channel_configuration",
    "aws_cloudtrail",
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
    "aws_iam_openid_connect_provider",
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
    "aws_db_instance_automated_backups_replication",
    "aws_cognito_user_pool_domain",
    "aws_ecr_repository_policy",
    "aws_ecs_cluster_capacity_providers",
    "aws_iam_role_policy_attachment",
    "aws_sns_topic_policy",
    "aws_sns_topic_subscription",
    "aws_glue_data_catalog_encryption_settings",
    "aws_iam_role_policy",
    "aws_kms_alias",
    "aws_lakeformation_data_lake_settings",
    "aws_lakeformation_permissions",
    "aws_lakeformation_resource",
    "aws_s3_bucket_lifecycle_configuration",
    "aws_s3_bucket_logging",
    "aws_s3_bucket_notification",
    "aws_s3_bucket_ownership_controls",
    "aws_s3_bucket_policy",
    "aws_s3_bucket_public_access_block",
    "aws_s3_bucket_replication_configuration",
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
    """(file, type, name, body) of each resource of the root, the pipeline and shared modules and
    the state bootstrap."""
    found = []
    for path in sorted(TF_DIR.glob("*.tf")) + PIPELINE_MODULES + SHARED_MODULES + BOOTSTRAP_FILES:
        for entry in parse_hcl(path).get("resource", []):
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
    """default_tags reach every taggable resource of the providers, the modules' too (they
    declare no provider of their own and are given one of the root's, the default aws when the
    call names none); the required tags come last in the merge, from their own variables, whose
    defaults are values the lake knows."""
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
    for path in PIPELINE_MODULES + SHARED_MODULES:
        assert "provider" not in parse_hcl(path), (
            f"{path}: a module's own provider drops default_tags"
        )
    root_providers = {
        f"${{aws.{block['aws']['alias']}}}" if "alias" in block["aws"] else "${aws}"
        for block in config["provider"]
        if "aws" in block
    }
    for name, body in modules_of(config).items():
        given = set(body.get("providers", {}).values())
        assert given <= root_providers, f"module {name} must use the root's aws providers: {given}"


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
    parsed = parse_hcl(path)
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
        parsed = parse_hcl(path)
        locals_ = {k: v for block in parsed["locals"] for k, v in block.items()}
        stamp = resources_of(parsed, "aws_s3_object")["pipeline_stamp"]
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
    group = clean_hcl(
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
