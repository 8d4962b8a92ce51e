# `terraform test` against a mocked AWS provider: plans and "applies" the root without an AWS
# account, so variable validations, preconditions and the wiring of outputs are exercised.

mock_provider "aws" {
  source = "./tests/mocks"
}

# The provider Data Exports is called through (us-east-1, versions.tf), mocked alike.
mock_provider "aws" {
  alias  = "billing"
  source = "./tests/mocks"
}

# The recovery region's provider (dr.tf, versions.tf), mocked alike.
mock_provider "aws" {
  alias  = "dr"
  source = "./tests/mocks"
}

# Inputs without defaults: the job runtime and code location images (an application or a
# service without its image cannot run), and the bank's network and certificate.
variables {
  emr_runtime_image_tag    = "emr-7.12.0-0123456789ab"
  dagster_image_tag        = "test-0123456789ab"
  vpc_id                   = "vpc-0a1b2c3d4e5f60001"
  private_subnet_ids       = ["subnet-0a1b2c3d4e5f60011", "subnet-0a1b2c3d4e5f60012"]
  load_balancer_subnet_ids = ["subnet-0a1b2c3d4e5f60021", "subnet-0a1b2c3d4e5f60022"]
  webserver_ingress_cidrs  = ["10.0.0.0/8"]
  certificate_arn          = "arn:aws:acm:eu-west-1:123456789012:certificate/00000000-0000-0000-0000-000000000001"
  alert_emails             = ["oncall@example.bank"]
}

run "plan_names_and_keys" {
  command = plan

  assert {
    condition     = output.lake_s3_bucket == "lakehouse-lake-123456789012-eu-west-1"
    error_message = "The default bucket name is <name_prefix>-lake-<account>-<region>."
  }

  assert {
    condition = alltrue([
      for rule in aws_s3_bucket_notification.lake.queue :
      startswith(rule.filter_prefix, "raw/source=") && endswith(rule.filter_prefix, "/")
    ]) && length(aws_s3_bucket_notification.lake.queue) == length(local.pipeline_raw_prefixes)
    error_message = "Only each generated pipeline's raw/source=<name>/ may be announced on the arrivals queue."
  }

  assert {
    condition = (
      aws_dynamodb_table.lake["schema_registry"].hash_key == "source_id" &&
      aws_dynamodb_table.lake["schema_registry"].range_key == "version" &&
      aws_dynamodb_table.lake["raw_file_index"].hash_key == "source_id" &&
      aws_dynamodb_table.lake["raw_file_index"].range_key == "key"
    )
    error_message = "DynamoDB keys must match the registry store: (source_id, version) and (source_id, key)."
  }
}

run "apply_with_mocks_wires_every_env_var" {
  command = apply

  assert {
    condition = toset(keys(output.lake_env)) == toset([
      "LAKE_PROFILE", "AWS_DEFAULT_REGION", "LAKE_S3_BUCKET", "LAKE_ARRIVALS_QUEUE_URL",
      "LAKE_ALERT_TOPIC_ARN", "LAKE_REGISTRY_TABLE", "LAKE_FILE_INDEX_TABLE",
      "LAKE_LINEAGE_TABLE", "LAKE_EVENTS_TABLE", "LAKE_EVENT_STATE_TABLE",
      "LAKE_COMPACTION_HISTORY_TABLE", "LAKE_ACCESS_AUDIT_TABLE", "LAKE_GLUE_DATABASE", "LAKE_EMR_APPLICATION_ID",
      "LAKE_EMR_EXECUTION_ROLE_ARN", "LAKE_TOKEN_SECRET_ID", "LAKE_CLOUDTRAIL_BUCKET",
      "LAKE_CLOUDTRAIL_PREFIX", "LAKE_ORCHESTRATOR_ROLE_ARN", "LAKE_VIEW_DEFINER_ROLE_ARN",
      "LAKE_CONSUMER_ROLE_ARN_PREFIX",
    ])
    error_message = "lake_env must name every environment variable of the aws profile."
  }

  assert {
    condition     = output.lake_env["LAKE_EMR_EXECUTION_ROLE_ARN"] == output.lake_emr_execution_role_arn
    error_message = "lake_env and the single outputs must agree."
  }

  assert {
    condition = (
      output.lake_env["LAKE_CLOUDTRAIL_BUCKET"] == output.lake_cloudtrail_bucket &&
      output.lake_cloudtrail_bucket == "lakehouse-access-logs-123456789012-eu-west-1" &&
      output.lake_env["LAKE_CLOUDTRAIL_PREFIX"] == aws_cloudtrail.lake.s3_key_prefix &&
      output.lake_env["LAKE_ORCHESTRATOR_ROLE_ARN"] == output.orchestrator_role_arn
    )
    error_message = "`lake access reads` must read where the trail delivers, and know the orchestrator's role."
  }

  assert {
    condition = (
      output.lake_env["LAKE_VIEW_DEFINER_ROLE_ARN"] == output.view_definer_role_arn &&
      output.lake_env["LAKE_CONSUMER_ROLE_ARN_PREFIX"] == "arn:aws:iam::123456789012:role/lakehouse-consumer-" &&
      length(output.consumer_workgroups) == length(yamldecode(file("../config/access/profiles.yaml")).profiles)
    )
    error_message = "The masked views' definer and consumer roles must reach the code, one workgroup per access profile."
  }
}

