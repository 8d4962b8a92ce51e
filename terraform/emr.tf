# The EMR Serverless Spark application that runs the promotion job (raw -> curated/quarantine).
# Job logs use EMR Serverless managed persistence (on by default, encrypted, kept 30 days);
# the execution role therefore needs no CloudWatch Logs or log-bucket permissions.

resource "aws_emrserverless_application" "spark" {
  name          = "${var.name_prefix}-promotion"
  release_label = var.emr_release_label
  type          = "spark"
  architecture  = var.emr_architecture

  auto_start_configuration {
    enabled = true
  }

  auto_stop_configuration {
    enabled              = true
    idle_timeout_minutes = var.emr_idle_timeout_minutes
  }

  maximum_capacity {
    cpu    = var.emr_max_capacity.cpu
    memory = var.emr_max_capacity.memory
    disk   = var.emr_max_capacity.disk
  }
}
