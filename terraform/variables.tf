variable "region" {
  description = "AWS region of the lake (the code reads it from AWS_DEFAULT_REGION)."
  type        = string
  default     = "eu-west-1"
}

variable "dr_region" {
  description = "Recovery region of the lake (dr.tf): the bucket replicated there within 15 minutes, the Dagster database's backups and the DynamoDB tables' replicas. Null: one region, no DR resources."
  type        = string
  default     = null

  validation {
    condition     = var.dr_region == null || (can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]+$", var.dr_region)) && var.dr_region != var.region)
    error_message = "dr_region is an AWS region (e.g. eu-central-1) other than region: a replica in the lake's own region recovers nothing when that region is lost."
  }
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

# ---------------------------------------------------------------------------------------------
# Storage lifecycle (storage.tf)
# ---------------------------------------------------------------------------------------------

variable "zone_transitions" {
  description = "Per zone prefix of the lake bucket, the storage classes its objects move to and after how many days. Archived classes (GLACIER, DEEP_ARCHIVE) need `lake restore` before a backfill reads them."
  type = map(list(object({
    days          = number
    storage_class = string
  })))
  default = {
    "raw/" = [{ days = 90, storage_class = "GLACIER" }]
  }

  validation {
    condition     = alltrue([for zone in keys(var.zone_transitions) : can(regex("^[a-z][a-z0-9_-]*/$", zone))])
    error_message = "zone_transitions keys are zone prefixes of the lake bucket, e.g. raw/."
  }
  validation {
    condition = alltrue(flatten([for rules in values(var.zone_transitions) : [
      for rule in rules : contains(["STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE"], rule.storage_class)
    ]]))
    error_message = "storage_class is STANDARD_IA, ONEZONE_IA, INTELLIGENT_TIERING, GLACIER_IR, GLACIER or DEEP_ARCHIVE."
  }
  # S3 refuses a transition to an infrequent-access class before 30 days; any class after 0.
  validation {
    condition = alltrue(flatten([for rules in values(var.zone_transitions) : [
      for rule in rules : rule.days >= (contains(["STANDARD_IA", "ONEZONE_IA"], rule.storage_class) ? 30 : 0) && floor(rule.days) == rule.days
    ]]))
    error_message = "days is a whole number, at least 30 for STANDARD_IA and ONEZONE_IA."
  }
  validation {
    condition     = alltrue([for rules in values(var.zone_transitions) : length(distinct([for rule in rules : rule.storage_class])) == length(rules)])
    error_message = "A zone moves to each storage class once."
  }
}

variable "quarantine_retention_days" {
  description = "Days a quarantined row file is kept before it expires (quarantine/)."
  type        = number
  default     = 400

  validation {
    condition     = var.quarantine_retention_days >= 30 && floor(var.quarantine_retention_days) == var.quarantine_retention_days
    error_message = "quarantine_retention_days is a whole number of days, at least 30 (time to investigate and replay)."
  }
}

variable "dead_letter_retention_days" {
  description = "Days a dead-lettered payload is kept before it expires (dead-letter/)."
  type        = number
  default     = 400

  validation {
    condition     = var.dead_letter_retention_days >= 30 && floor(var.dead_letter_retention_days) == var.dead_letter_retention_days
    error_message = "dead_letter_retention_days is a whole number of days, at least 30 (time to investigate and replay)."
  }
}

# ---------------------------------------------------------------------------------------------
# Consumers and Lake Formation (consumers.tf)
# ---------------------------------------------------------------------------------------------

variable "lake_formation_admins" {
  description = "IAM roles or users that administer Lake Formation besides the identity applying Terraform; the settings replace the account's list of administrators, so name every identity that applies Terraform (CI's deploy role, people's roles)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.lake_formation_admins : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/[^*]+$", arn))])
    error_message = "lake_formation_admins are full IAM role or user ARNs without wildcards."
  }
}

