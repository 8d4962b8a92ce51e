# CI deploys the Spark jobs' code (`lake deploy`) with a role of its own, assumed through
# GitHub's OIDC tokens: no stored AWS key anywhere, and only the repository's deploy job in the
# environment's GitHub environment may assume it (.github/workflows/ci.yml runs it after the
# whole suite passed on main, ADR-0143). The role may write only the job code under _code/,
# which the orchestrator may read but no longer write: a compromised orchestrator cannot
# change the code the jobs run. Its actions are derived from the calls `lake deploy` makes
# (terraform/tests/aws_calls.json, role "deployer"), like the other roles'.
# Created when github_repository is set; an account that already has GitHub's OIDC provider
# names it in github_oidc_provider_arn (AWS allows one provider per URL and account).

locals {
  github_oidc_host   = "token.actions.githubusercontent.com"
  ci_deploy          = var.github_repository != null
  github_environment = coalesce(var.github_deploy_environment, var.environment)
  github_oidc_provider_arn = local.ci_deploy ? coalesce(
    var.github_oidc_provider_arn, try(aws_iam_openid_connect_provider.github[0].arn, null)
  ) : null
}

resource "aws_iam_openid_connect_provider" "github" {
  count          = local.ci_deploy && var.github_oidc_provider_arn == null ? 1 : 0
  url            = "https://${local.github_oidc_host}"
  client_id_list = ["sts.amazonaws.com"]
}

# Exactly one subject: the repository's jobs that run in the environment's GitHub environment
# (whose protection rules, reviewers and branches, GitHub enforces before the job gets a token).
data "aws_iam_policy_document" "deployer_trust" {
  count = local.ci_deploy ? 1 : 0
  statement {
    sid     = "GithubDeployJob"
    effect  = "Allow"
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [local.github_oidc_provider_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.github_oidc_host}:aud"
      values   = ["sts.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.github_oidc_host}:sub"
      values   = ["repo:${var.github_repository}:environment:${local.github_environment}"]
    }
  }
}

resource "aws_iam_role" "deployer" {
  count                = local.ci_deploy ? 1 : 0
  name                 = "${var.name_prefix}-code-deployer"
  description          = "CI's lake deploy: uploads the Spark jobs' code to _code/ after the suite passed."
  assume_role_policy   = data.aws_iam_policy_document.deployer_trust[0].json
  max_session_duration = 3600
}

data "aws_iam_policy_document" "deployer" {
  # The wheel, the entry script and the manifest; the current manifest and objects are read
  # first, so that an unchanged deploy uploads nothing.
  statement {
    sid    = "DeployJobCode"
    effect = "Allow"
    actions = [
      "s3:GetObject",
      "s3:PutObject",
    ]
    resources = ["${local.lake_arn}/_code/*"]
  }

  statement {
    sid       = "ListJobCode"
    effect    = "Allow"
    actions   = ["s3:ListBucket"]
    resources = [local.lake_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["_code/*"]
    }
  }

  # The code objects are SSE-KMS under the lake key.
  statement {
    sid    = "UseLakeKey"
    effect = "Allow"
    actions = [
      "kms:Decrypt",
      "kms:GenerateDataKey",
    ]
    resources = [aws_kms_key.lake.arn]
  }
}

resource "aws_iam_role_policy" "deployer" {
  count  = local.ci_deploy ? 1 : 0
  name   = "deploy-job-code"
  role   = aws_iam_role.deployer[0].id
  policy = data.aws_iam_policy_document.deployer.json
}
