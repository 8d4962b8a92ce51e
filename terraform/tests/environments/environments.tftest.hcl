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
