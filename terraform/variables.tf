variable "region" {
  description = "AWS region of the lake (the code reads it from AWS_DEFAULT_REGION)."
  type        = string
  default     = "eu-west-1"
}

variable "name_prefix" {
  description = "Prefix of every resource name that is not set explicitly below."
  type        = string
  default     = "lakehouse"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.name_prefix))
    error_message = "name_prefix must be 2-31 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "tags" {
  description = "Extra tags for every resource; project, managed_by, data_classification, team, pipeline and environment are always set."
  type        = map(string)
  default     = {}

  validation {
    condition     = length(setintersection(keys(var.tags), ["team", "pipeline", "environment"])) == 0
    error_message = "Set team, pipeline and environment with their own variables, not in tags."
  }
}

# The tags every cost is attributed by (config/cost/tagging.yaml's required_tags); the values
# must be ones the lake knows, or `lake cost tags` lists the resources as unattributable.
variable "team" {
  description = "Team tag of every resource a pipeline does not own: the platform owner's team (config/lake.yaml)."
  type        = string
  default     = "data-platform"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*$", var.team))
    error_message = "team is a team's name as the lake's owners give it, e.g. data-platform."
  }
}

variable "pipeline" {
  description = "Pipeline tag of every resource a pipeline does not own (config/cost/tagging.yaml's shared_pipelines)."
  type        = string
  default     = "platform"

  validation {
    condition     = can(regex("^[a-z][a-z0-9_-]*$", var.pipeline))
    error_message = "pipeline is a pipeline's name or a shared one, e.g. platform."
  }
}

variable "environment" {
  description = "Environment tag of every resource (config/cost/tagging.yaml's environments)."
  type        = string
  default     = "dev"

  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "environment is dev, staging or prod."
  }
}

variable "lake_bucket_name" {
  description = "Name of the lake bucket (LAKE_S3_BUCKET). Default: <name_prefix>-lake-<account>-<region>."
  type        = string
  default     = null
}

variable "log_bucket_name" {
  description = "Name of the bucket receiving S3 server access logs. Default: <name_prefix>-access-logs-<account>-<region>."
  type        = string
  default     = null
}

variable "registry_table_name" {
  description = "DynamoDB table of schema versions (LAKE_REGISTRY_TABLE)."
  type        = string
  default     = "lake-schema-registry"
}

variable "file_index_table_name" {
  description = "DynamoDB table indexing raw objects (LAKE_FILE_INDEX_TABLE)."
  type        = string
  default     = "lake-raw-file-index"
}

variable "glue_database_name" {
  description = "Glue Data Catalog database of the curated tables (LAKE_GLUE_DATABASE)."
  type        = string
  default     = "lakehouse_curated"

  validation {
    condition     = can(regex("^[a-z0-9_]{1,255}$", var.glue_database_name))
    error_message = "Glue database names are lowercase letters, digits and underscores."
  }
}

variable "alert_topic_name" {
  description = "SNS topic of schema-drift and dead-letter alerts (LAKE_ALERT_TOPIC_ARN)."
  type        = string
  default     = "schema-drift-alerts"
}

variable "manage_glue_catalog_encryption" {
  description = "Set the account's Glue Data Catalog encryption (one setting per account and region) to the lake key. Turn off where another stack owns it."
  type        = bool
  default     = true
}

variable "emr_release_label" {
  description = "EMR Serverless release of the Spark application (Spark 3.5); the same as the base image in deploy/emr/Dockerfile and EMR_RELEASE in lake_assets/runtime/deploy.py."
  type        = string
  default     = "emr-7.12.0"

  validation {
    condition     = can(regex("^emr-[0-9]+\\.[0-9]+\\.[0-9]+$", var.emr_release_label))
    error_message = "emr_release_label looks like emr-7.5.0."
  }
}

