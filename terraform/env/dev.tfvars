# The dev environment: terraform plan -var-file=env/dev.tfvars. Replace the example network,
# certificate and addresses with the dev account's (docs/deploy.md).
environment = "dev"
region      = "eu-west-1"

vpc_id                   = "vpc-0a1b2c3d4e5f60001"
private_subnet_ids       = ["subnet-0a1b2c3d4e5f60011", "subnet-0a1b2c3d4e5f60012"]
load_balancer_subnet_ids = ["subnet-0a1b2c3d4e5f60011", "subnet-0a1b2c3d4e5f60012"]
load_balancer_internal   = true
webserver_ingress_cidrs  = ["10.0.0.0/8"]
domain_name              = "dagster.dev.lake.example.bank"
certificate_arn          = "arn:aws:acm:eu-west-1:111111111111:certificate/00000000-0000-0000-0000-000000000001"

emr_runtime_image_tag = "emr-7.12.0-0123456789ab"
dagster_image_tag     = "dev-0123456789ab"

# A throwaway stack: one database instance, deletable.
db_instance_class        = "db.t4g.small"
db_multi_az              = false
db_backup_retention_days = 3
deletion_protection      = false
log_retention_days       = 30

alert_emails = ["data-platform-dev@example.bank"]

# CI's deploy role (cicd.tf): the repository whose deploy job, in the GitHub environment "dev",
# uploads the job code after its suite passed.
github_repository = "example-bank/lakehouse"
