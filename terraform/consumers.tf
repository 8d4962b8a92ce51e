# The lake's consumers (ADR-0161): analysts query the masked views, one AWS Glue Data Catalog
# definer view per dataset and access profile (<dataset>__<profile>, in the views database of
# catalog.tf), and nothing else: not the curated tables, not the S3 objects under them.
#
# An Athena view runs with its caller's rights, so a consumer of one would need the curated
# table and its objects too. A definer view runs with its definer's Lake Formation grant
# instead, and the consumer needs a grant on the view alone. So:
#   - Lake Formation owns the curated tables: the curated zone is registered (Lake Formation
#     reads it with a role of its own) and no table gets an IAMAllowedPrincipals grant;
#   - the view definer role holds SELECT with grant option on the curated tables and creates the
#     views; the code assumes it (resources/aws/clients.py AssumedRole) to create, replace,
#     delete and grant them, each to its profile's consumer role (resources/aws/lake_formation.py);
#   - one consumer role and Athena workgroup per access profile of config/access/profiles.yaml:
#     a person whose session carries the tag lake_profile=<profile> may assume the role, which
#     may run Athena in its workgroup and read the views database's metadata; Lake Formation
#     decides which views it sees.

locals {
  # Read here, not listed again: a profile added to the access config has its role and workgroup
  # at the next apply.
  access_profiles = toset(keys(yamldecode(file("${path.module}/../config/access/profiles.yaml")).profiles))

  # The code derives a profile's role as <prefix><profile> (LAKE_CONSUMER_ROLE_ARN_PREFIX).
  consumer_role_name_prefix = "${var.name_prefix}-consumer-"
  consumer_role_arn_prefix  = "arn:${local.partition}:iam::${local.account_id}:role/${local.consumer_role_name_prefix}"

  # The Dagster processes that do the lake's catalog work: a run (the orchestrator role) and the
  # daemon, whose sensors read the partitions (ecs_iam.tf gives it the orchestrator's policy).
  # Lake Formation permissions are per principal: each needs its own.
  curated_catalog_principals = {
    orchestrator   = aws_iam_role.orchestrator.arn
    dagster_daemon = aws_iam_role.dagster_daemon.arn
  }
}

# ---------------------------------------------------------------------------------------------
# Lake Formation's settings: who administers it, and no IAM-only default for new resources
# ---------------------------------------------------------------------------------------------

data "aws_iam_session_context" "deployer" {
  arn = data.aws_caller_identity.current.arn
}

# One setting per account and region, replaced as a whole: the administrators are exactly the
# identity applying Terraform (it registers the location and makes the grants below) and
# lake_formation_admins. Name every identity that applies Terraform there (CI's and people's):
# otherwise each apply makes its own identity the only administrator.
#
# No create_database_default_permissions or create_table_default_permissions block: the provider
# sends both empty, so new databases and tables get no IAMAllowedPrincipals grant (an empty list
# is what turns the IAM-only default off). Definer views refuse a table, and a database, where
# IAMAllowedPrincipals holds a grant. The blocks are computed too, so a default added outside
# Terraform would not show as a change: the check below reads the settings and warns.
resource "aws_lakeformation_data_lake_settings" "this" {
  admins = setunion([data.aws_iam_session_context.deployer.issuer_arn], var.lake_formation_admins)
}

check "no_iam_allowed_principals_default" {
  # Read at plan and again after apply: a plan in an account that still has the defaults warns
  # until this apply clears them.
  data "aws_lakeformation_data_lake_settings" "applied" {}

  assert {
    condition = (
      length(data.aws_lakeformation_data_lake_settings.applied.create_database_default_permissions) == 0 &&
      length(data.aws_lakeformation_data_lake_settings.applied.create_table_default_permissions) == 0
    )
    error_message = "Lake Formation gives new databases or tables a default grant (IAMAllowedPrincipals?), which definer views refuse: terraform apply -replace=aws_lakeformation_data_lake_settings.this puts the settings back without it."
  }
}

# ---------------------------------------------------------------------------------------------
# The curated zone, registered: Lake Formation reads it for the engines it grants
# ---------------------------------------------------------------------------------------------

# Every curated table and partition lives under curated/ (lake_assets/tables/locations.py,
# resources/aws/glue.py); no other zone has a Glue table.
resource "aws_lakeformation_resource" "curated" {
  arn      = "${aws_s3_bucket.lake.arn}/curated"
  role_arn = aws_iam_role.lake_formation_location.arn
  # Not hybrid: Lake Formation alone decides who reads a curated table through the catalog.
  hybrid_access_enabled = false
}