variable "emr_runtime_image_tag" {
  description = "Tag of the job runtime image (deploy/emr/Dockerfile) in the job_runtime ECR repository; `lake deploy` prints the tag of the current sources. Build and push the image before the application uses it."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$", var.emr_runtime_image_tag))
    error_message = "emr_runtime_image_tag is an image tag, e.g. emr-7.12.0-0123456789ab."
  }
}

variable "emr_architecture" {
  description = "CPU architecture of the EMR Serverless workers: X86_64 or ARM64 (cheaper; check native dependencies first)."
  type        = string
  default     = "X86_64"

  validation {
    condition     = contains(["X86_64", "ARM64"], var.emr_architecture)
    error_message = "emr_architecture is X86_64 or ARM64."
  }
}

variable "emr_max_capacity" {
  description = "Upper bound of the EMR Serverless application's resources, across all its running jobs."
  type = object({
    cpu    = string
    memory = string
    disk   = string
  })
  default = {
    cpu    = "32 vCPU"
    memory = "128 GB"
    disk   = "500 GB"
  }
}

variable "emr_idle_timeout_minutes" {
  description = "Minutes without jobs after which the EMR Serverless application stops."
  type        = number
  default     = 15
}

variable "orchestrator_trusted_service" {
  description = "Service principal that runs the Dagster process and assumes the orchestrator role (ecs-tasks.amazonaws.com, ec2.amazonaws.com, ...). Null to trust only orchestrator_trusted_role_arns."
  type        = string
  default     = "ecs-tasks.amazonaws.com"
}

variable "orchestrator_trusted_role_arns" {
  description = "IAM role ARNs (in this or another account) allowed to assume the orchestrator role, e.g. a deployment or SSO role."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.orchestrator_trusted_role_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/[^*]+$", arn))])
    error_message = "orchestrator_trusted_role_arns are full role ARNs without wildcards."
  }
}

variable "arrivals_visibility_timeout_seconds" {
  description = "How long a received arrival message stays hidden before another poll can see it again."
  type        = number
  default     = 300
}

variable "arrivals_max_receive_count" {
  description = "Receives of one message before SQS moves it to the dead-letter queue."
  type        = number
  default     = 5
}

variable "noncurrent_version_retention_days" {
  description = "Days a replaced or deleted object version is kept in the lake bucket before it expires."
  type        = number
  default     = 90
}

variable "access_log_retention_days" {
  description = "Days S3 server access logs are kept."
  type        = number
  default     = 2557 # seven years
}

variable "kms_deletion_window_days" {
  description = "Waiting period before the lake key is deleted once scheduled for deletion."
  type        = number
  default     = 30
}

variable "lineage_table_name" {
  description = "DynamoDB table of lineage runs (LAKE_LINEAGE_TABLE)."
  type        = string
  default     = "lake-lineage"
}

variable "events_table_name" {
  description = "DynamoDB table of data-ready events (LAKE_EVENTS_TABLE)."
  type        = string
  default     = "lake-events"
}

variable "event_state_table_name" {
  description = "DynamoDB table of dependency waits and dead letters (LAKE_EVENT_STATE_TABLE)."
  type        = string
  default     = "lake-event-state"
}

variable "compaction_history_table_name" {
  description = "DynamoDB table of compaction history and leases (LAKE_COMPACTION_HISTORY_TABLE)."
  type        = string
  default     = "lake-compaction-history"
}

variable "access_audit_table_name" {
  description = "DynamoDB table of the access audit trail (LAKE_ACCESS_AUDIT_TABLE)."
  type        = string
  default     = "lake-access-audit"
}

variable "dashboard_vpc_endpoint_ids" {
  description = "The bank's S3 VPC endpoints (vpce-...) through which people may open the SLO dashboard; empty allows any network path of a signed-in reader."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for id in var.dashboard_vpc_endpoint_ids : can(regex("^vpce-[0-9a-f]+$", id))])
    error_message = "dashboard_vpc_endpoint_ids are VPC endpoint ids (vpce-...)."
  }
}
