# Alarms to the alert topic (messaging.tf), and who the topic notifies. Each alarm is one
# condition that needs a person (docs/runbooks/alarm-response.md says what to do for each):
#   - arrivals the sensor could not take, now on the dead-letter queue;
#   - Spark job runs that failed on EMR Serverless;
#   - what the platform's code emits (namespace Lakehouse, dimension Lake = the lake bucket):
#     failed Dagster runs, failed sensor or schedule ticks, SLOs burning fast or out of budget;
#   - with dr_region (dr.tf), the bucket's replication falling behind its recovery point or
#     failing.

locals {
  # The metrics the platform emits: names shared with the emitting code
  # (resources/aws/cloudwatch.py, lake_assets/alarms/model.py), never renamed here alone. Each
  # alarm is named as the runbook's heading for it (docs/runbooks/alarm-response.md).
  platform_metric_namespace = "Lakehouse"
  platform_metrics = {
    dagster-failed-runs = {
      metric      = "FailedRuns"
      description = "A Dagster run of the lake failed."
    }
    dagster-failed-ticks = {
      metric      = "FailedSensorTicks"
      description = "A sensor or schedule tick of the lake failed."
    }
    slo-budget-burn = {
      metric      = "SloBudgetAlerts"
      description = "An SLO is burning its error budget fast, or has none left."
    }
    dead-lettered-payloads = {
      metric      = "DeadLetteredPayloads"
      description = "Profiling dead-lettered a raw payload it cannot read."
    }
    schema-breaks = {
      metric      = "SchemaBreaks"
      description = "A source sent a BREAKING schema; its promotion is halted until approved."
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "platform" {
  for_each            = local.platform_metrics
  alarm_name          = "${var.name_prefix}-${each.key}"
  alarm_description   = "${each.value.description} See docs/runbooks/alarm-response.md."
  namespace           = local.platform_metric_namespace
  metric_name         = each.value.metric
  dimensions          = { Lake = local.lake_bucket_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  # No data is no failure: the code emits only when something failed or was evaluated.
  treat_missing_data = "notBreaching"
  alarm_actions      = [aws_sns_topic.schema_drift_alerts.arn]
  ok_actions         = [aws_sns_topic.schema_drift_alerts.arn]
}

resource "aws_cloudwatch_metric_alarm" "arrivals_dead_letters" {
  alarm_name          = "${var.name_prefix}-arrivals-dlq-depth"
  alarm_description   = "Arrival notifications the sensor could not process are on the dead-letter queue. See docs/runbooks/alarm-response.md."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.arrivals_dlq.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.schema_drift_alerts.arn]
  ok_actions          = [aws_sns_topic.schema_drift_alerts.arn]
}

# EMR Serverless publishes its application's job counts every minute (AWS/EMRServerless,
# FailedJobs per ApplicationId).
resource "aws_cloudwatch_metric_alarm" "emr_failed_jobs" {
  alarm_name          = "${var.name_prefix}-emr-failed-jobs"
  alarm_description   = "A Spark job run of the lake failed on EMR Serverless. See docs/runbooks/alarm-response.md."
  namespace           = "AWS/EMRServerless"
  metric_name         = "FailedJobs"
  dimensions          = { ApplicationId = aws_emrserverless_application.spark.id }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.schema_drift_alerts.arn]
  ok_actions          = [aws_sns_topic.schema_drift_alerts.arn]
}

# S3 publishes the replication rule's metrics (AWS/S3, per source bucket, destination bucket and
# rule) in the lake's region, every minute while objects replicate (Replication Time Control's
# metrics, dr.tf). ReplicationLatency is in seconds: past the recovery point objective, what the
# region's loss would cost is more than the lake promises.
resource "aws_cloudwatch_metric_alarm" "replication_latency" {
  count               = local.dr_enabled ? 1 : 0
  alarm_name          = "${var.name_prefix}-replication-latency"
  alarm_description   = "The lake bucket's replica is more than the ${local.replication_rpo_minutes}-minute recovery point behind. See docs/runbooks/alarm-response.md."
  namespace           = "AWS/S3"
  metric_name         = "ReplicationLatency"
  dimensions          = local.replication_metric_dimensions
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = local.replication_rpo_minutes * 60
  comparison_operator = "GreaterThanThreshold"
  # No data is no lag: S3 publishes the latency only while objects replicate.
  treat_missing_data = "notBreaching"
  alarm_actions      = [aws_sns_topic.schema_drift_alerts.arn]
  ok_actions         = [aws_sns_topic.schema_drift_alerts.arn]
}

resource "aws_cloudwatch_metric_alarm" "replication_failed" {
  count               = local.dr_enabled ? 1 : 0
  alarm_name          = "${var.name_prefix}-replication-failed"
  alarm_description   = "Objects of the lake bucket failed to replicate to its replica. See docs/runbooks/alarm-response.md."
  namespace           = "AWS/S3"
  metric_name         = "OperationsFailedReplication"
  dimensions          = local.replication_metric_dimensions
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.schema_drift_alerts.arn]
  ok_actions          = [aws_sns_topic.schema_drift_alerts.arn]
}

locals {
  replication_metric_dimensions = {
    SourceBucket      = local.lake_bucket_name
    DestinationBucket = local.replica_bucket_name
    RuleId            = local.replication_rule_id
  }
}

# ---------------------------------------------------------------------------------------------
# The topic's subscribers, and who may publish to it
# ---------------------------------------------------------------------------------------------

resource "aws_sns_topic_subscription" "alert_email" {
  for_each  = toset(var.alert_emails)
  topic_arn = aws_sns_topic.schema_drift_alerts.arn
  protocol  = "email"
  endpoint  = each.value
}

resource "aws_sns_topic_subscription" "alert_https" {
  for_each               = toset(var.alert_https_endpoints)
  topic_arn              = aws_sns_topic.schema_drift_alerts.arn
  protocol               = "https"
  endpoint               = each.value
  endpoint_auto_confirms = false
}

# The topic's policy admits CloudWatch, for this account's alarms of the lake, and AWS Budgets
# and Cost Anomaly Detection, for this account's budget and monitor (budget.tf); the account's
# own principals publish through their IAM policies (the orchestrator's). The topic is encrypted
# with the lake key, whose policy lets these services use it (storage.tf).
data "aws_iam_policy_document" "alert_topic" {
  statement {
    sid    = "CloudWatchAlarmsPublish"
    effect = "Allow"
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.schema_drift_alerts.arn]
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:cloudwatch:${local.region}:${local.account_id}:alarm:${var.name_prefix}-*"]
    }
  }

  statement {
    sid    = "CostAlertsPublish"
    effect = "Allow"
    principals {
      type        = "Service"
      identifiers = ["budgets.amazonaws.com", "costalerts.amazonaws.com"]
    }
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.schema_drift_alerts.arn]
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_sns_topic_policy" "alert_topic" {
  arn    = aws_sns_topic.schema_drift_alerts.arn
  policy = data.aws_iam_policy_document.alert_topic.json
}
