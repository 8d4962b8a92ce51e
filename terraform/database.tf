# Dagster's own storage (runs, event logs, schedules and sensors' state) in PostgreSQL
# (dagster-postgres), private to the Dagster tasks. RDS keeps the master password in Secrets
# Manager (manage_master_user_password), encrypted with the lake key, and rotates it; the tasks
# get it through their task definitions' secrets (ecs.tf), never through Terraform state.

resource "aws_db_subnet_group" "dagster" {
  name        = "${local.dagster_name}-db"
  description = "Private subnets of Dagster's database"
  subnet_ids  = var.private_subnet_ids
}

resource "aws_security_group" "database" {
  name        = "${local.dagster_name}-db"
  description = "Dagster's PostgreSQL: reachable from the Dagster tasks only"
  vpc_id      = var.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "database_from_tasks" {
  security_group_id            = aws_security_group.database.id
  description                  = "PostgreSQL from the Dagster tasks"
  referenced_security_group_id = aws_security_group.dagster_tasks.id
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
}

# TLS only, and statements that run long or fail are logged (exported to CloudWatch Logs).
resource "aws_db_parameter_group" "dagster" {
  name        = "${local.dagster_name}-postgres${var.db_engine_version}"
  family      = "postgres${var.db_engine_version}"
  description = "Dagster's PostgreSQL: TLS only, statement logging"

  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }
  parameter {
    name  = "log_min_duration_statement"
    value = "5000"
  }
  parameter {
    name  = "log_statement"
    value = "ddl"
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_db_instance" "dagster" {
  #checkov:skip=CKV_AWS_161:Dagster's PostgreSQL storage connects with a user and password (dagster-postgres has no IAM token support); the password is managed and rotated by RDS in Secrets Manager.
  identifier     = "${local.dagster_name}-db"
  engine         = "postgres"
  engine_version = var.db_engine_version
  instance_class = var.db_instance_class
  db_name        = "dagster"
  username       = "dagster"
  port           = 5432

  manage_master_user_password   = true
  master_user_secret_kms_key_id = aws_kms_key.lake.arn

  allocated_storage     = var.db_allocated_storage_gb
  max_allocated_storage = var.db_max_allocated_storage_gb
  storage_type          = "gp3"
  storage_encrypted     = true
  kms_key_id            = aws_kms_key.lake.arn

  db_subnet_group_name   = aws_db_subnet_group.dagster.name
  vpc_security_group_ids = [aws_security_group.database.id]
  publicly_accessible    = false
  multi_az               = var.db_multi_az
  parameter_group_name   = aws_db_parameter_group.dagster.name

  backup_retention_period   = var.db_backup_retention_days
  copy_tags_to_snapshot     = true
  deletion_protection       = var.deletion_protection
  skip_final_snapshot       = !var.deletion_protection
  final_snapshot_identifier = "${local.dagster_name}-db-final"

  auto_minor_version_upgrade      = true
  enabled_cloudwatch_logs_exports = ["postgresql", "upgrade"]
  monitoring_interval             = 60
  monitoring_role_arn             = aws_iam_role.rds_monitoring.arn

  performance_insights_enabled          = true
  performance_insights_kms_key_id       = aws_kms_key.lake.arn
  performance_insights_retention_period = 7
}

# Enhanced monitoring: RDS publishes the instance's OS metrics with this role (the AWS managed
# policy is the documented one for it, and grants only logs to RDSOSMetrics).
data "aws_iam_policy_document" "rds_monitoring_trust" {
  statement {
    sid     = "RdsEnhancedMonitoring"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["monitoring.rds.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "rds_monitoring" {
  name                 = "${local.dagster_name}-db-monitoring"
  description          = "RDS enhanced monitoring of Dagster's database."
  assume_role_policy   = data.aws_iam_policy_document.rds_monitoring_trust.json
  max_session_duration = 3600
}

resource "aws_iam_role_policy_attachment" "rds_monitoring" {
  role       = aws_iam_role.rds_monitoring.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
}

# The recovery region keeps the database's automated backups (dr.tf): RDS copies each snapshot
# and the transaction logs there, so the database can be restored in that region to any time
# within the same retention as here, encrypted with the recovery region's key.
resource "aws_db_instance_automated_backups_replication" "dagster" {
  count    = local.dr_enabled ? 1 : 0
  provider = aws.dr

  source_db_instance_arn = aws_db_instance.dagster.arn
  kms_key_id             = aws_kms_key.dr[0].arn
  retention_period       = aws_db_instance.dagster.backup_retention_period
}