variable "consumer_query_scan_cutoff_gb" {
  description = "Athena cancels a consumer's query that scans more than this many GiB (each profile's workgroup)."
  type        = number
  default     = 100

  validation {
    condition     = var.consumer_query_scan_cutoff_gb >= 1 && floor(var.consumer_query_scan_cutoff_gb) == var.consumer_query_scan_cutoff_gb
    error_message = "consumer_query_scan_cutoff_gb is a whole number of GiB, at least 1."
  }
}

# ---------------------------------------------------------------------------------------------
# Alerts (alarms.tf): who the alert topic notifies
# ---------------------------------------------------------------------------------------------

variable "alert_emails" {
  description = "Email addresses subscribed to the alert topic (each confirms its subscription once)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for email in var.alert_emails : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", email))])
    error_message = "alert_emails are email addresses."
  }
}

variable "alert_https_endpoints" {
  description = "HTTPS endpoints (an on-call tool's webhook) subscribed to the alert topic."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for url in var.alert_https_endpoints : startswith(url, "https://")])
    error_message = "alert_https_endpoints are https:// URLs."
  }
}

# ---------------------------------------------------------------------------------------------
# Dagster in AWS (ecs.tf, database.tf, web.tf): the network is the bank's, brought as inputs
# ---------------------------------------------------------------------------------------------

variable "vpc_id" {
  description = "VPC of the Dagster services, its database and its load balancer."
  type        = string

  validation {
    condition     = can(regex("^vpc-[0-9a-f]+$", var.vpc_id))
    error_message = "vpc_id is a VPC id (vpc-...)."
  }
}

variable "private_subnet_ids" {
  description = "Private subnets (two or more availability zones) of the ECS tasks and the database; they reach AWS APIs through a NAT gateway or VPC endpoints."
  type        = list(string)

  validation {
    condition     = length(var.private_subnet_ids) >= 2 && alltrue([for id in var.private_subnet_ids : can(regex("^subnet-[0-9a-f]+$", id))])
    error_message = "private_subnet_ids are two or more subnet ids (subnet-...), in different availability zones."
  }
}

variable "load_balancer_subnet_ids" {
  description = "Subnets of the load balancer: public ones for an internet-facing one, private ones for an internal one."
  type        = list(string)

  validation {
    condition     = length(var.load_balancer_subnet_ids) >= 2 && alltrue([for id in var.load_balancer_subnet_ids : can(regex("^subnet-[0-9a-f]+$", id))])
    error_message = "load_balancer_subnet_ids are two or more subnet ids (subnet-...), in different availability zones."
  }
}

variable "load_balancer_internal" {
  description = "An internal load balancer (reached through the bank's network) instead of an internet-facing one."
  type        = bool
  default     = true
}

variable "webserver_ingress_cidrs" {
  description = "Networks allowed to reach the load balancer (the bank's office and VPN ranges)."
  type        = list(string)

  validation {
    condition     = length(var.webserver_ingress_cidrs) > 0 && alltrue([for cidr in var.webserver_ingress_cidrs : can(cidrhost(cidr, 0))])
    error_message = "webserver_ingress_cidrs are one or more CIDR blocks."
  }
}

variable "domain_name" {
  description = "Host name of the Dagster webserver (dagster.example.bank): the ACM certificate's name; point it at the load balancer (webserver_url output). Null to use the load balancer's own name, which the certificate will not cover."
  type        = string
  default     = null
}

variable "certificate_arn" {
  description = "ACM certificate of domain_name, in the lake's region, for the HTTPS listener."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/.+$", var.certificate_arn))
    error_message = "certificate_arn is an ACM certificate ARN."
  }
}

variable "cognito_domain_prefix" {
  description = "Prefix of the Cognito hosted sign-in page (<prefix>.auth.<region>.amazoncognito.com); unique in the region. Default: <name_prefix>-dagster-<account>."
  type        = string
  default     = null
}

variable "dagster_image_tag" {
  description = "Tag of the code location image (deploy/dagster/Dockerfile) in the dagster ECR repository, which the webserver, the daemon and the runs share."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$", var.dagster_image_tag))
    error_message = "dagster_image_tag is an image tag, e.g. 2026-12-03-0123456789ab."
  }
}

