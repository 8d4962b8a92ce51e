# Two roles, each with only the calls its code makes, on only the resources it touches:
#   - the Spark jobs' EMR Serverless execution role;
#   - the orchestrator role of the Dagster process.
# (CI's deploy role is in cicd.tf; the view definer, the consumer roles and Lake Formation's role
# for the curated zone in consumers.tf.)
# The calls are recorded from the code while the moto-server tests run
# (terraform/tests/aws_calls.json, `make aws-calls`), and tests/test_terraform.py requires each
# role's actions, and its object actions per zone, to equal what the recording needs.
# Object grants name a zone prefix ("<bucket>/raw/*"), never the whole bucket, and ListBucket is
# narrowed with s3:prefix to the zones the role reads or lists (so a missing object is a 404,
# not a 403). Zones are written out literally (no locals) so that the test can check them.
# One grant is on another bucket: the orchestrator reads the CloudTrail trail's files in the
# access-log bucket, under the trail's own prefix (local.trail_log_prefix, audit.tf).
# Five prefixes are not lake zones: _state/ holds the pulled sources' watermarks, _pipes/ the
# Dagster Pipes sessions (the context the orchestrator writes for a job, the message chunks the
# job writes back), _code/ the job code `lake deploy` uploads (cicd.tf) and EMR Serverless runs,
# _pipelines/ the stamp object of each generated pipeline's Terraform module, exports/ the bill
# AWS Data Exports delivers (cost.tf). site/ holds pages for people (the SLO dashboard), which
# the lake writes and never reads back.

locals {
  lake_arn = aws_s3_bucket.lake.arn

  glue_catalog_arn  = "arn:${local.partition}:glue:${local.region}:${local.account_id}:catalog"
  glue_database_arn = aws_glue_catalog_database.curated.arn
  # Tables are created by the orchestrator at publish time (one per curated dataset), so their
  # names are not known here: the grant is bounded to the tables of the curated database.
  glue_tables_arn = "arn:${local.partition}:glue:${local.region}:${local.account_id}:table/${aws_glue_catalog_database.curated.name}/*"
  # The masked views are named from the datasets and the policies' profiles: bounded likewise.
  glue_views_arn = "arn:${local.partition}:glue:${local.region}:${local.account_id}:table/${aws_glue_catalog_database.views.name}/*"
}

