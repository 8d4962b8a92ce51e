# What the mocked AWS provider returns where the configuration needs known values (ARNs the
# provider validates, names, list elements), for every test file:
#   mock_provider "aws" { source = "./tests/mocks" }
# (Mocked data sources return placeholders: policy JSON is checked by tests/test_terraform.py.)

mock_data "aws_caller_identity" {
  defaults = {
    account_id = "123456789012"
    arn        = "arn:aws:sts::123456789012:assumed-role/terraform/session"
  }
}
# The identity applying Terraform, a Lake Formation administrator (consumers.tf).
mock_data "aws_iam_session_context" {
  defaults = { issuer_arn = "arn:aws:iam::123456789012:role/terraform" }
}
mock_data "aws_partition" {
  defaults = { partition = "aws" }
}
mock_data "aws_region" {
  defaults = { name = "eu-west-1" }
}
mock_data "aws_iam_policy_document" {
  defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
}
mock_resource "aws_kms_key" {
  defaults = { arn = "arn:aws:kms:eu-west-1:123456789012:key/00000000-0000-0000-0000-000000000000" }
}
mock_resource "aws_s3_bucket" {
  defaults = { arn = "arn:aws:s3:::lakehouse-lake-123456789012-eu-west-1" }
}
mock_resource "aws_sqs_queue" {
  defaults = {
    arn = "arn:aws:sqs:eu-west-1:123456789012:lakehouse-arrivals"
    url = "https://sqs.eu-west-1.amazonaws.com/123456789012/lakehouse-arrivals"
  }
}
mock_resource "aws_sns_topic" {
  defaults = { arn = "arn:aws:sns:eu-west-1:123456789012:schema-drift-alerts" }
}
mock_resource "aws_iam_role" {
  defaults = { arn = "arn:aws:iam::123456789012:role/lakehouse-promotion-job" }
}
mock_resource "aws_ecr_repository" {
  defaults = { repository_url = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/lakehouse/emr-job-runtime" }
}
mock_resource "aws_emrserverless_application" {
  defaults = {
    id  = "00fabcdefgh12345"
    arn = "arn:aws:emr-serverless:eu-west-1:123456789012:/applications/00fabcdefgh12345"
  }
}
mock_data "aws_elb_service_account" {
  defaults = { arn = "arn:aws:iam::156460612806:root" }
}
mock_resource "aws_db_instance" {
  defaults = {
    arn     = "arn:aws:rds:eu-west-1:123456789012:db:lakehouse-dagster-db"
    address = "lakehouse-dagster-db.abcdefghijkl.eu-west-1.rds.amazonaws.com"
    port    = 5432
    master_user_secret = [{
      secret_arn    = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-00000000-0000-0000-0000-000000000000-AbCdEf"
      kms_key_id    = "arn:aws:kms:eu-west-1:123456789012:key/00000000-0000-0000-0000-000000000000"
      secret_status = "active"
    }]
  }
}
mock_resource "aws_ecs_cluster" {
  defaults = { arn = "arn:aws:ecs:eu-west-1:123456789012:cluster/lakehouse-dagster" }
}
mock_resource "aws_ecs_task_definition" {
  defaults = {
    arn                  = "arn:aws:ecs:eu-west-1:123456789012:task-definition/lakehouse-dagster-run:1"
    arn_without_revision = "arn:aws:ecs:eu-west-1:123456789012:task-definition/lakehouse-dagster-run"
  }
}
mock_resource "aws_cloudwatch_log_group" {
  defaults = { arn = "arn:aws:logs:eu-west-1:123456789012:log-group:/lakehouse/dagster/run" }
}
mock_resource "aws_lb" {
  defaults = {
    arn      = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/lakehouse-dagster-web/0123456789abcdef"
    dns_name = "internal-lakehouse-dagster-web-123456789.eu-west-1.elb.amazonaws.com"
  }
}
mock_resource "aws_lb_target_group" {
  defaults = { arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/lakehouse-dagster-web/0123456789abcdef" }
}
mock_resource "aws_cognito_user_pool" {
  defaults = { arn = "arn:aws:cognito-idp:eu-west-1:123456789012:userpool/eu-west-1_AbCdEfGhI" }
}
mock_resource "aws_ce_anomaly_monitor" {
  defaults = { arn = "arn:aws:ce::123456789012:anomalymonitor/00000000-0000-0000-0000-000000000000" }
}
