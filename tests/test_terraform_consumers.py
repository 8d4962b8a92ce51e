"""terraform/consumers.tf (ADR-0161): the lake's consumers reach the masked views and nothing else.

Read from the HCL, as the other terraform tests (tests/terraform_config.py). What is checked is
what AWS would be asked for: one consumer role and workgroup per access profile the code knows,
each assumable only by a session tagged with its profile and reaching only its workgroup, the
views' metadata and its own query results; the view definer holding what a definer view needs;
the curated zone registered with a role that reads curated/ only; Lake Formation's settings with
no IAMAllowedPrincipals default; the orchestrator reaching the views through the definer only.
"""

from __future__ import annotations

import re

import pytest
import yaml
from terraform_config import (
    LAKE_ARN,
    TF_DIR,
    as_list,
    document_reference,
    locals_of,
    one,
    policy_documents,
    resolve_locals,
    resources_of,
    statements_of,
    terraform_config,
    variables_of,
)

from lake_assets.access.engine import load_policy_set
from lake_assets.tables.locations import (
    published_location,
    published_month_location,
    query_output_prefix,
    run_output_prefix,
)

PROFILE = "${each.key}"
DEFINER = "${aws_iam_role.view_definer.arn}"
ORCHESTRATOR = "${aws_iam_role.orchestrator.arn}"
DAEMON = "${aws_iam_role.dagster_daemon.arn}"
LAKE_KEY = "${aws_kms_key.lake.arn}"
PARTITION = "${data.aws_partition.current.partition}"
REGION = "${data.aws_region.current.name}"
ACCOUNT = "${data.aws_caller_identity.current.account_id}"
ACCOUNT_ROOT = f"arn:{PARTITION}:iam::{ACCOUNT}:root"
GLUE = f"arn:{PARTITION}:glue:{REGION}:{ACCOUNT}"
CATALOG = f"{GLUE}:catalog"
CURATED_DATABASE = "${aws_glue_catalog_database.curated.arn}"
CURATED_TABLES = f"{GLUE}:table/${{aws_glue_catalog_database.curated.name}}/*"
VIEWS_DATABASE = "${aws_glue_catalog_database.views.arn}"
VIEWS = f"{GLUE}:table/${{aws_glue_catalog_database.views.name}}/*"
WORKGROUP = "${aws_athena_workgroup.consumer[each.key].arn}"
RESULTS_PREFIX = f"athena-results/{PROFILE}/"
RESULTS = f"{LAKE_ARN}/{RESULTS_PREFIX}*"
SERVICES = {"glue.amazonaws.com", "lakeformation.amazonaws.com"}

# What a consumer may do, action by action, and where: everything else is out of its reach.
CONSUMER_REACH = {
    "athena:GetQueryExecution": {WORKGROUP},
    "athena:GetQueryResults": {WORKGROUP},
    "athena:GetWorkGroup": {WORKGROUP},
    "athena:StartQueryExecution": {WORKGROUP},
    "athena:StopQueryExecution": {WORKGROUP},
    "glue:GetDatabase": {CATALOG, VIEWS_DATABASE, VIEWS},
    "glue:GetTable": {CATALOG, VIEWS_DATABASE, VIEWS},
    "glue:GetTables": {CATALOG, VIEWS_DATABASE, VIEWS},
    "s3:GetObject": {RESULTS},
    "s3:PutObject": {RESULTS},
    "s3:ListBucket": {LAKE_ARN},  # and only under its results: _listing_problems
    "s3:GetBucketLocation": {LAKE_ARN},
    # Its query results are encrypted with the lake key, and so is the Data Catalog.
    "kms:Decrypt": {LAKE_KEY},
    "kms:Encrypt": {LAKE_KEY},
    "kms:GenerateDataKey": {LAKE_KEY},
    "lakeformation:GetDataAccess": {"*"},
}
# What a consumer cannot do without: query in its workgroup, see a view, get its data, keep
# its results.
CONSUMER_NEEDS = {
    ("athena:StartQueryExecution", WORKGROUP),
    ("athena:GetQueryResults", WORKGROUP),
    ("glue:GetTable", VIEWS),
    ("lakeformation:GetDataAccess", "*"),
    ("s3:PutObject", RESULTS),
    ("s3:GetObject", RESULTS),
    ("kms:GenerateDataKey", LAKE_KEY),
}