run "orchestrator_role_needs_a_trusted_principal" {
  command = plan

  variables {
    orchestrator_trusted_service   = null
    orchestrator_trusted_role_arns = []
  }

  expect_failures = [aws_iam_role.orchestrator]
}

run "release_label_is_validated" {
  command = plan

  variables {
    emr_release_label = "7.5.0"
  }

  expect_failures = [var.emr_release_label]
}

run "runtime_image_tag_is_validated" {
  command = plan

  variables {
    emr_runtime_image_tag = "latest and greatest"
  }

  expect_failures = [var.emr_runtime_image_tag]
}

# The cost tags (team, pipeline, environment) come from their own variables, never from tags,
# so a value in tags cannot replace them in default_tags.
run "cost_tags_are_not_set_through_tags" {
  command = plan

  variables {
    tags = { team = "payments-data" }
  }

  expect_failures = [var.tags]
}

run "environment_is_a_declared_one" {
  command = plan

  variables {
    environment = "qa"
  }

  expect_failures = [var.environment]
}

run "dagster_instance_for_the_rendered_dagster_yaml" {
  command = apply

  variables {
    domain_name = "dagster.lake.example.bank"
  }

  assert {
    condition = (
      output.dagster_instance.run_launcher.container_name == "run" &&
      output.dagster_instance.run_launcher.task_definition == "lakehouse-dagster-run" &&
      output.dagster_instance.run_launcher.cluster == "lakehouse-dagster" &&
      output.dagster_instance.run_launcher.subnets == var.private_subnet_ids
    )
    error_message = "The run launcher starts the run task definition's container \"run\" in the Dagster cluster's private subnets."
  }

  assert {
    condition = (
      output.dagster_instance.postgres.port == 5432 &&
      output.dagster_instance.postgres.db_name == "dagster" &&
      startswith(output.dagster_instance.postgres.secret_arn, "arn:aws:secretsmanager:")
    )
    error_message = "The instance's PostgreSQL is the RDS database, its credentials the secret RDS manages."
  }

  assert {
    condition     = output.dagster_instance.webserver_url == "https://dagster.lake.example.bank"
    error_message = "The webserver is reached at domain_name when it is set."
  }

  assert {
    condition = alltrue([
      for container in jsondecode(aws_ecs_task_definition.dagster["run"].container_definitions) :
      container.name == "run" && length([for secret in container.secrets : secret if endswith(secret.valueFrom, ":password::")]) == 1
    ])
    error_message = "The run container is named run and gets the database password from the managed secret."
  }

  assert {
    condition     = aws_sns_topic_subscription.alert_email["oncall@example.bank"].protocol == "email"
    error_message = "Each alert email subscribes to the alert topic."
  }
}

run "webserver_url_defaults_to_the_load_balancer" {
  command = apply

  assert {
    condition     = output.dagster_instance.webserver_url == "https://internal-lakehouse-dagster-web-123456789.eu-west-1.elb.amazonaws.com"
    error_message = "Without domain_name the webserver is reached at the load balancer's name."
  }
}

run "zone_transitions_are_validated" {
  command = plan

  variables {
    zone_transitions = { "raw/" = [{ days = 10, storage_class = "STANDARD_IA" }] }
  }

  expect_failures = [var.zone_transitions]
}

run "zone_transition_storage_class_is_one_of_s3s" {
  command = plan

  variables {
    zone_transitions = { "raw/" = [{ days = 90, storage_class = "COLD" }] }
  }

  expect_failures = [var.zone_transitions]
}

