# Each output is named after the environment variable the code reads (lowercased); lake_env
# gives them all as one map, ready to export.

output "lake_s3_bucket" {
  description = "LAKE_S3_BUCKET: the lake bucket."
  value       = aws_s3_bucket.lake.bucket
}

output "lake_arrivals_queue_url" {
  description = "LAKE_ARRIVALS_QUEUE_URL: SQS queue of S3 ObjectCreated events under raw/."
  value       = aws_sqs_queue.arrivals.url
}

output "lake_alert_topic_arn" {
  description = "LAKE_ALERT_TOPIC_ARN: SNS topic of schema-drift alerts."
  value       = aws_sns_topic.schema_drift_alerts.arn
}

output "lake_registry_table" {
  description = "LAKE_REGISTRY_TABLE: DynamoDB table of schema versions."
  value       = aws_dynamodb_table.lake["schema_registry"].name
}

output "lake_file_index_table" {
  description = "LAKE_FILE_INDEX_TABLE: DynamoDB table of raw objects."
  value       = aws_dynamodb_table.lake["raw_file_index"].name
}

output "lake_lineage_table" {
  description = "LAKE_LINEAGE_TABLE: DynamoDB table of lineage runs."
  value       = aws_dynamodb_table.lake["lineage"].name
}

output "lake_events_table" {
  description = "LAKE_EVENTS_TABLE: DynamoDB table of data-ready events."
  value       = aws_dynamodb_table.lake["events"].name
}

output "lake_event_state_table" {
  description = "LAKE_EVENT_STATE_TABLE: DynamoDB table of dependency waits and dead letters."
  value       = aws_dynamodb_table.lake["event_state"].name
}

output "lake_compaction_history_table" {
  description = "LAKE_COMPACTION_HISTORY_TABLE: DynamoDB table of compaction history and leases."
  value       = aws_dynamodb_table.lake["compaction_history"].name
}

output "lake_access_audit_table" {
  description = "LAKE_ACCESS_AUDIT_TABLE: DynamoDB table of the access audit trail."
  value       = aws_dynamodb_table.lake["access_audit"].name
}

output "lake_glue_database" {
  description = "LAKE_GLUE_DATABASE: Glue database of curated tables."
  value       = aws_glue_catalog_database.curated.name
}

output "lake_emr_application_id" {
  description = "LAKE_EMR_APPLICATION_ID: EMR Serverless Spark application."
  value       = aws_emrserverless_application.spark.id
}

output "lake_emr_execution_role_arn" {
  description = "LAKE_EMR_EXECUTION_ROLE_ARN: execution role of the promotion job."
  value       = aws_iam_role.emr_execution.arn
}

output "lake_cloudtrail_bucket" {
  description = "LAKE_CLOUDTRAIL_BUCKET: the access-log bucket the lake's CloudTrail trail delivers to (audit.tf), read by `lake access reads`."
  value       = aws_s3_bucket.logs.bucket
}

output "lake_cloudtrail_prefix" {
  description = "LAKE_CLOUDTRAIL_PREFIX: the trail's key prefix in that bucket."
  value       = local.trail_log_prefix
}

output "lake_token_secret_id" {
  description = "LAKE_TOKEN_SECRET_ID: the secret holding lake_token's key, named in the gold jobs' plans."
  value       = aws_secretsmanager_secret.lake_token.name
}

locals {
  # Every environment variable of the aws profile, by name: the lake_env output, and the
  # environment of the Dagster tasks (ecs.tf).
  lake_env = {
    LAKE_PROFILE                  = "aws"
    AWS_DEFAULT_REGION            = local.region
    LAKE_S3_BUCKET                = aws_s3_bucket.lake.bucket
    LAKE_ARRIVALS_QUEUE_URL       = aws_sqs_queue.arrivals.url
    LAKE_ALERT_TOPIC_ARN          = aws_sns_topic.schema_drift_alerts.arn
    LAKE_REGISTRY_TABLE           = aws_dynamodb_table.lake["schema_registry"].name
    LAKE_FILE_INDEX_TABLE         = aws_dynamodb_table.lake["raw_file_index"].name
    LAKE_LINEAGE_TABLE            = aws_dynamodb_table.lake["lineage"].name
    LAKE_EVENTS_TABLE             = aws_dynamodb_table.lake["events"].name
    LAKE_EVENT_STATE_TABLE        = aws_dynamodb_table.lake["event_state"].name
    LAKE_COMPACTION_HISTORY_TABLE = aws_dynamodb_table.lake["compaction_history"].name
    LAKE_ACCESS_AUDIT_TABLE       = aws_dynamodb_table.lake["access_audit"].name
    LAKE_GLUE_DATABASE            = aws_glue_catalog_database.curated.name
    LAKE_EMR_APPLICATION_ID       = aws_emrserverless_application.spark.id
    LAKE_EMR_EXECUTION_ROLE_ARN   = aws_iam_role.emr_execution.arn
    LAKE_TOKEN_SECRET_ID          = aws_secretsmanager_secret.lake_token.name
    LAKE_CLOUDTRAIL_BUCKET        = aws_s3_bucket.logs.bucket
    LAKE_CLOUDTRAIL_PREFIX        = local.trail_log_prefix
    LAKE_ORCHESTRATOR_ROLE_ARN    = aws_iam_role.orchestrator.arn
    LAKE_VIEW_DEFINER_ROLE_ARN    = aws_iam_role.view_definer.arn
    LAKE_CONSUMER_ROLE_ARN_PREFIX = local.consumer_role_arn_prefix
  }
}