@pytest.fixture(scope="module")
def config() -> dict[str, list]:
    return terraform_config()


def _documents(config) -> dict[str, dict]:
    return policy_documents(config)


def _per_profile_document(expression: str) -> str:
    """'${data.aws_iam_policy_document.x[each.key].json}' -> 'x': a document of the same
    profile as the resource using it."""
    found = re.fullmatch(
        r"\$\{data\.aws_iam_policy_document\.(\w+)\[each\.key\]\.json\}", expression
    )
    assert found, f"{expression} is not a policy document of the same profile"
    return found.group(1)


def _terraform_profiles(config) -> set[str]:
    """The access profiles Terraform declares consumers for: the keys of `profiles` in the file
    local.access_profiles reads, as Terraform reads them."""
    expression = locals_of(config)["access_profiles"]
    found = re.fullmatch(
        r'\$\{toset\(keys\(yamldecode\(file\("\$\{path\.module\}/([^"]+)"\)\)\.profiles\)\)\}',
        expression,
    )
    assert found, f"local.access_profiles is not the keys of a file's profiles: {expression}"
    return set(yaml.safe_load((TF_DIR / found.group(1)).resolve().read_text())["profiles"])


def _evaluated(config, expression: str, profile: str) -> str:
    """An expression of a profile's resource with the names a plan would give it (the default
    name_prefix, an example account)."""
    value = resolve_locals(expression, locals_of(config))
    for reference, replacement in {
        PROFILE: profile,
        "${var.name_prefix}": variables_of(config)["name_prefix"]["default"],
        PARTITION: "aws",
        ACCOUNT: "123456789012",
    }.items():
        value = value.replace(reference, replacement)
    assert "${" not in value, f"not evaluated: {value}"
    return value


def _conditions(statement: dict) -> dict[str, tuple[str, list]]:
    return {
        c["variable"]: (c["test"], as_list(c["values"])) for c in statement.get("condition", [])
    }


def _grants(document: dict) -> set[tuple[str, str]]:
    return {
        (action, resource)
        for statement in statements_of(document)
        for action in as_list(statement["actions"])
        for resource in as_list(statement.get("resources", []))
    }


# --------------------------------------------------------------------------------------------
# One consumer role and one workgroup per access profile
# --------------------------------------------------------------------------------------------


def test_the_consumers_are_exactly_the_access_profiles_the_code_knows(config):
    """Terraform reads the profiles from the access config itself: every profile the policy
    engine knows, and no other, has a role, its policy, its trust and a workgroup."""
    assert _terraform_profiles(config) == set(load_policy_set().profiles)
    documents = _documents(config)
    per_profile = {
        "role": resources_of(config, "aws_iam_role")["consumer"],
        "role policy": resources_of(config, "aws_iam_role_policy")["consumer"],
        "workgroup": resources_of(config, "aws_athena_workgroup")["consumer"],
        "trust": documents["consumer_trust"],
        "policy": documents["consumer"],
    }
    profiles = locals_of(config)["access_profiles"]
    for what, body in per_profile.items():  # documents come with their locals resolved
        assert resolve_locals(body["for_each"], locals_of(config)) == profiles, what
    assert set(resources_of(config, "aws_athena_workgroup")) == {"consumer"}


def test_a_profiles_role_is_the_one_the_code_grants_its_views_to(config):
    """The code grants a profile's views to consumer_role_arn_prefix + profile: that is the ARN
    of the profile's role, and the role's policy and trust are the profile's own."""
    role = resources_of(config, "aws_iam_role")["consumer"]
    assert "path" not in role  # the prefix assumes the root path
    outputs = {name: body for entry in config["output"] for name, body in entry.items()}
    for profile in _terraform_profiles(config):
        arn = f"arn:aws:iam::123456789012:role/{_evaluated(config, role['name'], profile)}"
        prefix = _evaluated(config, outputs["consumer_role_arn_prefix"]["value"], profile)
        assert prefix + profile == arn
    assert _per_profile_document(role["assume_role_policy"]) == "consumer_trust"
    policy = resources_of(config, "aws_iam_role_policy")["consumer"]
    assert policy["role"] == "${aws_iam_role.consumer[each.key].id}"
    assert _per_profile_document(policy["policy"]) == "consumer"
    workgroups = outputs["consumer_workgroups"]["value"]
    assert workgroups == (
        "${{for profile, workgroup in aws_athena_workgroup.consumer : profile => workgroup.name}}"
    )