# Without dr_region the lake lives in one region: nothing of dr.tf exists.
run "one_region_without_dr_region" {
  command = plan

  assert {
    condition = (
      length(aws_s3_bucket.replica) == 0 &&
      length(aws_s3_bucket_replication_configuration.lake) == 0 &&
      length(aws_iam_role.replication) == 0 &&
      length(aws_kms_key.dr) == 0 &&
      length(aws_db_instance_automated_backups_replication.dagster) == 0 &&
      length(aws_cloudwatch_metric_alarm.replication_latency) == 0 &&
      length(aws_cloudwatch_metric_alarm.replication_failed) == 0 &&
      length(aws_dynamodb_table.lake["events"].replica) == 0
    )
    error_message = "Without dr_region no recovery-region resource, replication or replica may exist."
  }

  assert {
    condition     = output.dr_region == null && output.dr_replica_bucket == null
    error_message = "Without dr_region the DR outputs are null."
  }
}

# With dr_region the bucket replicates into the recovery region within the RPO, the database's
# backups and the tables' replicas are there, and the alarms watch the replication.
run "dr_region_replicates_the_lake_into_the_recovery_region" {
  command = apply

  variables {
    dr_region = "eu-central-1"
  }

  assert {
    condition = (
      output.dr_region == "eu-central-1" &&
      output.dr_replica_bucket == "lakehouse-lake-123456789012-eu-west-1-dr" &&
      output.dr_replica_bucket_arn == aws_s3_bucket.replica[0].arn
    )
    error_message = "The replica is <lake bucket>-dr, named in the outputs with the recovery region."
  }

  assert {
    condition = (
      length(aws_s3_bucket_replication_configuration.lake[0].rule) == 1 &&
      aws_s3_bucket_replication_configuration.lake[0].rule[0].status == "Enabled" &&
      aws_s3_bucket_replication_configuration.lake[0].rule[0].delete_marker_replication[0].status == "Enabled" &&
      aws_s3_bucket_replication_configuration.lake[0].rule[0].destination[0].replication_time[0].time[0].minutes == 15 &&
      aws_s3_bucket_replication_configuration.lake[0].rule[0].destination[0].metrics[0].event_threshold[0].minutes == 15 &&
      aws_s3_bucket_replication_configuration.lake[0].rule[0].destination[0].encryption_configuration[0].replica_kms_key_id == aws_kms_key.dr[0].arn
    )
    error_message = "One rule replicates the whole bucket, deletes included, within 15 minutes, encrypted with the recovery key."
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.replication_latency[0].threshold == 900 &&
      aws_cloudwatch_metric_alarm.replication_latency[0].dimensions["DestinationBucket"] == output.dr_replica_bucket &&
      aws_cloudwatch_metric_alarm.replication_latency[0].dimensions["RuleId"] == aws_s3_bucket_replication_configuration.lake[0].rule[0].id &&
      aws_cloudwatch_metric_alarm.replication_failed[0].threshold == 0
    )
    error_message = "The latency alarm fires past the 15-minute RPO (900 s) of the replication rule it names; the failure alarm at the first failure."
  }

  assert {
    condition = (
      aws_db_instance_automated_backups_replication.dagster[0].retention_period == var.db_backup_retention_days &&
      alltrue([for table in aws_dynamodb_table.lake : one(table.replica[*].region_name) == "eu-central-1" && table.stream_view_type == "NEW_AND_OLD_IMAGES"])
    )
    error_message = "The database's backups are kept as long in the recovery region, and every table has its replica there."
  }
}

run "dr_region_is_another_region" {
  command = plan

  variables {
    dr_region = "eu-west-1"
  }

  expect_failures = [var.dr_region]
}

run "a_budget_for_the_lake_and_each_team_that_asks" {
  command = plan

  variables {
    team_monthly_budgets_usd = { "payments-data" = 8000 }
  }

  assert {
    condition = (
      toset(keys(aws_budgets_budget.lake)) == toset(["monthly", "team-payments-data-monthly"]) &&
      aws_budgets_budget.lake["monthly"].name == "lakehouse-dev-monthly" &&
      aws_budgets_budget.lake["monthly"].limit_amount == "1000.00" &&
      tolist(one(aws_budgets_budget.lake["monthly"].cost_filter).values) == tolist(["user:project$lakehouse"]) &&
      aws_budgets_budget.lake["team-payments-data-monthly"].limit_amount == "8000.00" &&
      tolist(one(aws_budgets_budget.lake["team-payments-data-monthly"].cost_filter).values) == tolist(["user:team$payments-data"])
    )
    error_message = "The lake's budget watches the project tag, a team's its team tag, each with its amount."
  }

  assert {
    condition = alltrue([
      for budget in aws_budgets_budget.lake : length(budget.notification) == 2
    ])
    error_message = "Every budget alerts at 80% spent and at a forecast over 100%."
  }
}
