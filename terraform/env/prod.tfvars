# The prod environment: terraform plan -var-file=env/prod.tfvars. Replace the example network,
# certificate and addresses with the prod account's (docs/deploy.md).
environment = "prod"
region      = "eu-west-1"

vpc_id                   = "vpc-0f1e2d3c4b5a60001"
private_subnet_ids       = ["subnet-0f1e2d3c4b5a60011", "subnet-0f1e2d3c4b5a60012", "subnet-0f1e2d3c4b5a60013"]
load_balancer_subnet_ids = ["subnet-0f1e2d3c4b5a60011", "subnet-0f1e2d3c4b5a60012", "subnet-0f1e2d3c4b5a60013"]
load_balancer_internal   = true
webserver_ingress_cidrs  = ["10.0.0.0/8"]
domain_name              = "dagster.lake.example.bank"
certificate_arn          = "arn:aws:acm:eu-west-1:222222222222:certificate/00000000-0000-0000-0000-000000000002"

emr_runtime_image_tag = "emr-7.12.0-0123456789ab"
dagster_image_tag     = "prod-0123456789ab"

# Disaster recovery (dr.tf): the bucket replicated within 15 minutes, the database's backups
# and the DynamoDB tables' replicas in a second region (docs/runbooks/disaster-recovery.md).
dr_region = "eu-central-1"

db_instance_class        = "db.m7g.large"
db_multi_az              = true
db_backup_retention_days = 35
deletion_protection      = true
log_retention_days       = 400

zone_transitions = {
  "raw/" = [{ days = 90, storage_class = "GLACIER" }, { days = 365, storage_class = "DEEP_ARCHIVE" }]
}
quarantine_retention_days  = 400
dead_letter_retention_days = 400

alert_emails = ["data-platform-oncall@example.bank"]

# The month's AWS budget of the lake (alerts at 80% spent and at a forecast over 100%), and the
# smallest cost anomaly worth an alert.
monthly_budget_usd     = 25000
cost_anomaly_alert_usd = 250
# The teams that asked for a budget of their own, by their `team` tag.
team_monthly_budgets_usd = {
  "payments-data" = 8000
  "data-platform" = 6000
}
# alert_https_endpoints = ["https://<the on-call tool's SNS webhook>"]
