# S3 -> SQS arrivals (with a dead-letter queue), and the SNS topic for schema-drift alerts.

resource "aws_sqs_queue" "arrivals_dlq" {
  name                      = "${var.name_prefix}-arrivals-dlq"
  kms_master_key_id         = aws_kms_key.lake.arn
  message_retention_seconds = 1209600 # 14 days, the SQS maximum
}

resource "aws_sqs_queue" "arrivals" {
  name                       = "${var.name_prefix}-arrivals"
  kms_master_key_id          = aws_kms_key.lake.arn
  visibility_timeout_seconds = var.arrivals_visibility_timeout_seconds
  receive_wait_time_seconds  = 20     # long polling
  message_retention_seconds  = 345600 # 4 days

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.arrivals_dlq.arn
    maxReceiveCount     = var.arrivals_max_receive_count
  })
}

# Only the arrivals queue may use the dead-letter queue.
resource "aws_sqs_queue_redrive_allow_policy" "arrivals_dlq" {
  queue_url = aws_sqs_queue.arrivals_dlq.id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.arrivals.arn]
  })
}

# Only S3, on behalf of the lake bucket of this account, may send to the arrivals queue.
data "aws_iam_policy_document" "arrivals_queue" {
  statement {
    sid    = "LakeBucketSendsObjectCreated"
    effect = "Allow"
    principals {
      type        = "Service"
      identifiers = ["s3.amazonaws.com"]
    }
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.arrivals.arn]
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_s3_bucket.lake.arn]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_sqs_queue_policy" "arrivals" {
  queue_url = aws_sqs_queue.arrivals.id
  policy    = data.aws_iam_policy_document.arrivals_queue.json
}

resource "aws_sns_topic" "schema_drift_alerts" {
  name              = var.alert_topic_name
  kms_master_key_id = aws_kms_key.lake.arn
}
