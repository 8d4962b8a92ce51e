# Two roles, each with only the calls its code makes, on only the resources it touches:
#   - the promotion job's EMR Serverless execution role;
#   - the orchestrator role of the Dagster process.
# Object grants name a zone prefix ("<bucket>/raw/*"), never the whole bucket, and ListBucket is
# narrowed to the same zones with s3:prefix. Zones are written out literally (no locals) so that
# tests/test_terraform.py can check them.

locals {
  lake_arn = aws_s3_bucket.lake.arn

  glue_catalog_arn  = "arn:${local.partition}:glue:${local.region}:${local.account_id}:catalog"
  glue_database_arn = aws_glue_catalog_database.curated.arn
  # Tables are created by the orchestrator at publish time (one per curated dataset), so their
  # names are not known here: the grant is bounded to the tables of the curated database.
  glue_tables_arn = "arn:${local.partition}:glue:${local.region}:${local.account_id}:table/${aws_glue_catalog_database.curated.name}/*"
}

# ---------------------------------------------------------------------------------------------
# EMR Serverless execution role (the promotion job)
# ---------------------------------------------------------------------------------------------

data "aws_iam_policy_document" "emr_execution_trust" {
  statement {
    sid     = "EmrServerlessRunsPromotionJobs"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["emr-serverless.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_emrserverless_application.spark.arn]
    }
  }
}

resource "aws_iam_role" "emr_execution" {
  name                 = "${var.name_prefix}-promotion-job"
  description          = "Execution role of the lake's promotion job on EMR Serverless."
  assume_role_policy   = data.aws_iam_policy_document.emr_execution_trust.json
  max_session_duration = 3600
}

data "aws_iam_policy_document" "emr_execution" {
  statement {
    sid       = "ReadRawZone"
    effect    = "Allow"
    actions   = ["s3:GetObject"]
    resources = ["${local.lake_arn}/raw/*"]
  }

  # The deployment (not the orchestrator) uploads the job's entry point under artifacts/.
  statement {
    sid       = "ReadJobEntryPoint"
    effect    = "Allow"
    actions   = ["s3:GetObject"]
    resources = ["${local.lake_arn}/artifacts/*"]
  }

  # Spark writes with multipart uploads and aborts them on task failure.
  statement {
    sid    = "WriteCuratedAndQuarantineZones"
    effect = "Allow"
    actions = [
      "s3:AbortMultipartUpload",
      "s3:DeleteObject",
      "s3:GetObject",
      "s3:PutObject",
    ]
    resources = [
      "${local.lake_arn}/curated/*",
      "${local.lake_arn}/quarantine/*",
    ]
  }

  statement {
    sid       = "ListJobZones"
    effect    = "Allow"
    actions   = ["s3:ListBucket"]
    resources = [local.lake_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values = [
        "raw/*",
        "curated/*",
        "quarantine/*",
        "artifacts/*",
      ]
    }
  }

  statement {
    sid       = "UseLakeKey"
    effect    = "Allow"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.lake.arn]
  }
}

resource "aws_iam_role_policy" "emr_execution" {
  name   = "promotion-job"
  role   = aws_iam_role.emr_execution.id
  policy = data.aws_iam_policy_document.emr_execution.json
}

# ---------------------------------------------------------------------------------------------
# Orchestrator role (the Dagster process: sensors, ingestion, registry, publish, retention)
# ---------------------------------------------------------------------------------------------

data "aws_iam_policy_document" "orchestrator_trust" {
  dynamic "statement" {
    for_each = var.orchestrator_trusted_service == null ? [] : [var.orchestrator_trusted_service]
    content {
      sid     = "DagsterRuntimeService"
      effect  = "Allow"
      actions = ["sts:AssumeRole"]
      principals {
        type        = "Service"
        identifiers = [statement.value]
      }
      condition {
        test     = "StringEquals"
        variable = "aws:SourceAccount"
        values   = [local.account_id]
      }
    }
  }

  dynamic "statement" {
    for_each = length(var.orchestrator_trusted_role_arns) == 0 ? [] : [var.orchestrator_trusted_role_arns]
    content {
      sid     = "DagsterRuntimeRoles"
      effect  = "Allow"
      actions = ["sts:AssumeRole"]
      principals {
        type        = "AWS"
        identifiers = statement.value
      }
    }
  }
}

resource "aws_iam_role" "orchestrator" {
  name                 = "${var.name_prefix}-orchestrator"
  description          = "The Dagster process of the lake: ingestion, schema registry, publish, retention."
  assume_role_policy   = data.aws_iam_policy_document.orchestrator_trust.json
  max_session_duration = 3600

  lifecycle {
    precondition {
      condition     = var.orchestrator_trusted_service != null || length(var.orchestrator_trusted_role_arns) > 0
      error_message = "Set orchestrator_trusted_service or orchestrator_trusted_role_arns: somebody must be able to assume the orchestrator role."
    }
  }
}