def test_a_consumer_role_is_assumed_only_by_sessions_tagged_with_its_profile(config):
    """Attribute-based: a principal of this account whose lake_profile tag is the role's
    profile (the identity provider's session tag), for an hour at most."""
    role = resources_of(config, "aws_iam_role")["consumer"]
    assert role["max_session_duration"] == 3600
    statement = one(statements_of(_documents(config)["consumer_trust"]))
    assert statement.get("effect", "Allow") == "Allow"
    assert statement["actions"] == ["sts:AssumeRole"]
    assert statement["principals"] == [{"type": "AWS", "identifiers": [ACCOUNT_ROOT]}]
    assert _conditions(statement) == {"aws:PrincipalTag/lake_profile": ("StringEquals", [PROFILE])}


# --------------------------------------------------------------------------------------------
# What a consumer may reach
# --------------------------------------------------------------------------------------------


def _listing_problems(statement: dict) -> list[str]:
    prefixes = _conditions(statement).get("s3:prefix")
    if prefixes is None:
        return ["s3:ListBucket without an s3:prefix condition"]
    test, values = prefixes
    if test != "StringLike" or values != [f"{RESULTS_PREFIX}*"]:
        return [f"s3:ListBucket under {test} {values}, not its own results"]
    return []


def _consumer_reach_problems(document: dict) -> list[str]:
    """Each (action, resource) a consumer's policy allows that CONSUMER_REACH does not."""
    problems = []
    for statement in statements_of(document):
        where = statement.get("sid", "?")
        if statement.get("effect", "Allow") != "Allow":
            continue
        for field in ("not_actions", "not_resources"):
            if field in statement:
                problems.append(f"{where}: {field}")
        actions = as_list(statement["actions"])
        for action in actions:
            allowed = CONSUMER_REACH.get(action)
            if allowed is None:
                problems.append(f"{where}: {action} is out of a consumer's reach")
                continue
            for resource in as_list(statement.get("resources", [])):
                if resource not in allowed:
                    problems.append(f"{where}: {action} on {resource}")
        if "s3:ListBucket" in actions:
            problems += [f"{where}: {problem}" for problem in _listing_problems(statement)]
    return problems


def test_a_consumer_reaches_its_workgroup_the_views_and_its_own_results_only(config):
    document = _documents(config)["consumer"]
    assert _consumer_reach_problems(document) == []
    assert CONSUMER_NEEDS <= _grants(document), CONSUMER_NEEDS - _grants(document)


@pytest.mark.parametrize(
    "statement, expected",
    [
        ({"actions": ["s3:GetObject"], "resources": [f"{LAKE_ARN}/curated/*"]}, "curated"),
        ({"actions": ["s3:GetObject"], "resources": [f"{LAKE_ARN}/athena-results/*"]}, "results"),
        ({"actions": ["s3:GetObject"], "resources": [f"{LAKE_ARN}/*"]}, "s3:GetObject on"),
        ({"actions": ["s3:DeleteObject"], "resources": [RESULTS]}, "out of a consumer's reach"),
        ({"actions": ["s3:ListBucket"], "resources": [LAKE_ARN]}, "without an s3:prefix"),
        (
            {
                "actions": ["s3:ListBucket"],
                "resources": [LAKE_ARN],
                "condition": [
                    {"test": "StringLike", "variable": "s3:prefix", "values": ["curated/*"]}
                ],
            },
            "not its own results",
        ),
        ({"actions": ["glue:GetTable"], "resources": [CURATED_TABLES]}, "glue:GetTable on"),
        ({"actions": ["glue:GetTable"], "resources": [CURATED_DATABASE]}, "glue:GetTable on"),
        ({"actions": ["glue:GetPartitions"], "resources": [VIEWS]}, "out of a consumer's reach"),
        ({"actions": ["glue:CreateTable"], "resources": [VIEWS]}, "out of a consumer's reach"),
        ({"actions": ["dynamodb:GetItem"], "resources": ["${x}"]}, "out of a consumer's reach"),
        (
            {"actions": ["secretsmanager:GetSecretValue"], "resources": ["${x}"]},
            "out of a consumer's reach",
        ),
        ({"actions": ["kms:Decrypt"], "resources": ["${aws_kms_key.dr[0].arn}"]}, "kms:Decrypt"),
        ({"actions": ["kms:CreateGrant"], "resources": [LAKE_KEY]}, "out of a consumer's reach"),
        (
            {"actions": ["athena:StartQueryExecution"], "resources": [f"{GLUE}:workgroup/*"]},
            "athena:StartQueryExecution on",
        ),
        (
            {"actions": ["lakeformation:GrantPermissions"], "resources": ["*"]},
            "out of a consumer's reach",
        ),
        ({"actions": ["sts:AssumeRole"], "resources": [DEFINER]}, "out of a consumer's reach"),
        ({"actions": ["s3:GetObject"], "not_resources": [RESULTS]}, "not_resources"),
    ],
)
def test_the_reach_check_catches(statement, expected):
    problems = _consumer_reach_problems({"statement": [statement]})
    assert any(expected in problem for problem in problems), problems


