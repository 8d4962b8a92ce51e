# Cross-region disaster recovery (ADR-0150; the code's side, the catalog's pointers, is ADR-0149
# and docs/runbooks/disaster-recovery.md). With dr_region set, the recovery region (provider
# aws.dr, versions.tf) holds:
#   - a replica of the whole lake bucket, kept within the lake's recovery point objective by S3
#     Replication Time Control, with its own key, lifecycle and access logs;
#   - the Dagster database's automated backups (database.tf);
#   - a replica of each DynamoDB table (dynamodb.tf), encrypted with the same recovery key.
# The alarms on the replication (alarms.tf) publish to the lake's alert topic. Without dr_region
# (dev) nothing here exists and the lake lives in one region.

locals {
  dr_enabled = var.dr_region != null

  # The lake's recovery point objective for its bucket: S3 Replication Time Control replicates
  # 99.99% of objects within 15 minutes (the only threshold RTC offers), its metrics count an
  # object late past this threshold, and the latency alarm fires past it. The catalog export
  # runs at the same interval (ADR-0149).
  replication_rpo_minutes = 15

  replica_bucket_name     = "${local.lake_bucket_name}-dr"
  replica_log_bucket_name = "${local.log_bucket_name}-dr"
  replication_rule_id     = "whole-lake"
}

# ---------------------------------------------------------------------------------------------
# The recovery region's key: the replica bucket, the database's replicated backups and the
# DynamoDB replicas. A key never leaves its region, so the lake key cannot serve there.
# ---------------------------------------------------------------------------------------------

resource "aws_kms_key" "dr" {
  count    = local.dr_enabled ? 1 : 0
  provider = aws.dr

  description             = "${var.name_prefix}: lake data at rest in the recovery region (S3 replica, RDS backups, DynamoDB replicas)"
  enable_key_rotation     = true
  rotation_period_in_days = 365
  deletion_window_in_days = var.kms_deletion_window_days
  policy                  = data.aws_iam_policy_document.dr_key[0].json
}

resource "aws_kms_alias" "dr" {
  count    = local.dr_enabled ? 1 : 0
  provider = aws.dr

  name          = "alias/${var.name_prefix}-lake-dr"
  target_key_id = aws_kms_key.dr[0].key_id
}

# As the lake key's policy (storage.tf): the account administers and uses the key through IAM.
# S3 replication (the replication role), RDS and DynamoDB use it with the permissions of the
# role or of the caller, through IAM and grants: no service principal needs a statement here.
data "aws_iam_policy_document" "dr_key" {
  count = local.dr_enabled ? 1 : 0

  #checkov:skip=CKV_AWS_109:Key policy: Resource "*" means this key only; AWS requires it.
  #checkov:skip=CKV_AWS_111:Key policy: Resource "*" means this key only; AWS requires it.
  #checkov:skip=CKV_AWS_356:Key policy: Resource "*" means this key only; AWS requires it.
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
}

# ---------------------------------------------------------------------------------------------
# The replica bucket: what the lake bucket holds, in the recovery region. The recovery
# deployment opens it as its lake (LAKE_S3_BUCKET = the dr_replica_bucket output).
# ---------------------------------------------------------------------------------------------

resource "aws_s3_bucket" "replica" {
  #checkov:skip=CKV_AWS_144:This bucket is the lake bucket's cross-region replica; a replica of the replica would be a third region no DR design asks for.
  #checkov:skip=CKV2_AWS_62:Nothing consumes the replica's events: no sensor runs in the recovery region until a recovery, and the recovery deployment finds raw files by listing (lake profile, the hourly sweep).
  count    = local.dr_enabled ? 1 : 0
  provider = aws.dr
  bucket   = local.replica_bucket_name
}