output "lake_env" {
  description = "Every environment variable of the aws profile, by name."
  value       = local.lake_env
}

output "orchestrator_role_arn" {
  description = "Role for the Dagster process: attach it to the task, instance or pod that runs Dagster. Also LAKE_ORCHESTRATOR_ROLE_ARN, whose reads `lake access reads` tells apart as the lake's own."
  value       = aws_iam_role.orchestrator.arn
}

output "view_definer_role_arn" {
  description = "LAKE_VIEW_DEFINER_ROLE_ARN: the role the masked views are created and granted as, and run as (consumers.tf)."
  value       = aws_iam_role.view_definer.arn
}

output "consumer_role_arn_prefix" {
  description = "LAKE_CONSUMER_ROLE_ARN_PREFIX: an access profile's consumer role is this followed by the profile's name."
  value       = local.consumer_role_arn_prefix
}

output "consumer_workgroups" {
  description = "The Athena workgroup of each access profile's consumers, by profile."
  value       = { for profile, workgroup in aws_athena_workgroup.consumer : profile => workgroup.name }
}

output "ci_deploy_role_arn" {
  description = "Role CI's deploy job assumes through GitHub OIDC (set it as the LAKE_DEPLOY_ROLE_ARN variable of the GitHub environment); null without github_repository."
  value       = one(aws_iam_role.deployer[*].arn)
}

output "job_code_uri" {
  description = "Where `lake deploy` uploads the Spark jobs' code: wheel, entry script, deploy manifest (CODE_PREFIX in lake_assets/runtime/deploy.py)."
  value       = "s3://${aws_s3_bucket.lake.bucket}/_code/"
}

output "job_runtime_repository_url" {
  description = "ECR repository of the job runtime image (deploy/emr/Dockerfile); push it under the tag `lake deploy` prints."
  value       = aws_ecr_repository.job_runtime.repository_url
}

output "dr_region" {
  description = "The recovery region (dr.tf); null when the lake lives in one region."
  value       = var.dr_region
}

output "dr_replica_bucket" {
  description = "The lake bucket's replica in the recovery region: LAKE_S3_BUCKET of a recovery deployment (docs/runbooks/disaster-recovery.md); null without dr_region."
  value       = one(aws_s3_bucket.replica[*].bucket)
}

output "dr_replica_bucket_arn" {
  description = "ARN of the lake bucket's replica; null without dr_region."
  value       = one(aws_s3_bucket.replica[*].arn)
}

output "dr_batch_replication_role_arn" {
  description = "The role an S3 Batch Replication job runs as, to copy what the lake held before replication existed (terraform/README.md); null without dr_region."
  value       = one(aws_iam_role.batch_replication[*].arn)
}

output "dr_batch_replication_reports" {
  description = "Where that job's generated manifest and completion report go: the log bucket's ARN and prefix; null without dr_region."
  value       = local.dr_enabled ? "${aws_s3_bucket.logs.arn}/${local.batch_replication_prefix}" : null
}

output "kms_key_arn" {
  description = "The lake's customer managed key."
  value       = aws_kms_key.lake.arn
}

output "crm_db_secret_name" {
  description = "The secret config/sources.yaml names for the crm_contacts pull (credentials.aws_secret_id)."
  value       = aws_secretsmanager_secret.crm_db.name
}

output "dagster_repository_url" {
  description = "ECR repository of the code location image (deploy/dagster/Dockerfile); push it under dagster_image_tag."
  value       = aws_ecr_repository.dagster.repository_url
}

output "webserver_url" {
  description = "Where the Dagster webserver is (sign in through Cognito); point domain_name's DNS record at dagster_load_balancer_dns_name."
  value       = "https://${local.webserver_host}"
}

output "dagster_load_balancer_dns_name" {
  description = "DNS name of the webserver's load balancer: the target of domain_name's CNAME or alias record."
  value       = aws_lb.dagster.dns_name
}

output "dagster_user_pool_id" {
  description = "Cognito user pool of the webserver's users (aws cognito-idp admin-create-user --user-pool-id ...)."
  value       = aws_cognito_user_pool.dagster.id
}

# What the production dagster.yaml is rendered from (`lake platform instance --outputs ...`):
# keep the keys, the renderer reads them by name.
output "dagster_instance" {
  description = "Dagster's instance in AWS: its PostgreSQL storage, the ECS run launcher, the S3 compute logs and the webserver's address."
  value = {
    region = local.region
    postgres = {
      hostname   = aws_db_instance.dagster.address
      port       = aws_db_instance.dagster.port
      db_name    = aws_db_instance.dagster.db_name
      secret_arn = local.dagster_db_secret_arn
    }
    run_launcher = {
      cluster         = aws_ecs_cluster.dagster.name
      task_definition = aws_ecs_task_definition.dagster["run"].family
      container_name  = "run"
      subnets         = var.private_subnet_ids
      security_groups = [aws_security_group.dagster_tasks.id]
    }
    compute_logs = {
      bucket = aws_s3_bucket.lake.bucket
      prefix = local.dagster_compute_logs
    }
    webserver_url = "https://${local.webserver_host}"
  }
}