def test_a_consumer_queries_in_its_workgroup_which_keeps_results_where_it_may_read_them(config):
    """Athena writes the results of a query where the workgroup says, encrypted with the lake
    key, whatever the query asks; the consumer's results grant is that place; a query that
    would scan more than the cutoff is cancelled."""
    workgroup = resources_of(config, "aws_athena_workgroup")["consumer"]
    assert workgroup["name"] == f"${{var.name_prefix}}-{PROFILE}"
    settings = one(workgroup["configuration"])
    assert settings["enforce_workgroup_configuration"] is True
    assert settings["publish_cloudwatch_metrics_enabled"] is True
    cutoff = settings["bytes_scanned_cutoff_per_query"]
    assert cutoff == "${var.consumer_query_scan_cutoff_gb * 1024 * 1024 * 1024}"
    assert variables_of(config)["consumer_query_scan_cutoff_gb"]["default"] == 100
    # Definer views run on Athena engine version 3 only.
    assert one(settings["engine_version"]) == {"selected_engine_version": "Athena engine version 3"}
    results = one(settings["result_configuration"])
    assert results["output_location"] == f"s3://${{aws_s3_bucket.lake.bucket}}/{RESULTS_PREFIX}"
    assert results["expected_bucket_owner"] == "${local.account_id}"
    assert one(results["encryption_configuration"]) == {
        "encryption_option": "SSE_KMS",
        "kms_key_arn": LAKE_KEY,
    }
    granted = {r for a, r in _grants(_documents(config)["consumer"]) if a == "s3:PutObject"}
    assert granted == {f"{LAKE_ARN}/{RESULTS_PREFIX}*"}


# --------------------------------------------------------------------------------------------
# The view definer
# --------------------------------------------------------------------------------------------


def _lake_formation_grants(config, principal: str) -> list[dict]:
    """Each aws_lakeformation_permissions of `principal` (directly or through its for_each
    map): its resource block and permissions."""
    found = []
    principals = locals_of(config)["curated_catalog_principals"]
    for body in resources_of(config, "aws_lakeformation_permissions").values():
        whose = body["principal"]
        if whose == "${each.value}":
            assert body["for_each"] == "${local.curated_catalog_principals}"
            if principal not in principals.values():
                continue
        elif whose != principal:
            continue
        [kind] = {"table", "database", "data_location"} & set(body)
        found.append(
            {
                kind: one(body[kind]),
                "permissions": sorted(body["permissions"]),
                "grantable": sorted(body.get("permissions_with_grant_option", [])),
            }
        )
    return sorted(found, key=str)


def test_the_definer_may_grant_select_on_the_curated_tables_and_create_views(config):
    """What a definer view needs (Lake Formation's prerequisites): SELECT with grant option on
    every column of its base table, CREATE_TABLE where the views are. Nothing more: the views it
    creates are its own (a creator holds ALL with grant option), so it can grant them."""
    assert _lake_formation_grants(config, DEFINER) == sorted(
        [
            {
                "table": {
                    "database_name": "${aws_glue_catalog_database.curated.name}",
                    "wildcard": True,
                },
                "permissions": ["SELECT"],
                "grantable": ["SELECT"],
            },
            {
                "database": {"name": "${aws_glue_catalog_database.views.name}"},
                "permissions": ["CREATE_TABLE", "DESCRIBE"],
                "grantable": [],
            },
        ],
        key=str,
    )


