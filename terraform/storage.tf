# The lake key, the lake bucket with its zones, and the bucket receiving its access logs.

# ---------------------------------------------------------------------------------------------
# Customer managed key: encrypts the lake bucket, the queues, the topic, the DynamoDB tables
# and the Glue Data Catalog.
# ---------------------------------------------------------------------------------------------

resource "aws_kms_key" "lake" {
  description             = "${var.name_prefix}: lake data at rest (S3, SQS, SNS, DynamoDB, Glue)"
  enable_key_rotation     = true
  rotation_period_in_days = 365
  deletion_window_in_days = var.kms_deletion_window_days
  policy                  = data.aws_iam_policy_document.lake_key.json
}

resource "aws_kms_alias" "lake" {
  name          = "alias/${var.name_prefix}-lake"
  target_key_id = aws_kms_key.lake.key_id
}

# What the account may do with each of the lake's keys through IAM (the lake key here, the recovery
# key in dr.tf): every symmetric-key operation, one by one, no "kms:*".
locals {
  key_account_actions = [
    "kms:CancelKeyDeletion",
    "kms:CreateAlias",
    "kms:CreateGrant",
    "kms:Decrypt",
    "kms:DeleteAlias",
    "kms:DescribeKey",
    "kms:DisableKey",
    "kms:DisableKeyRotation",
    "kms:EnableKey",
    "kms:EnableKeyRotation",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListGrants",
    "kms:ListKeyRotations",
    "kms:ListResourceTags",
    "kms:PutKeyPolicy",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:RetireGrant",
    "kms:RevokeGrant",
    "kms:RotateKeyOnDemand",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateAlias",
    "kms:UpdateKeyDescription",
  ]
}