# ---------------------------------------------------------------------------------------------
# EMR Serverless execution role (the Spark jobs)
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

  # EMR Serverless fetches the submitted entry point and code archive with this role;
  # `lake deploy` (CI's deploy role, cicd.tf) uploads them.
  statement {
    sid       = "ReadSubmittedCode"
    effect    = "Allow"
    actions   = ["s3:GetObject"]
    resources = ["${local.lake_arn}/_code/*"]
  }

  # Published versions are read; run folders written, read back and cleaned by the committer.
  # Spark writes with multipart uploads and aborts them on task failure.
  statement {
    sid    = "WriteRunFolders"
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

  # The job reads its Pipes context and writes its message chunks.
  statement {
    sid    = "PipesSession"
    effect = "Allow"
    actions = [
      "s3:GetObject",
      "s3:PutObject",
    ]
    resources = ["${local.lake_arn}/_pipes/*"]
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
        "_code/*",
        "_pipes/*",
      ]
    }
  }

  # A gold job whose SQL uses lake_token reads the token key (lake_assets/access/tokens.py); this
  # secret only. It is encrypted with the lake key, which UseLakeKey lets the job decrypt.
  statement {
    sid       = "ReadLakeTokenKey"
    effect    = "Allow"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_secretsmanager_secret.lake_token.arn]
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
  # Registry versions and the raw-file index (resources/aws/dynamo_registry.py): versions are
  # put (a status change overwrites the item), files put and read, both queried per source.
  statement {
    sid    = "RegistryAndFileIndex"
    effect = "Allow"
    actions = [
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:Query",
    ]
    resources = [
      aws_dynamodb_table.lake["schema_registry"].arn,
      aws_dynamodb_table.lake["raw_file_index"].arn,
    ]
  }

  # Lineage runs, data-ready events and dependency state (resources/aws/dynamo_lineage.py,
  # resources/aws/dynamo_events.py): traces scan the runs, the sensor queries waits and deletes
  # them.
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

  # Compaction history and its per-dataset lease (resources/aws/dynamo_compaction.py): records
  # are put, queried per dataset or scanned; the lease is a conditional put, read when busy,
  # deleted when done.
  statement {
    sid    = "CompactionHistory"
    effect = "Allow"
    actions = [
      "dynamodb:DeleteItem",
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:Query",
      "dynamodb:Scan",
    ]
    resources = [aws_dynamodb_table.lake["compaction_history"].arn]
  }

  # The access audit trail (resources/aws/dynamo_access_audit.py) is append-only: an entry is a
  # conditional put, the trail is read by a scan; nothing may update or delete an entry.
  statement {
    sid    = "AccessAudit"
    effect = "Allow"
    actions = [
      "dynamodb:PutItem",
      "dynamodb:Scan",
    ]
    resources = [aws_dynamodb_table.lake["access_audit"].arn]
  }

  # Partition catalog: publish is a pointer switch on the partition (resources/aws/glue.py);
  # sealing and compaction switch it the same way. The table carries the superseded locations
  # retention reads across tables, and widened columns: both are table updates. Lake Formation
  # governs the curated tables: it must allow these calls too (consumers.tf).
  statement {
    sid    = "CuratedCatalog"
    effect = "Allow"
    actions = [
      "glue:CreatePartition",
      "glue:CreateTable",
      "glue:GetPartition",
      "glue:GetPartitions",
      "glue:GetTable",
      "glue:GetTables",
      "glue:UpdatePartition",
      "glue:UpdateTable",
    ]
    resources = [
      local.glue_catalog_arn,
      local.glue_database_arn,
      local.glue_tables_arn,
    ]
  }

  # The masked views are created, replaced, deleted and granted as the view definer
  # (consumers.tf, ADR-0161): only the role that creates a definer view may be its Definer. The
  # orchestrator holds nothing on the views database itself.
  statement {
    sid       = "ActAsViewDefiner"
    effect    = "Allow"
    actions   = ["sts:AssumeRole"]
    resources = [aws_iam_role.view_definer.arn]
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
      "sqs:ReceiveMessage",
    ]
    resources = [aws_sqs_queue.arrivals.arn]
  }

  # Cost attribution's Athena drivers: each team workgroup's query history and the bytes its
  # queries scanned (resources/aws/athena.py); workgroups by name, never listed (ListWorkGroups
  # is granted on "*" only).
  statement {
    sid    = "AthenaQueryHistory"
    effect = "Allow"
    actions = [
      "athena:BatchGetQueryExecution",
      "athena:ListQueryExecutions",
    ]
    resources = ["arn:${local.partition}:athena:${local.region}:${local.account_id}:workgroup/*"]
  }

  # Dagster Pipes' EMR Serverless client starts a run (tagged with the Dagster run: tagging on
  # creation is authorised as TagResource on the new run), polls it, fetches its dashboard
  # link, reads the application's monitoring settings, and cancels the run when Dagster's is
  # terminated.
  statement {
    sid    = "SparkJobRuns"
    effect = "Allow"
    actions = [
      "emr-serverless:CancelJobRun",
      "emr-serverless:GetApplication",
      "emr-serverless:GetDashboardForJobRun",
      "emr-serverless:GetJobRun",
      "emr-serverless:StartJobRun",
      "emr-serverless:TagResource",
    ]
    # StartJobRun and GetApplication act on the application, the others on its job runs.
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

  # Payloads are landed (multipart when large, aborted on failure) and read by profiling; raw
  # is immutable, so nothing deletes there (ADR-0012). `lake restore` asks for temporary
  # copies of payloads the lifecycle archived (ADR-0107).
  statement {
    sid    = "LandAndReadRawPayloads"
    effect = "Allow"
    actions = [
      "s3:AbortMultipartUpload",
      "s3:GetObject",
      "s3:PutObject",
      "s3:RestoreObject",
    ]
    resources = ["${local.lake_arn}/raw/*"]
  }

  # The platform's failure counts and SLO burn, which terraform/alarms.tf watches (ADR-0108).
  # CloudWatch authorises PutMetricData on "*" only; the namespace condition narrows it to the
  # lake's own metrics.
  statement {
    sid       = "PlatformMetrics"
    effect    = "Allow"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      values   = ["Lakehouse"]
    }
  }

  # Publish writes the manifest of a version, readers read it, and the retention sweep deletes
  # superseded run folders.
  statement {
    sid    = "CuratedVersions"
    effect = "Allow"
    actions = [
      "s3:DeleteObject",
      "s3:GetObject",
      "s3:PutObject",
    ]
    resources = ["${local.lake_arn}/curated/*"]
  }

  # A dead letter is a copy of a raw payload with its reason; replay reads it.
  statement {
    sid    = "DeadLetterCopies"
    effect = "Allow"
    actions = [
      "s3:GetObject",
      "s3:PutObject",
    ]
    resources = ["${local.lake_arn}/dead-letter/*"]
  }

  # A promotion moves the rejected rows its job wrote in the run folder into the quarantine
  # zone (a copy, then the run folder's copy is deleted); the retention sweep deletes quarantine
  # copies nothing references.
  statement {
    sid    = "QuarantineMovesAndRetention"
    effect = "Allow"
    actions = [
      "s3:DeleteObject",
      "s3:PutObject",
    ]
    resources = ["${local.lake_arn}/quarantine/*"]
  }

  # Pipes sessions: the orchestrator writes a job's context and deletes it when the run ends,
  # and reads the message chunks the job writes.
  statement {
    sid    = "PipesSessions"
    effect = "Allow"
    actions = [
      "s3:DeleteObject",
      "s3:GetObject",
      "s3:PutObject",
    ]
    resources = ["${local.lake_arn}/_pipes/*"]
  }

  # The CUR export (cost.tf): the cost/cur asset reads a month's manifest and copies the
  # delivery into raw/ (ADR-0086); Data Exports writes there, the lake only reads.
  statement {
    sid       = "ReadCurExport"
    effect    = "Allow"
    actions   = ["s3:GetObject"]
    resources = ["${local.lake_arn}/exports/*"]
  }

  # A pulled source's watermark and its staged pull in flight (lake_assets/pull/watermark.py).
  statement {
    sid    = "PullState"
    effect = "Allow"
    actions = [
      "s3:GetObject",
      "s3:PutObject",
    ]
    resources = ["${local.lake_arn}/_state/*"]
  }

  # The pull reads its database's password; this secret only.
  statement {
    sid       = "ReadPulledDatabaseSecret"
    effect    = "Allow"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_secretsmanager_secret.crm_db.arn]
  }

  # A submission first checks that the job code is there, as the deploy manifest recorded it.
  # Only CI's deploy role writes it (cicd.tf, ADR-0143): this process cannot change the code
  # the jobs run.
  statement {
    sid       = "CheckJobCode"
    effect    = "Allow"
    actions   = ["s3:GetObject"]
    resources = ["${local.lake_arn}/_code/*"]
  }

  # The pipelines' drift check reads the stamp object each generated pipeline's Terraform
  # module writes (terraform/pipelines/<name>/main.tf); Terraform writes it, the code never.
  statement {
    sid       = "ReadPipelineStamps"
    effect    = "Allow"
    actions   = ["s3:GetObject"]
    resources = ["${local.lake_arn}/_pipelines/*"]
  }

  # Disaster recovery (lake_assets/recovery/, ADR-0149): the catalog export the schedule writes
  # every 15 minutes and prunes past the retention, read back by `lake dr check|restore` (in the
  # recovery region, from the replica, where this role is the DR deployment's).
  statement {
    sid    = "CatalogExports"
    effect = "Allow"
    actions = [
      "s3:DeleteObject",
      "s3:GetObject",
      "s3:PutObject",
    ]
    resources = ["${local.lake_arn}/_recovery/*"]
  }

  # The SLO dashboard (lake_assets/slo/site.py) replaces site/slo/index.html at each
  # evaluation; the storage reads the object's head back after the write.
  statement {
    sid    = "PublishDashboard"
    effect = "Allow"
    actions = [
      "s3:GetObject",
      "s3:PutObject",
    ]
    resources = ["${local.lake_arn}/site/*"]
  }

  # Dagster's compute logs (dagster-aws's S3ComputeLogManager in the production dagster.yaml):
  # each run's step logs uploaded, read back for the webserver's links, and deleted with the run.
  statement {
    sid    = "DagsterComputeLogs"
    effect = "Allow"
    actions = [
      "s3:AbortMultipartUpload",
      "s3:DeleteObject",
      "s3:GetObject",
      "s3:PutObject",
    ]
    resources = ["${local.lake_arn}/_dagster/*"]
  }

  # `lake access reads` (lake_assets/access/trail.py, ADR-0157): the trail's log files in the
  # access-log bucket (audit.tf), listed by account, region and day and read; not its digest
  # files, nor the bucket's other logs. They are encrypted with the lake key: UseLakeKey.
  statement {
    sid       = "ReadTrailFiles"
    effect    = "Allow"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.logs.arn}/${local.trail_log_prefix}/AWSLogs/${local.account_id}/CloudTrail/*"]
  }

  statement {
    sid       = "ListTrailFiles"
    effect    = "Allow"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.logs.arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${local.trail_log_prefix}/AWSLogs/*"]
    }
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
        "curated/*",
        "dead-letter/*",
        "quarantine/*",
        "_pipes/*",
        "_code/*",
        "_state/*",
        "_pipelines/*",
        "site/*",
        "_dagster/*",
        "exports/*",
        "_recovery/*",
      ]
    }
  }

  # SSE-KMS objects, the encrypted queue, topic and database secret, and the SSE-KMS Glue Data
  # Catalog all use the caller's credentials for the key (Glue encrypts with kms:Encrypt).
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

# ---------------------------------------------------------------------------------------------
# Readers of the SLO dashboard (site/slo/index.html, lake_assets/slo/site.py)
# ---------------------------------------------------------------------------------------------
# Not a public website: the bucket blocks public access and refuses plain HTTP, and an S3
# website endpoint serves only anonymous HTTP. People sign in through the bank's IdP (IAM
# Identity Center or SAML federation) into a role or permission set this policy is attached
# to, and open the page over HTTPS (a presigned link, e.g. the S3 console's "Open"); with
# dashboard_vpc_endpoint_ids set, only through the bank's S3 VPC endpoints. The page is one
# self-contained object, so a presigned link to it is the whole site. See the ADR on the
# dashboard.

data "aws_iam_policy_document" "dashboard_reader" {
  statement {
    sid       = "ReadDashboard"
    effect    = "Allow"
    actions   = ["s3:GetObject"]
    resources = ["${local.lake_arn}/site/*"]

    dynamic "condition" {
      for_each = length(var.dashboard_vpc_endpoint_ids) == 0 ? [] : [var.dashboard_vpc_endpoint_ids]
      content {
        test     = "StringEquals"
        variable = "aws:SourceVpce"
        values   = condition.value
      }
    }
  }

  # So that the console can show site/ and a missing page is a 404, not a 403.
  statement {
    sid       = "ListDashboard"
    effect    = "Allow"
    actions   = ["s3:ListBucket"]
    resources = [local.lake_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["site/*"]
    }
  }

  # The page is encrypted with the lake key (SSE-KMS); S3 decrypts it for the reader, and
  # only for this bucket (with S3 Bucket Keys the encryption context is the bucket's ARN;
  # which objects may be read is ReadDashboard's).
  statement {
    sid       = "DecryptDashboard"
    effect    = "Allow"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.lake.arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${local.region}.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:aws:s3:arn"
      values   = [local.lake_arn]
    }
  }
}

resource "aws_iam_policy" "dashboard_reader" {
  name        = "${var.name_prefix}-slo-dashboard-reader"
  description = "Read the lake's SLO dashboard (site/ of the lake bucket); attach to the IdP's roles or permission sets."
  policy      = data.aws_iam_policy_document.dashboard_reader.json
}