def test_the_definer_is_trusted_by_glue_lake_formation_and_the_orchestrator_only(config):
    role = resources_of(config, "aws_iam_role")["view_definer"]
    trust = _documents(config)[document_reference(role["assume_role_policy"])]
    trusted = set()
    for statement in statements_of(trust):
        assert statement.get("effect", "Allow") == "Allow"
        assert statement["actions"] == ["sts:AssumeRole"]
        for principal in statement["principals"]:
            trusted |= {(principal["type"], i) for i in as_list(principal["identifiers"])}
    assert trusted == {("Service", s) for s in SERVICES} | {("AWS", ORCHESTRATOR)}


def test_the_definer_reaches_no_data_and_changes_only_the_views(config):
    """It reads curated data through Lake Formation only (no S3 action); it writes the views
    database only; it passes itself, and only to the services that act as it."""
    documents = _documents(config)
    role_policies = {
        name: documents[document_reference(body["policy"])]
        for name, body in resources_of(config, "aws_iam_role_policy").items()
        if body["role"] == "${aws_iam_role.view_definer.id}"
    }
    assert set(role_policies) == {"view_definer", "view_definer_resolves_views"}
    for name, document in role_policies.items():
        for statement in statements_of(document):
            actions, resources = as_list(statement["actions"]), as_list(statement["resources"])
            assert not [a for a in actions if a.startswith(("s3:", "dynamodb:", "secretsmanager:"))]
            for action in actions:
                if action.startswith("glue:") and not action.startswith(("glue:Get", "glue:Batch")):
                    assert set(resources) <= {CATALOG, VIEWS_DATABASE, VIEWS}, (name, action)
                if action.startswith("glue:"):
                    lake = {CATALOG, CURATED_DATABASE, CURATED_TABLES, VIEWS_DATABASE, VIEWS}
                    assert set(resources) <= lake, (name, action)
                if action == "iam:PassRole":
                    assert resources == [DEFINER]
                    passed = _conditions(statement)["iam:PassedToService"]
                    assert passed[0] == "StringEquals" and set(passed[1]) <= SERVICES
                if action.startswith("kms:"):
                    assert resources == [LAKE_KEY]
    # What Glue and Lake Formation do as the definer: read metadata, ask for the data.
    resolves = {a for a, _ in _grants(role_policies["view_definer_resolves_views"])}
    reads = {a for a in resolves if a.startswith(("glue:Get", "glue:BatchGet"))}
    assert resolves - reads == {"lakeformation:GetDataAccess"}, resolves


# --------------------------------------------------------------------------------------------
# Lake Formation governs the curated zone
# --------------------------------------------------------------------------------------------


def test_the_curated_zone_where_every_table_lives_is_registered(config):
    """Every table and partition the lake writes is under curated/ (tables/locations.py): that
    prefix is registered, not hybrid, with Lake Formation's own role."""
    for key in (
        run_output_prefix("customers", "r1"),
        query_output_prefix("customers", "q1"),
        published_location("customers", "r1", "2026-01-01"),
        published_month_location("cur_costs", "r1", "2026-01"),
    ):
        assert key.startswith("curated/"), key
    location = one(list(resources_of(config, "aws_lakeformation_resource").values()))
    assert location["arn"] == f"{LAKE_ARN}/curated"
    assert location["hybrid_access_enabled"] is False
    assert location["role_arn"] == "${aws_iam_role.lake_formation_location.arn}"
    assert "use_service_linked_role" not in location


def test_lake_formation_reads_curated_with_a_role_that_can_read_nothing_else(config):
    documents = _documents(config)
    role = resources_of(config, "aws_iam_role")["lake_formation_location"]
    trust = one(statements_of(documents[document_reference(role["assume_role_policy"])]))
    assert trust["principals"] == [
        {"type": "Service", "identifiers": ["lakeformation.amazonaws.com"]}
    ]
    [policy] = [
        documents[document_reference(body["policy"])]
        for body in resources_of(config, "aws_iam_role_policy").values()
        if body["role"] == "${aws_iam_role.lake_formation_location.id}"
    ]
    assert _grants(policy) == {
        ("s3:GetObject", f"{LAKE_ARN}/curated/*"),
        ("s3:ListBucket", LAKE_ARN),
        ("kms:Decrypt", LAKE_KEY),
    }
    [listing] = [s for s in statements_of(policy) if "s3:ListBucket" in s["actions"]]
    assert _conditions(listing) == {"s3:prefix": ("StringLike", ["curated/*"])}