data "aws_iam_policy_document" "lake_formation_location_trust" {
  statement {
    sid     = "LakeFormationReadsTheCuratedZone"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lakeformation.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "lake_formation_location" {
  name                 = "${var.name_prefix}-lake-formation-curated"
  description          = "Lake Formation reads the curated zone with this role for the queries it grants."
  assume_role_policy   = data.aws_iam_policy_document.lake_formation_location_trust.json
  max_session_duration = 3600
}

# Read only: what Lake Formation vends serves queries of the views; the lake writes curated/
# with its own roles (iam.tf), not through Lake Formation.
data "aws_iam_policy_document" "lake_formation_location" {
  statement {
    sid       = "ReadCuratedObjects"
    effect    = "Allow"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.lake.arn}/curated/*"]
  }

  statement {
    sid       = "ListCuratedZone"
    effect    = "Allow"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.lake.arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["curated/*"]
    }
  }

  statement {
    sid       = "DecryptCuratedObjects"
    effect    = "Allow"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.lake.arn]
  }
}

resource "aws_iam_role_policy" "lake_formation_location" {
  name   = "read-curated-zone"
  role   = aws_iam_role.lake_formation_location.id
  policy = data.aws_iam_policy_document.lake_formation_location.json
}

# ---------------------------------------------------------------------------------------------
# The view definer: creates the masked views and grants them; the views run as it
# ---------------------------------------------------------------------------------------------

data "aws_iam_policy_document" "view_definer_trust" {
  # Glue checks a view's SQL and Lake Formation vends its base table's data as the definer
  # (Lake Formation's "Prerequisites for creating views").
  statement {
    sid     = "GlueAndLakeFormationActAsTheDefiner"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["glue.amazonaws.com", "lakeformation.amazonaws.com"]
    }
  }

  # The masked views' asset registers them as the definer: only the role that creates a
  # definer view may be its Definer.
  statement {
    sid     = "OrchestratorRegistersTheViews"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "AWS"
      identifiers = [aws_iam_role.orchestrator.arn]
    }
  }
}

resource "aws_iam_role" "view_definer" {
  name                 = "${var.name_prefix}-view-definer"
  description          = "Defines the lake's masked views (Glue Data Catalog definer views) and grants them to the consumer roles."
  assume_role_policy   = data.aws_iam_policy_document.view_definer_trust.json
  max_session_duration = 3600
}

# The calls the code makes as the definer, recorded like every role's (terraform/tests/
# aws_calls.json, tests/test_terraform.py): exactly these.
data "aws_iam_policy_document" "view_definer" {
  # The views database kept in step with the policies (resources/aws/glue_views.py): a view a
  # profile may no longer read is deleted.
  statement {
    sid    = "MaskedViews"
    effect = "Allow"
    actions = [
      "glue:CreateTable",
      "glue:DeleteTable",
      "glue:GetTables",
      "glue:UpdateTable",
    ]
    resources = [
      local.glue_catalog_arn,
      aws_glue_catalog_database.views.arn,
      local.glue_views_arn,
    ]
  }

  # Each view granted to its profile's consumer role, stale grants revoked
  # (resources/aws/lake_formation.py). Lake Formation authorises its API on "*" only; its own
  # grants (below) bound what the definer may grant.
  statement {
    sid    = "ViewGrants"
    effect = "Allow"
    actions = [
      "lakeformation:BatchGrantPermissions",
      "lakeformation:BatchRevokePermissions",
      "lakeformation:ListPermissions",
    ]
    resources = ["*"]
  }

  # A definer view names its Definer: creating or replacing one passes this role to the
  # services that act as it.
  statement {
    sid       = "PassItselfAsDefiner"
    effect    = "Allow"
    actions   = ["iam:PassRole"]
    resources = [aws_iam_role.view_definer.arn]
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["glue.amazonaws.com", "lakeformation.amazonaws.com"]
    }
  }

  # The Data Catalog is encrypted with the lake key (catalog.tf); its clients use the key with
  # their own credentials.
  statement {
    sid    = "UseLakeKey"
    effect = "Allow"
    actions = [
      "kms:Decrypt",
      "kms:Encrypt",
      "kms:GenerateDataKey",
    ]
    resources = [aws_kms_key.lake.arn]
  }
}

resource "aws_iam_role_policy" "view_definer" {
  name   = "view-definer"
  role   = aws_iam_role.view_definer.id
  policy = data.aws_iam_policy_document.view_definer.json
}

# What Glue and Lake Formation do as the definer, not the code: read the base table's metadata to
# check and plan a view, and ask Lake Formation for its data when a view is queried (Lake
# Formation's "Prerequisites for creating views"). Apart from the recorded calls above, which
# tests/test_terraform.py compares with the recording; tests/test_terraform_consumers.py holds
# this one to the lake's databases.
data "aws_iam_policy_document" "view_definer_resolves_views" {
  statement {
    sid    = "ReadBaseTablesAndViews"
    effect = "Allow"
    actions = [
      "glue:BatchGetPartition",
      "glue:GetDatabase",
      "glue:GetPartition",
      "glue:GetPartitions",
      "glue:GetTable",
      "glue:GetTables",
    ]
    resources = [
      local.glue_catalog_arn,
      local.glue_database_arn,
      local.glue_tables_arn,
      aws_glue_catalog_database.views.arn,
      local.glue_views_arn,
    ]
  }

  statement {
    sid       = "BaseTableDataThroughLakeFormation"
    effect    = "Allow"
    actions   = ["lakeformation:GetDataAccess"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "view_definer_resolves_views" {
  name   = "resolve-views"
  role   = aws_iam_role.view_definer.id
  policy = data.aws_iam_policy_document.view_definer_resolves_views.json
}

# Lake Formation's grants are made by an administrator: each waits for the settings.

# SELECT on every column of every curated table, grantable: what a definer view needs of its base
# table. The definer's grants on the views themselves come from creating them (a table's creator
# holds ALL on it with grant option), which is what lets it grant them to the consumer roles.
resource "aws_lakeformation_permissions" "view_definer_curated_tables" {
  principal                     = aws_iam_role.view_definer.arn
  permissions                   = ["SELECT"]
  permissions_with_grant_option = ["SELECT"]

  table {
    database_name = aws_glue_catalog_database.curated.name
    wildcard      = true
  }

  depends_on = [aws_lakeformation_data_lake_settings.this]
}

resource "aws_lakeformation_permissions" "view_definer_views_database" {
  principal   = aws_iam_role.view_definer.arn
  permissions = ["CREATE_TABLE", "DESCRIBE"]

  database {
    name = aws_glue_catalog_database.views.name
  }

  depends_on = [aws_lakeformation_data_lake_settings.this]
}

# ---------------------------------------------------------------------------------------------
# The lake's own catalog work on the curated tables, now that Lake Formation governs them
# ---------------------------------------------------------------------------------------------

# Publish creates the tables and switches their partitions; sealing, compaction, retention and
# the classification store update them; sensors and the catalog export read them
# (resources/aws/glue.py, resources/aws/glue_classification.py). The IAM grants (iam.tf) let
# these processes call Glue; Lake Formation allows the calls on its tables with these.
resource "aws_lakeformation_permissions" "curated_database" {
  for_each    = local.curated_catalog_principals
  principal   = each.value
  permissions = ["ALTER", "CREATE_TABLE", "DESCRIBE"]

  database {
    name = aws_glue_catalog_database.curated.name
  }

  depends_on = [aws_lakeformation_data_lake_settings.this]
}

resource "aws_lakeformation_permissions" "curated_tables" {
  for_each    = local.curated_catalog_principals
  principal   = each.value
  permissions = ["ALL"]

  table {
    database_name = aws_glue_catalog_database.curated.name
    wildcard      = true
  }

  depends_on = [aws_lakeformation_data_lake_settings.this]
}

# A table or partition that points into a registered location needs this of its creator.
resource "aws_lakeformation_permissions" "curated_location" {
  for_each    = local.curated_catalog_principals
  principal   = each.value
  permissions = ["DATA_LOCATION_ACCESS"]

  data_location {
    arn = aws_lakeformation_resource.curated.arn
  }

  depends_on = [aws_lakeformation_data_lake_settings.this]
}

# ---------------------------------------------------------------------------------------------
# Consumers: one role and one Athena workgroup per access profile
# ---------------------------------------------------------------------------------------------

# Attribute-based: anyone of this account whose session carries lake_profile=<profile> (the
# identity provider's session tag says which profile a person acts as) and whose own policy lets
# them assume the role; no list of people here.
data "aws_iam_policy_document" "consumer_trust" {
  for_each = local.access_profiles

  statement {
    sid     = "PeopleOfTheProfile"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:PrincipalTag/lake_profile"
      values   = [each.key]
    }
  }
}

resource "aws_iam_role" "consumer" {
  for_each             = local.access_profiles
  name                 = "${local.consumer_role_name_prefix}${each.key}"
  description          = "Queries the lake's masked views as the ${each.key} access profile, and nothing else."
  assume_role_policy   = data.aws_iam_policy_document.consumer_trust[each.key].json
  max_session_duration = 3600

  lifecycle {
    precondition {
      condition     = can(regex("^[A-Za-z0-9_.-]+$", each.key)) && length("${local.consumer_role_name_prefix}${each.key}") <= 64
      error_message = "Access profile ${each.key} (config/access/profiles.yaml) names its consumer role ${local.consumer_role_name_prefix}${each.key} and its Athena workgroup: letters, digits, _ . - only, and the role name at most 64 characters."
    }
  }
}

# Athena in its own workgroup, the views database's metadata (Lake Formation decides which views
# it sees and reads), its own query results. Nothing on the data zones, the curated database,
# DynamoDB or secrets.
data "aws_iam_policy_document" "consumer" {
  for_each = local.access_profiles

  statement {
    sid    = "QueryInItsWorkgroup"
    effect = "Allow"
    actions = [
      "athena:GetQueryExecution",
      "athena:GetQueryResults",
      "athena:GetWorkGroup",
      "athena:StartQueryExecution",
      "athena:StopQueryExecution",
    ]
    resources = [aws_athena_workgroup.consumer[each.key].arn]
  }

  statement {
    sid    = "SeeTheViews"
    effect = "Allow"
    actions = [
      "glue:GetDatabase",
      "glue:GetTable",
      "glue:GetTables",
    ]
    resources = [
      local.glue_catalog_arn,
      aws_glue_catalog_database.views.arn,
      local.glue_views_arn,
    ]
  }

  # Athena writes a query's results with the caller's credentials, and reads them back.
  statement {
    sid    = "QueryResults"
    effect = "Allow"
    actions = [
      "s3:GetObject",
      "s3:PutObject",
    ]
    resources = ["${aws_s3_bucket.lake.arn}/athena-results/${each.key}/*"]
  }

  statement {
    sid       = "ListQueryResults"
    effect    = "Allow"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.lake.arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["athena-results/${each.key}/*"]
    }
  }

  statement {
    sid       = "LocateQueryResults"
    effect    = "Allow"
    actions   = ["s3:GetBucketLocation"]
    resources = [aws_s3_bucket.lake.arn]
  }

  # Results are SSE-KMS with the lake key; the encrypted Data Catalog asks the key with the
  # caller's credentials too, Encrypt included (Athena's "access to encrypted metadata").
  statement {
    sid    = "UseLakeKey"
    effect = "Allow"
    actions = [
      "kms:Decrypt",
      "kms:Encrypt",
      "kms:GenerateDataKey",
    ]
    resources = [aws_kms_key.lake.arn]
  }

  # The views' data comes from Lake Formation, which authorises this on "*" only; its grants
  # say which views.
  statement {
    sid       = "ViewDataThroughLakeFormation"
    effect    = "Allow"
    actions   = ["lakeformation:GetDataAccess"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "consumer" {
  for_each = local.access_profiles
  name     = "query-masked-views"
  role     = aws_iam_role.consumer[each.key].id
  policy   = data.aws_iam_policy_document.consumer[each.key].json
}

resource "aws_athena_workgroup" "consumer" {
  for_each    = local.access_profiles
  name        = "${var.name_prefix}-${each.key}"
  description = "Queries of the ${each.key} access profile on the lake's masked views."

  configuration {
    # A query cannot pick another results location or turn the encryption off.
    enforce_workgroup_configuration    = true
    publish_cloudwatch_metrics_enabled = true
    bytes_scanned_cutoff_per_query     = var.consumer_query_scan_cutoff_gb * 1024 * 1024 * 1024

    # Definer views (multi-dialect Glue views) run on engine version 3 only.
    engine_version {
      selected_engine_version = "Athena engine version 3"
    }

    result_configuration {
      output_location       = "s3://${aws_s3_bucket.lake.bucket}/athena-results/${each.key}/"
      expected_bucket_owner = local.account_id

      encryption_configuration {
        encryption_option = "SSE_KMS"
        kms_key_arn       = aws_kms_key.lake.arn
      }
    }
  }
}