resource "aws_s3_bucket_ownership_controls" "replica" {
  count    = local.dr_enabled ? 1 : 0
  provider = aws.dr
  bucket   = aws_s3_bucket.replica[0].id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "replica" {
  count                   = local.dr_enabled ? 1 : 0
  provider                = aws.dr
  bucket                  = aws_s3_bucket.replica[0].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

# Replication requires versioning on both buckets; the replica's versions keep the past the
# replicated deletes (delete markers) hide.
resource "aws_s3_bucket_versioning" "replica" {
  count    = local.dr_enabled ? 1 : 0
  provider = aws.dr
  bucket   = aws_s3_bucket.replica[0].id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "replica" {
  count    = local.dr_enabled ? 1 : 0
  provider = aws.dr
  bucket   = aws_s3_bucket.replica[0].id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.dr[0].arn
    }
    bucket_key_enabled = true
  }
}

# The lake bucket's lifecycle rules (local.lake_lifecycle_rules, storage.tf), made into S3's rules
# by the module that makes the lake's (modules/lifecycle): S3 does not replicate what a lifecycle
# rule expires, so the replica must expire quarantined rows, dead letters and old versions after
# the same retention itself, or it would keep them for ever.
module "replica_lifecycle" {
  source    = "./modules/lifecycle"
  count     = local.dr_enabled ? 1 : 0
  providers = { aws = aws.dr }

  bucket = aws_s3_bucket.replica[0].id
  rules  = local.lake_lifecycle_rules

  depends_on = [aws_s3_bucket_versioning.replica]
}

# The replica's lifecycle was this file's own resource before the module shared the lake's: the
# state moves to the module's address. Instance to instance: moving the whole counted resource
# would look for this[0] in the module, whose resource is not counted, and replace it.
moved {
  from = aws_s3_bucket_lifecycle_configuration.replica[0]
  to   = module.replica_lifecycle[0].aws_s3_bucket_lifecycle_configuration.this
}

resource "aws_s3_bucket_logging" "replica" {
  count         = local.dr_enabled ? 1 : 0
  provider      = aws.dr
  bucket        = aws_s3_bucket.replica[0].id
  target_bucket = aws_s3_bucket.replica_logs[0].id
  target_prefix = "s3-access/${local.replica_bucket_name}/"
}

data "aws_iam_policy_document" "replica_bucket" {
  count = local.dr_enabled ? 1 : 0

  # Refuse plain-HTTP requests: the lake bucket's operations, and the replication's own.
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
      "s3:ReplicateDelete",
      "s3:ReplicateObject",
      "s3:ReplicateTags",
    ]
    resources = [aws_s3_bucket.replica[0].arn, "${aws_s3_bucket.replica[0].arn}/*"]
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "replica" {
  count      = local.dr_enabled ? 1 : 0
  provider   = aws.dr
  bucket     = aws_s3_bucket.replica[0].id
  policy     = data.aws_iam_policy_document.replica_bucket[0].json
  depends_on = [aws_s3_bucket_public_access_block.replica]
}

# ---------------------------------------------------------------------------------------------
# The replica's access logs, in the recovery region (S3 logs only to a bucket of the same
# region, encrypted with SSE-S3): once the replica serves as the lake, who read what is logged
# there as it is for the lake bucket.
# ---------------------------------------------------------------------------------------------

resource "aws_s3_bucket" "replica_logs" {
  #checkov:skip=CKV_AWS_144:The access logs of the recovery region's replica; replicating them back is a third copy no DR design asks for.
  #checkov:skip=CKV_AWS_145:S3 server access logging cannot deliver to an SSE-KMS bucket; SSE-S3 (AES256) is the only supported encryption for the target.
  #checkov:skip=CKV2_AWS_62:Nothing consumes events of the log bucket; notifications would only add cost.
  count    = local.dr_enabled ? 1 : 0
  provider = aws.dr
  bucket   = local.replica_log_bucket_name
}

resource "aws_s3_bucket_ownership_controls" "replica_logs" {
  count    = local.dr_enabled ? 1 : 0
  provider = aws.dr
  bucket   = aws_s3_bucket.replica_logs[0].id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "replica_logs" {
  count                   = local.dr_enabled ? 1 : 0
  provider                = aws.dr
  bucket                  = aws_s3_bucket.replica_logs[0].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "replica_logs" {
  count    = local.dr_enabled ? 1 : 0
  provider = aws.dr
  bucket   = aws_s3_bucket.replica_logs[0].id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "replica_logs" {
  count    = local.dr_enabled ? 1 : 0
  provider = aws.dr
  bucket   = aws_s3_bucket.replica_logs[0].id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "replica_logs" {
  count    = local.dr_enabled ? 1 : 0
  provider = aws.dr
  bucket   = aws_s3_bucket.replica_logs[0].id

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

  depends_on = [aws_s3_bucket_versioning.replica_logs]
}

data "aws_iam_policy_document" "replica_log_bucket" {
  count = local.dr_enabled ? 1 : 0

  statement {
    sid    = "S3ServerAccessLogsFromReplicaBucket"
    effect = "Allow"
    principals {
      type        = "Service"
      identifiers = ["logging.s3.amazonaws.com"]
    }
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.replica_logs[0].arn}/s3-access/${local.replica_bucket_name}/*"]
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_s3_bucket.replica[0].arn]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
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
    resources = [aws_s3_bucket.replica_logs[0].arn, "${aws_s3_bucket.replica_logs[0].arn}/*"]
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "replica_logs" {
  count      = local.dr_enabled ? 1 : 0
  provider   = aws.dr
  bucket     = aws_s3_bucket.replica_logs[0].id
  policy     = data.aws_iam_policy_document.replica_log_bucket[0].json
  depends_on = [aws_s3_bucket_public_access_block.replica_logs]
}

# ---------------------------------------------------------------------------------------------
# Replication: the lake bucket, all of it, into the replica
# ---------------------------------------------------------------------------------------------

# One rule for the whole bucket: every zone, the code and stamps (_code/, _pipelines/), and the
# catalog's exported pointers (_recovery/catalog/, ADR-0149), without which the replica's tables
# could not be opened. Deletes are replicated as delete markers, so the replica's current state
# is the lake's; the versions under them stay for noncurrent_version_retention_days, as in the
# lake. What the lake's lifecycle expires is not replicated: the replica's own lifecycle expires
# it. Objects written before the replication existed are not copied by it: an S3 Batch
# Replication job copies them once (terraform/README.md).
resource "aws_s3_bucket_replication_configuration" "lake" {
  count  = local.dr_enabled ? 1 : 0
  role   = aws_iam_role.replication[0].arn
  bucket = aws_s3_bucket.lake.id

  rule {
    id       = local.replication_rule_id
    status   = "Enabled"
    priority = 0

    filter {}

    delete_marker_replication {
      status = "Enabled"
    }

    source_selection_criteria {
      sse_kms_encrypted_objects {
        status = "Enabled"
      }
    }

    destination {
      bucket        = aws_s3_bucket.replica[0].arn
      storage_class = "STANDARD"

      encryption_configuration {
        replica_kms_key_id = aws_kms_key.dr[0].arn
      }

      replication_time {
        status = "Enabled"
        time {
          minutes = local.replication_rpo_minutes
        }
      }

      metrics {
        status = "Enabled"
        event_threshold {
          minutes = local.replication_rpo_minutes
        }
      }
    }
  }

  depends_on = [aws_s3_bucket_versioning.lake, aws_s3_bucket_versioning.replica]
}

# S3 replicates as this role, assumed by S3 for the lake bucket of this account only.
data "aws_iam_policy_document" "replication_trust" {
  count = local.dr_enabled ? 1 : 0

  statement {
    sid     = "S3ReplicatesTheLakeBucket"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["s3.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_s3_bucket.lake.arn]
    }
  }
}

resource "aws_iam_role" "replication" {
  count                = local.dr_enabled ? 1 : 0
  name                 = "${var.name_prefix}-lake-replication"
  description          = "S3 replication of the lake bucket into its replica in the recovery region."
  assume_role_policy   = data.aws_iam_policy_document.replication_trust[0].json
  max_session_duration = 3600
}

# The permissions S3 documents for replicating SSE-KMS objects, each on the one bucket, its
# objects or the one key it concerns: read the lake's configuration and versions, write replicas,
# decrypt with the lake key in the lake's region, encrypt with the recovery key in its region.
data "aws_iam_policy_document" "replication" {
  count = local.dr_enabled ? 1 : 0

  statement {
    sid       = "ReadTheReplicationConfiguration"
    effect    = "Allow"
    actions   = ["s3:GetReplicationConfiguration", "s3:ListBucket"]
    resources = [aws_s3_bucket.lake.arn]
  }

  statement {
    sid    = "ReadTheLakesObjectVersions"
    effect = "Allow"
    actions = [
      "s3:GetObjectVersionAcl",
      "s3:GetObjectVersionForReplication",
      "s3:GetObjectVersionTagging",
    ]
    resources = ["${aws_s3_bucket.lake.arn}/*"]
  }

  statement {
    sid    = "WriteTheReplicas"
    effect = "Allow"
    actions = [
      "s3:ReplicateDelete",
      "s3:ReplicateObject",
      "s3:ReplicateTags",
    ]
    resources = ["${aws_s3_bucket.replica[0].arn}/*"]
  }

  statement {
    sid       = "DecryptWithTheLakeKey"
    effect    = "Allow"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.lake.arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${local.region}.amazonaws.com"]
    }
  }

  statement {
    sid       = "EncryptWithTheRecoveryKey"
    effect    = "Allow"
    actions   = ["kms:Encrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.dr[0].arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${var.dr_region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "replication" {
  count  = local.dr_enabled ? 1 : 0
  name   = "lake-replication"
  role   = aws_iam_role.replication[0].id
  policy = data.aws_iam_policy_document.replication[0].json
}

# ---------------------------------------------------------------------------------------------
# Objects already in the lake when replication is turned on are not replicated by it. An S3
# Batch Replication job copies them once, on the rule above, as this role
# (the `aws s3control create-job` command of terraform/README.md): S3 lists the
# objects the rule makes eligible and not yet replicated (its manifest generator), initiates
# each one's replication (which the replication role then carries out, keys and all) and
# writes the manifest and the completion report under one prefix of the log bucket.
# ---------------------------------------------------------------------------------------------

locals {
  batch_replication_prefix = "batch-replication"
}

data "aws_iam_policy_document" "batch_replication_trust" {
  count = local.dr_enabled ? 1 : 0

  statement {
    sid     = "BatchOperationsReplicatesForThisAccount"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["batchoperations.s3.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "batch_replication" {
  count                = local.dr_enabled ? 1 : 0
  name                 = "${var.name_prefix}-lake-batch-replication"
  description          = "S3 Batch Replication of what the lake bucket held before its replication existed."
  assume_role_policy   = data.aws_iam_policy_document.batch_replication_trust[0].json
  max_session_duration = 3600
}

# What S3 documents for a Batch Replication job with a generated manifest, each on the one
# bucket or prefix it concerns. No key: the objects are read and written by the replication
# role, and the log bucket is SSE-S3.
data "aws_iam_policy_document" "batch_replication" {
  count = local.dr_enabled ? 1 : 0

  statement {
    sid       = "InitiateTheLakesReplication"
    effect    = "Allow"
    actions   = ["s3:InitiateReplication"]
    resources = ["${aws_s3_bucket.lake.arn}/*"]
  }

  statement {
    sid       = "ListWhatTheRuleMakesEligible"
    effect    = "Allow"
    actions   = ["s3:GetReplicationConfiguration", "s3:PutInventoryConfiguration"]
    resources = [aws_s3_bucket.lake.arn]
  }

  statement {
    sid       = "WriteAndReadTheManifestAndReport"
    effect    = "Allow"
    actions   = ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"]
    resources = ["${aws_s3_bucket.logs.arn}/${local.batch_replication_prefix}/*"]
  }
}

resource "aws_iam_role_policy" "batch_replication" {
  count  = local.dr_enabled ? 1 : 0
  name   = "lake-batch-replication"
  role   = aws_iam_role.batch_replication[0].id
  policy = data.aws_iam_policy_document.batch_replication[0].json
}
