# The Terraform state of the lake's environments: one bucket per account, created once, before
# the root module (docs/deploy.md). Its own state is local (terraform.tfstate here): keep it, or
# import the bucket again should it be lost. Locking is the S3 backend's lock file
# (use_lockfile, Terraform >= 1.10): no DynamoDB table.

terraform {
  required_version = ">= 1.10.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.80, < 6.0"
    }
  }
}

variable "region" {
  description = "Region of the state bucket (the lake's)."
  type        = string
  default     = "eu-west-1"
}

variable "name_prefix" {
  description = "Prefix of the state bucket's name: <name_prefix>-tfstate-<account>-<region>."
  type        = string
  default     = "lakehouse"
}

variable "team" {
  description = "Team tag (the platform owner's team)."
  type        = string
  default     = "data-platform"
}

variable "state_version_retention_days" {
  description = "Days a superseded state version is kept (to roll back a bad apply)."
  type        = number
  default     = 365
}

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      project             = "lakehouse"
      managed_by          = "terraform"
      data_classification = "confidential"
      team                = var.team
      pipeline            = "platform"
      environment         = "prod" # the state of every environment is production data
    }
  }
}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  bucket     = "${var.name_prefix}-tfstate-${local.account_id}-${var.region}"
}

resource "aws_kms_key" "state" {
  description             = "${var.name_prefix}: Terraform state"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.state_key.json
}

resource "aws_kms_alias" "state" {
  name          = "alias/${var.name_prefix}-tfstate"
  target_key_id = aws_kms_key.state.key_id
}

# Resource "*" in a key policy means this key (see terraform/storage.tf's lake key).
data "aws_iam_policy_document" "state_key" {
  #checkov:skip=CKV_AWS_109:Key policy: Resource "*" means this key only; AWS requires it.
  #checkov:skip=CKV_AWS_111:Key policy: Resource "*" means this key only; AWS requires it.
  #checkov:skip=CKV_AWS_356:Key policy: Resource "*" means this key only; AWS requires it.
  statement {
    sid    = "AccountAdministersKeyThroughIam"
    effect = "Allow"
    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${local.account_id}:root"]
    }
    actions = [
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
      "kms:GetKeyPolicy",
      "kms:GetKeyRotationStatus",
      "kms:ListGrants",
      "kms:ListResourceTags",
      "kms:PutKeyPolicy",
      "kms:RetireGrant",
      "kms:RevokeGrant",
      "kms:ScheduleKeyDeletion",
      "kms:TagResource",
      "kms:UntagResource",
      "kms:UpdateAlias",
      "kms:UpdateKeyDescription",
    ]
    resources = ["*"]
  }
}

resource "aws_s3_bucket" "state" {
  #checkov:skip=CKV_AWS_144:Cross-region replication of the state is the bank's DR decision; versioning keeps every state version in the region.
  #checkov:skip=CKV_AWS_18:Access to the state bucket is recorded by CloudTrail data events of the account; a log bucket for it alone would need its own state.
  #checkov:skip=CKV2_AWS_62:Nothing consumes events of the state bucket.
  bucket = local.bucket

  lifecycle {
    prevent_destroy = true
  }
}

resource "aws_s3_bucket_ownership_controls" "state" {
  bucket = aws_s3_bucket.state.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "state" {
  bucket                  = aws_s3_bucket.state.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "state" {
  bucket = aws_s3_bucket.state.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "state" {
  bucket = aws_s3_bucket.state.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.state.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "state" {
  bucket = aws_s3_bucket.state.id

  rule {
    id     = "expire-superseded-state"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = var.state_version_retention_days
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.state]
}

data "aws_iam_policy_document" "state_bucket" {
  statement {
    sid    = "DenyInsecureTransport"
    effect = "Deny"
    principals {
      type        = "AWS"
      identifiers = ["*"]
    }
    actions = [
      "s3:DeleteObject",
      "s3:GetObject",
      "s3:ListBucket",
      "s3:PutObject",
    ]
    resources = [aws_s3_bucket.state.arn, "${aws_s3_bucket.state.arn}/*"]
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "state" {
  bucket     = aws_s3_bucket.state.id
  policy     = data.aws_iam_policy_document.state_bucket.json
  depends_on = [aws_s3_bucket_public_access_block.state]
}

output "state_bucket" {
  description = "The bucket of env/<env>.s3.tfbackend."
  value       = aws_s3_bucket.state.bucket
}

output "state_kms_key_arn" {
  description = "The key of env/<env>.s3.tfbackend (kms_key_id)."
  value       = aws_kms_key.state.arn
}