data "aws_iam_policy_document" "orchestrator" {
  # Registry versions and the raw-file index (resources/registry_store.py).
  statement {
    sid    = "RegistryAndFileIndex"
    effect = "Allow"
    actions = [
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:Query",
      "dynamodb:UpdateItem",
    ]
    resources = [
      aws_dynamodb_table.lake["schema_registry"].arn,
      aws_dynamodb_table.lake["raw_file_index"].arn,
    ]
  }

  # Lineage runs, data-ready events and dependency state (resources/lineage_store.py,
  # resources/event_store.py): traces scan the runs, the sensor queries waits and deletes them.
  statement {
    sid    = "LineageAndEvents"
    effect = "Allow"
    actions = [
      "dynamodb:DeleteItem",
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:Query",
      "dynamodb:Scan",
    ]
    resources = [
      aws_dynamodb_table.lake["lineage"].arn,
      aws_dynamodb_table.lake["events"].arn,
      aws_dynamodb_table.lake["event_state"].arn,
    ]
  }

  # Compaction history and its per-dataset lease (resources/compaction_history.py): records
  # are put and scanned; the lease is a conditional put, read when busy, deleted when done.
  statement {
    sid    = "CompactionHistory"
    effect = "Allow"
    actions = [
      "dynamodb:DeleteItem",
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:Scan",
    ]
    resources = [aws_dynamodb_table.lake["compaction_history"].arn]
  }

  # Partition catalog: publish is a pointer switch on the partition (resources/catalog.py);
  # sealing and compaction switch it the same way.
  statement {
    sid    = "CuratedCatalog"
    effect = "Allow"
    actions = [
      "glue:CreatePartition",
      "glue:CreateTable",
      "glue:GetPartition",
      "glue:GetPartitions",
      "glue:GetTable",
      "glue:UpdatePartition",
    ]
    resources = [
      local.glue_catalog_arn,
      local.glue_database_arn,
      local.glue_tables_arn,
    ]
  }

  statement {
    sid       = "SchemaDriftAlerts"
    effect    = "Allow"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.schema_drift_alerts.arn]
  }

  statement {
    sid    = "ArrivalNotifications"
    effect = "Allow"
    actions = [
      "sqs:DeleteMessage",
      "sqs:GetQueueAttributes",
      "sqs:ReceiveMessage",
    ]
    resources = [aws_sqs_queue.arrivals.arn]
  }

  statement {
    sid    = "PromotionJobRuns"
    effect = "Allow"
    actions = [
      "emr-serverless:CancelJobRun",
      "emr-serverless:GetJobRun",
      "emr-serverless:StartJobRun",
    ]
    # StartJobRun acts on the application, Get/CancelJobRun on its job runs.
    resources = [
      aws_emrserverless_application.spark.arn,
      "${aws_emrserverless_application.spark.arn}/jobruns/*",
    ]
  }

  statement {
    sid       = "PassExecutionRoleToEmrServerless"
    effect    = "Allow"
    actions   = ["iam:PassRole"]
    resources = [aws_iam_role.emr_execution.arn]
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["emr-serverless.amazonaws.com"]
    }
  }

  # Landing and reading raw files, dead-lettering them, and the retention cleanup of
  # superseded curated folders.
  statement {
    sid    = "LakeZoneObjects"
    effect = "Allow"
    actions = [
      "s3:DeleteObject",
      "s3:GetObject",
      "s3:PutObject",
    ]
    resources = [
      "${local.lake_arn}/raw/*",
      "${local.lake_arn}/dead-letter/*",
      "${local.lake_arn}/curated/*",
    ]
  }

  statement {
    sid       = "ListLakeZones"
    effect    = "Allow"
    actions   = ["s3:ListBucket"]
    resources = [local.lake_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values = [
        "raw/*",
        "dead-letter/*",
        "curated/*",
      ]
    }
  }

  # SSE-KMS objects, the encrypted queue and topic, and the SSE-KMS Glue Data Catalog all use
  # the caller's credentials for the key (Glue encrypts catalog objects with kms:Encrypt).
  statement {
    sid    = "UseLakeKey"
    effect = "Allow"
    actions = [
      "kms:Decrypt",
      "kms:Encrypt",
      "kms:GenerateDataKey",
    ]
    resources = [aws_kms_key.lake.arn]
  }
}

resource "aws_iam_role_policy" "orchestrator" {
  name   = "orchestrator"
  role   = aws_iam_role.orchestrator.id
  policy = data.aws_iam_policy_document.orchestrator.json
}
