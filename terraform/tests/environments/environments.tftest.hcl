# Each environment's variables (env/<env>.tfvars) pass the configuration's validations and plan
# against the mocked provider. Run with the environment's file, one at a time:
#   terraform test -test-directory=tests/environments -var-file=env/dev.tfvars
# (its own directory: a plain `terraform test` runs tests/ alone, with its own variables)
# (tests/test_terraform.py runs it for every environment.)

mock_provider "aws" {
  source = "./tests/mocks"
}

mock_provider "aws" {
  alias  = "billing"
  source = "./tests/mocks"
}

run "the_environment_plans" {
  command = plan

  assert {
    condition     = contains(["dev", "prod"], var.environment)
    error_message = "An environment's file names its environment."
  }

  assert {
    condition     = output.dagster_instance.run_launcher.subnets == var.private_subnet_ids
    error_message = "Runs start in the environment's private subnets."
  }
}

run "ci_deploys_with_its_own_role_where_a_repository_is_named" {
  command = plan

  assert {
    condition     = length(aws_iam_role.deployer) == (var.github_repository == null ? 0 : 1)
    error_message = "The deploy role exists exactly when github_repository names the repository."
  }

  assert {
    condition     = length(aws_iam_openid_connect_provider.github) == (var.github_repository != null && var.github_oidc_provider_arn == null ? 1 : 0)
    error_message = "GitHub's OIDC provider is created only where CI deploys and the account has none."
  }
}