# A key policy's Resource must be "*": in a key policy it means "this key" and nothing else
# (AWS KMS developer guide, "Elements in a key policy"); the key's own ARN does not exist yet
# when the policy is written. Actions are listed one by one, no "kms:*".
data "aws_iam_policy_document" "lake_key" {
  #checkov:skip=CKV_AWS_109:Key policy: Resource "*" means this key only; AWS requires it.
  #checkov:skip=CKV_AWS_111:Key policy: Resource "*" means this key only; AWS requires it.
  #checkov:skip=CKV_AWS_356:Key policy: Resource "*" means this key only; AWS requires it.

  # The account (through IAM policies) administers and uses the key. Without this statement
  # nobody could ever change the key policy again. Only the symmetric-key operations exist here.
  statement {
    sid    = "AccountAdministersKeyThroughIam"
    effect = "Allow"
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
    actions   = local.key_account_actions
    resources = ["*"]
  }

  # S3 encrypts the event notifications it sends to the (KMS-encrypted) arrivals queue. This is
  # the statement AWS documents for S3 -> encrypted SQS; what S3 may deliver is bounded by the
  # queue policy (only the lake bucket of this account may send).
  statement {
    sid    = "S3SendsEncryptedNotifications"
    effect = "Allow"
    principals {
      type        = "Service"
      identifiers = ["s3.amazonaws.com"]
    }
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = ["*"]
  }

  # CloudWatch publishes the lake's alarms to the encrypted alert topic (alarms.tf): the
  # statement AWS documents for alarms -> encrypted SNS, for this account's alarms.
  statement {
    sid    = "CloudWatchPublishesEncryptedAlarms"
    effect = "Allow"
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }

  # CloudTrail encrypts the lake's trail files (audit.tf) for this account's trails only, and
  # may describe the key it was given.
  statement {
    sid    = "CloudTrailEncryptsTheTrail"
    effect = "Allow"
    principals {
      type        = "Service"
      identifiers = ["cloudtrail.amazonaws.com"]
    }
    actions   = ["kms:GenerateDataKey"]
    resources = ["*"]
    condition {
      test     = "StringLike"
      variable = "kms:EncryptionContext:aws:cloudtrail:arn"
      values   = ["arn:${local.partition}:cloudtrail:*:${local.account_id}:trail/*"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceArn"
      values   = [local.trail_arn]
    }
  }

  statement {
    sid    = "CloudTrailDescribesTheKey"
    effect = "Allow"
    principals {
      type        = "Service"
      identifiers = ["cloudtrail.amazonaws.com"]
    }
    actions   = ["kms:DescribeKey"]
    resources = ["*"]
  }

  # AWS Budgets and Cost Anomaly Detection publish the lake's cost alerts (budget.tf) to the
  # encrypted alert topic, for this account's budget and monitor.
  statement {
    sid    = "CostAlertsPublishEncrypted"
    effect = "Allow"
    principals {
      type        = "Service"
      identifiers = ["budgets.amazonaws.com", "costalerts.amazonaws.com"]
    }
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }

  # AWS Data Exports writes the CUR export (cost.tf) into the lake bucket, whose objects this
  # key encrypts (S3 asks the key on its behalf): only through S3 in the lake's region, for
  # exports of this account, as the bucket policy lets it write.
  statement {
    sid    = "DataExportsEncryptsTheBill"
    effect = "Allow"
    principals {
      type        = "Service"
      identifiers = ["bcm-data-exports.amazonaws.com"]
    }
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${local.region}.amazonaws.com"]
    }
  }

  # CloudWatch Logs encrypts the Dagster tasks' log groups (ecs.tf), and only those.
  statement {
    sid    = "CloudWatchLogsEncryptsDagsterLogs"
    effect = "Allow"
    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }
    actions = [
      "kms:Decrypt",
      "kms:DescribeKey",
      "kms:Encrypt",
      "kms:GenerateDataKey",
      "kms:ReEncryptFrom",
      "kms:ReEncryptTo",
    ]
    resources = ["*"]
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/${var.name_prefix}/dagster/*"]
    }
  }
}

# ---------------------------------------------------------------------------------------------
# The lake bucket: raw/, curated/, quarantine/, dead-letter/.
# ---------------------------------------------------------------------------------------------

# With dr_region set, the whole bucket replicates into its replica in the recovery region
# (dr.tf); without it (dev) the lake lives in one region, recovered there from its versions.
resource "aws_s3_bucket" "lake" {
  bucket = local.lake_bucket_name
}

resource "aws_s3_bucket_ownership_controls" "lake" {
  bucket = aws_s3_bucket.lake.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "lake" {
  bucket                  = aws_s3_bucket.lake.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "lake" {
  bucket = aws_s3_bucket.lake.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "lake" {
  bucket = aws_s3_bucket.lake.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.lake.arn
    }
    bucket_key_enabled = true
  }
}

# The lake bucket's lifecycle rules, declared once: the lake's own lifecycle (module.lake_lifecycle
# below) and its replica's (dr.tf), which must expire what the lake expires; one module
# (modules/lifecycle) makes them into S3's rules for both. A rule without prefix (null) applies to
# the whole bucket; an action a rule does not take is null (no transitions: []). The order is S3's:
# the provider keeps the rules as a list, so another order is a change to apply.
locals {
  lake_lifecycle_rules = flatten([
    {
      id                                     = "abort-incomplete-multipart-uploads"
      prefix                                 = null
      abort_incomplete_multipart_upload_days = 7
      expiration_days                        = null
      expired_object_delete_marker           = null
      noncurrent_version_expiration_days     = null
      transitions                            = []
    },
    {
      id                                     = "expire-noncurrent-versions"
      prefix                                 = null
      abort_incomplete_multipart_upload_days = null
      expiration_days                        = null
      expired_object_delete_marker           = true
      noncurrent_version_expiration_days     = var.noncurrent_version_retention_days
      transitions                            = []
    },
    # Older objects of a zone move to colder storage (var.zone_transitions; by default raw/ to
    # Glacier Flexible Retrieval after 90 days). An archived object must be restored before it can
    # be read: `lake restore` brings back the days a backfill needs
    # (docs/runbooks/restore-from-glacier.md).
    [for zone, transitions in var.zone_transitions : {
      id                                     = "transition-${trimsuffix(zone, "/")}"
      prefix                                 = zone
      abort_incomplete_multipart_upload_days = null
      expiration_days                        = null
      expired_object_delete_marker           = null
      noncurrent_version_expiration_days     = null
      transitions                            = transitions
    }],
    # Quarantined rows and dead letters are kept for their declared retention, then expire (the
    # expired objects' versions go with expire-noncurrent-versions).
    {
      id                                     = "expire-quarantine"
      prefix                                 = "quarantine/"
      abort_incomplete_multipart_upload_days = null
      expiration_days                        = var.quarantine_retention_days
      expired_object_delete_marker           = null
      noncurrent_version_expiration_days     = null
      transitions                            = []
    },
    {
      id                                     = "expire-dead-letters"
      prefix                                 = "dead-letter/"
      abort_incomplete_multipart_upload_days = null
      expiration_days                        = var.dead_letter_retention_days
      expired_object_delete_marker           = null
      noncurrent_version_expiration_days     = null
      transitions                            = []
    },
    # Dagster Pipes leaves each job's message chunks under _pipes/ (resources/spark_runner.py):
    # read once, by the orchestrator, while the job runs.
    {
      id                                     = "expire-pipes-messages"
      prefix                                 = "_pipes/"
      abort_incomplete_multipart_upload_days = null
      expiration_days                        = 3
      expired_object_delete_marker           = null
      noncurrent_version_expiration_days     = null
      transitions                            = []
    },
    # A consumer's Athena results (consumers.tf): a query's answer, fetched once by the console
    # or a driver; asked again, the query runs again.
    {
      id                                     = "expire-athena-results"
      prefix                                 = "athena-results/"
      abort_incomplete_multipart_upload_days = null
      expiration_days                        = 7
      expired_object_delete_marker           = null
      noncurrent_version_expiration_days     = null
      transitions                            = []
    },
    # The SLO dashboard is rewritten at every evaluation (site/slo/index.html): its superseded
    # pages are kept a day, not for the retention of the lake's data.
    {
      id                                     = "expire-superseded-site-pages"
      prefix                                 = "site/"
      abort_incomplete_multipart_upload_days = null
      expiration_days                        = null
      expired_object_delete_marker           = null
      noncurrent_version_expiration_days     = 1
      transitions                            = []
    },
  ])
}

module "lake_lifecycle" {
  source = "./modules/lifecycle"

  bucket = aws_s3_bucket.lake.id
  rules  = local.lake_lifecycle_rules

  # Rules on noncurrent versions: the bucket's versioning is set first.
  depends_on = [aws_s3_bucket_versioning.lake]
}

# The lifecycle was this file's own resource before the module shared it with the replica: the
# state moves to the module's address and S3's lifecycle is left as it is.
moved {
  from = aws_s3_bucket_lifecycle_configuration.lake
  to   = module.lake_lifecycle.aws_s3_bucket_lifecycle_configuration.this
}

resource "aws_s3_bucket_logging" "lake" {
  bucket        = aws_s3_bucket.lake.id
  target_bucket = aws_s3_bucket.logs.id
  target_prefix = "s3-access/${local.lake_bucket_name}/"
}

data "aws_iam_policy_document" "lake_bucket" {
  # Refuse plain-HTTP requests. A Deny needs no wildcard to be useful here: it names every
  # bucket and object operation any principal of this lake is granted, plus the versioning ones.
  statement {
    sid    = "DenyInsecureTransport"
    effect = "Deny"
    principals {
      type        = "AWS"
      identifiers = ["*"]
    }
    actions = [
      "s3:AbortMultipartUpload",
      "s3:DeleteObject",
      "s3:DeleteObjectVersion",
      "s3:GetObject",
      "s3:GetObjectVersion",
      "s3:ListBucket",
      "s3:ListBucketVersions",
      "s3:ListMultipartUploadParts",
      "s3:PutObject",
    ]
    resources = [aws_s3_bucket.lake.arn, "${aws_s3_bucket.lake.arn}/*"]
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }

  # AWS Data Exports delivers the lake's CUR export (cost.tf), for exports of this account only:
  # the statement AWS documents for an export's bucket, which it checks when the export is
  # created (a policy narrower than the documented one may be refused there). Where the export
  # writes is its own S3 prefix, exports/.
  statement {
    sid    = "DataExportsDeliversTheBill"
    effect = "Allow"
    principals {
      type        = "Service"
      identifiers = ["bcm-data-exports.amazonaws.com"]
    }
    actions   = ["s3:GetBucketPolicy", "s3:PutObject"]
    resources = [aws_s3_bucket.lake.arn, "${aws_s3_bucket.lake.arn}/*"]
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = [local.cur_export_arn_pattern]
    }
  }
}

resource "aws_s3_bucket_policy" "lake" {
  bucket     = aws_s3_bucket.lake.id
  policy     = data.aws_iam_policy_document.lake_bucket.json
  depends_on = [aws_s3_bucket_public_access_block.lake]
}

# New raw objects of the generated pipelines are announced on the arrivals queue; the sensor reads
# them from there.
resource "aws_s3_bucket_notification" "lake" {
  bucket = aws_s3_bucket.lake.id

  # One rule per generated pipeline (local.pipeline_raw_prefixes, in the generated pipelines.tf);
  # `lake deploy --config` applies this resource with the pipeline's module. The prefixes are
  # disjoint (raw/source=<name>/), as S3 requires of rules for one event type.
  dynamic "queue" {
    for_each = local.pipeline_raw_prefixes
    content {
      id            = "raw-object-created-${queue.key}"
      queue_arn     = aws_sqs_queue.arrivals.arn
      events        = ["s3:ObjectCreated:*"]
      filter_prefix = queue.value
    }
  }

  depends_on = [aws_sqs_queue_policy.arrivals]
}

# ---------------------------------------------------------------------------------------------
# The access-log bucket. S3 server access logging only delivers to a bucket encrypted with
# SSE-S3 (AES256), not SSE-KMS, and a log bucket does not log or announce itself.
# ---------------------------------------------------------------------------------------------

resource "aws_s3_bucket" "logs" {
  #checkov:skip=CKV_AWS_144:The access logs and the trail stay in the lake's region: copying audit records to a second region is the bank's audit retention decision, not what a recovery serves from; the replica logs its own access there (dr.tf).
  #checkov:skip=CKV_AWS_145:S3 server access logging cannot deliver to an SSE-KMS bucket; SSE-S3 (AES256) is the only supported encryption for the target.
  #checkov:skip=CKV2_AWS_62:Nothing consumes events of the log bucket; notifications would only add cost.
  bucket = local.log_bucket_name
}

resource "aws_s3_bucket_ownership_controls" "logs" {
  bucket = aws_s3_bucket.logs.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "logs" {
  bucket                  = aws_s3_bucket.logs.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "logs" {
  bucket = aws_s3_bucket.logs.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "logs" {
  bucket = aws_s3_bucket.logs.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "logs" {
  bucket = aws_s3_bucket.logs.id

  rule {
    id     = "expire-access-logs"
    status = "Enabled"
    filter {}
    expiration {
      days = var.access_log_retention_days
    }
    noncurrent_version_expiration {
      noncurrent_days = 30
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.logs]
}

# Only the S3 logging service (for the lake bucket), the load balancer and CloudTrail (for the
# lake's trail) of this account may write here, each under its own prefix; so may, by its own
# role's policy, the batch replication of what the lake held before (dr.tf, batch-replication/).
data "aws_iam_policy_document" "log_bucket" {
  statement {
    sid    = "S3ServerAccessLogsFromLakeBucket"
    effect = "Allow"
    principals {
      type        = "Service"
      identifiers = ["logging.s3.amazonaws.com"]
    }
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.logs.arn}/s3-access/${local.lake_bucket_name}/*"]
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

  # CloudTrail delivers the lake's trail (audit.tf) under its prefix, for that trail only.
  statement {
    sid    = "CloudTrailReadsTheBucketAcl"
    effect = "Allow"
    principals {
      type        = "Service"
      identifiers = ["cloudtrail.amazonaws.com"]
    }
    actions   = ["s3:GetBucketAcl"]
    resources = [aws_s3_bucket.logs.arn]
    condition {
      test     = "StringEquals"
      variable = "aws:SourceArn"
      values   = [local.trail_arn]
    }
  }

  statement {
    sid    = "CloudTrailDeliversTheTrail"
    effect = "Allow"
    principals {
      type        = "Service"
      identifiers = ["cloudtrail.amazonaws.com"]
    }
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.logs.arn}/${local.trail_log_prefix}/AWSLogs/${local.account_id}/*"]
    condition {
      test     = "StringEquals"
      variable = "aws:SourceArn"
      values   = [local.trail_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "s3:x-amz-acl"
      values   = ["bucket-owner-full-control"]
    }
  }

  statement {
    sid    = "LoadBalancerAccessLogs"
    effect = "Allow"
    principals {
      type        = "AWS"
      identifiers = [data.aws_elb_service_account.current.arn]
    }
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.logs.arn}/${local.alb_log_prefix}/AWSLogs/${local.account_id}/*"]
  }

  statement {
    sid    = "DenyInsecureTransport"
    effect = "Deny"
    principals {
      type        = "AWS"
      identifiers = ["*"]
    }
    actions = [
      "s3:DeleteObject",
      "s3:DeleteObjectVersion",
      "s3:GetObject",
      "s3:GetObjectVersion",
      "s3:ListBucket",
      "s3:ListBucketVersions",
      "s3:PutObject",
    ]
    resources = [aws_s3_bucket.logs.arn, "${aws_s3_bucket.logs.arn}/*"]
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

# The load balancer's access logs (web.tf), written by Elastic Load Balancing's account of the
# region under the load balancer's prefix of this account only.
data "aws_elb_service_account" "current" {}

resource "aws_s3_bucket_policy" "logs" {
  bucket     = aws_s3_bucket.logs.id
  policy     = data.aws_iam_policy_document.log_bucket.json
  depends_on = [aws_s3_bucket_public_access_block.logs]
}