variable "dagster_task_sizes" {
  description = "CPU units and memory (MiB) of each Dagster task (Fargate combinations)."
  type = map(object({
    cpu    = number
    memory = number
  }))
  default = {
    webserver = { cpu = 1024, memory = 2048 }
    daemon    = { cpu = 1024, memory = 2048 }
    run       = { cpu = 2048, memory = 4096 }
  }

  validation {
    condition     = length(setsubtract(["webserver", "daemon", "run"], keys(var.dagster_task_sizes))) == 0
    error_message = "dagster_task_sizes sets webserver, daemon and run."
  }
}

variable "log_retention_days" {
  description = "Days the Dagster services' and runs' CloudWatch logs are kept (one of CloudWatch's retention values)."
  type        = number
  default     = 400

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days is one of CloudWatch Logs' retention values (1, 3, ..., 365, 400, ..., 3653)."
  }
}

variable "db_instance_class" {
  description = "RDS instance class of Dagster's PostgreSQL database."
  type        = string
  default     = "db.t4g.medium"
}

variable "db_allocated_storage_gb" {
  description = "Storage of Dagster's database; it grows to db_max_allocated_storage_gb on its own."
  type        = number
  default     = 50
}

variable "db_max_allocated_storage_gb" {
  description = "Upper bound of the database storage's autoscaling."
  type        = number
  default     = 200
}

variable "db_engine_version" {
  description = "PostgreSQL major version of Dagster's database (minor upgrades are automatic)."
  type        = string
  default     = "16"
}

variable "db_multi_az" {
  description = "A standby in a second availability zone (prod); off saves half the cost in dev."
  type        = bool
  default     = true
}

variable "db_backup_retention_days" {
  description = "Days of automated backups (point-in-time recovery) of Dagster's database."
  type        = number
  default     = 14

  validation {
    condition     = var.db_backup_retention_days >= 1 && var.db_backup_retention_days <= 35
    error_message = "db_backup_retention_days is 1-35 (0 would turn backups off)."
  }
}

variable "deletion_protection" {
  description = "Refuse to delete Dagster's database (a final snapshot is taken when it is deleted), its load balancer and its user pool; off only for a throwaway dev stack."
  type        = bool
  default     = true
}

variable "monthly_budget_usd" {
  description = "The lake's monthly AWS budget in USD (budget.tf): alerts at 80% spent and at a forecast over 100%."
  type        = number
  default     = 1000

  validation {
    condition     = var.monthly_budget_usd > 0
    error_message = "monthly_budget_usd must be positive."
  }
}

variable "team_monthly_budgets_usd" {
  description = "A monthly AWS budget in USD per team, by the team's `team` tag value (e.g. data-platform): each alerts like the lake's budget (budget.tf). None by default."
  type        = map(number)
  default     = {}

  validation {
    condition     = alltrue([for team, usd in var.team_monthly_budgets_usd : usd > 0 && can(regex("^[a-z0-9][a-z0-9-]*$", team))])
    error_message = "team_monthly_budgets_usd: each team is a `team` tag value (lower case, digits, hyphens) with a positive amount."
  }
}

variable "cost_anomaly_alert_usd" {
  description = "Cost Anomaly Detection alerts on an anomaly of the lake's spend with at least this total impact, in USD."
  type        = number
  default     = 50

  validation {
    condition     = var.cost_anomaly_alert_usd > 0
    error_message = "cost_anomaly_alert_usd must be positive."
  }
}

variable "github_repository" {
  description = "owner/name of the GitHub repository whose CI deploys the job code (terraform/cicd.tf); null for no CI deploy role."
  type        = string
  default     = null

  validation {
    condition     = var.github_repository == null || can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "github_repository is owner/name, without wildcards."
  }
}

variable "github_deploy_environment" {
  description = "GitHub environment of the deploy job that may assume the CI deploy role; null for the environment variable's value (dev, staging, prod)."
  type        = string
  default     = null
}

variable "github_oidc_provider_arn" {
  description = "ARN of the account's existing GitHub OIDC provider; null to create it (one per account)."
  type        = string
  default     = null
}