def test_no_iam_allowed_principals_default_for_new_databases_and_tables(config):
    """Definer views refuse a table where IAMAllowedPrincipals holds a grant. The settings
    declare no default permission block (the provider sends them empty), nothing grants
    IAMAllowedPrincipals, and a check reads the settings back, since the provider does not show
    a default added outside Terraform as a change."""
    settings = one(list(resources_of(config, "aws_lakeformation_data_lake_settings").values()))
    defaults = {"create_database_default_permissions", "create_table_default_permissions"}
    assert not defaults & set(settings)
    assert not [d for d in settings.get("dynamic", []) if defaults & set(d)]
    assert "IAM_ALLOWED_PRINCIPALS" not in str(
        resources_of(config, "aws_lakeformation_permissions")
    )
    check = one(config["check"])["no_iam_allowed_principals_default"]
    condition = one(check["assert"])["condition"]
    for default in defaults:
        assert f"length(data.aws_lakeformation_data_lake_settings.applied.{default}) == 0" in (
            condition
        )


def test_the_administrators_are_the_deployer_and_the_declared_ones(config):
    """Lake Formation's grants are an administrator's: the identity applying Terraform stays
    one (its role, not the session), and every grant waits for the settings."""
    settings = one(list(resources_of(config, "aws_lakeformation_data_lake_settings").values()))
    assert settings["admins"] == (
        "${setunion([data.aws_iam_session_context.deployer.issuer_arn], var.lake_formation_admins)}"
    )
    data = {
        (t, name): body for entry in config["data"] for t, named in entry.items()
        for name, body in named.items()
    }  # fmt: skip
    assert data["aws_iam_session_context", "deployer"]["arn"] == (
        "${data.aws_caller_identity.current.arn}"
    )
    assert variables_of(config)["lake_formation_admins"]["default"] == []
    for name, grant in resources_of(config, "aws_lakeformation_permissions").items():
        assert grant["depends_on"] == ["${aws_lakeformation_data_lake_settings.this}"], name


# --------------------------------------------------------------------------------------------
# The orchestrator
# --------------------------------------------------------------------------------------------


def test_the_orchestrator_reaches_the_views_only_as_the_definer(config):
    """It may assume the definer, and holds no IAM or Lake Formation grant on the views
    database itself (the daemon, which has the orchestrator's document, neither)."""
    orchestrator = _documents(config)["orchestrator"]
    assuming = [s for s in statements_of(orchestrator) if "sts:AssumeRole" in s["actions"]]
    assert [(s["actions"], s["resources"]) for s in assuming] == [(["sts:AssumeRole"], [DEFINER])]
    on_views = [r for _, r in _grants(orchestrator) if "aws_glue_catalog_database.views" in r]
    assert on_views == []
    daemon = resources_of(config, "aws_iam_role_policy")["dagster_daemon_lake"]
    assert document_reference(daemon["policy"]) == "orchestrator"
    for principal in (ORCHESTRATOR, DAEMON):
        assert "views" not in str(_lake_formation_grants(config, principal))


def test_the_processes_that_write_the_catalog_keep_their_grants_on_the_curated_tables(config):
    """Once Lake Formation governs the curated tables, the orchestrator's and the daemon's
    Glue calls there need its permission: tables created, altered, read; partitions pointing
    into the registered location."""
    assert locals_of(config)["curated_catalog_principals"] == {
        "orchestrator": ORCHESTRATOR,
        "dagster_daemon": DAEMON,
    }
    for principal in (ORCHESTRATOR, DAEMON):
        assert _lake_formation_grants(config, principal) == sorted(
            [
                {
                    "database": {"name": "${aws_glue_catalog_database.curated.name}"},
                    "permissions": ["ALTER", "CREATE_TABLE", "DESCRIBE"],
                    "grantable": [],
                },
                {
                    "table": {
                        "database_name": "${aws_glue_catalog_database.curated.name}",
                        "wildcard": True,
                    },
                    "permissions": ["ALL"],
                    "grantable": [],
                },
                {
                    "data_location": {"arn": "${aws_lakeformation_resource.curated.arn}"},
                    "permissions": ["DATA_LOCATION_ACCESS"],
                    "grantable": [],
                },
            ],
            key=str,
        )
