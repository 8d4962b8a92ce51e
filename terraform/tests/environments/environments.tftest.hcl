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

mock_provider "aws" {
  alias  = "dr"
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

# prod names a recovery region and replicates into it; dev lives in one region.
run "prod_replicates_into_its_recovery_region_and_dev_does_not" {
  command = plan

  assert {
    condition     = (var.environment == "prod") == (var.dr_region != null)
    error_message = "prod sets dr_region (a second region for disaster recovery); dev does not."
  }

  assert {
    condition = (
      length(aws_s3_bucket_replication_configuration.lake) == (var.dr_region == null ? 0 : 1) &&
      length(aws_s3_bucket.replica) == length(aws_s3_bucket_replication_configuration.lake) &&
      length(aws_db_instance_automated_backups_replication.dagster) == length(aws_s3_bucket.replica) &&
      alltrue([for table in aws_dynamodb_table.lake : length(table.replica) == length(aws_s3_bucket.replica)])
    )
    error_message = "The bucket's replication, its replica, the database's backups and the tables' replicas exist exactly where dr_region is set."
  }
}
