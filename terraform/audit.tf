# Who read and changed the lake on AWS (seed 003's "access logging: CloudTrail integration for
# audit trails"; ADR-0141): one multi-region trail of the account's management events (IAM,
# Glue, Athena's StartQueryExecution, Lake settings) and of the data events on the lake bucket's
# objects (every GetObject and PutObject, whoever makes it: the lake's roles, Athena reading for
# a consumer, a person with the console). Delivered to the access-log bucket under cloudtrail/,
# kept as long as the access logs (access_log_retention_days, seven years by default), each file
# encrypted with the lake key and covered by CloudTrail's digest files (validation on).

locals {
  trail_name = "${var.name_prefix}-lake-access"
  # Spelt out, not read from the trail: the bucket policy must exist before the trail does.
  trail_arn        = "arn:${local.partition}:cloudtrail:${local.region}:${local.account_id}:trail/${local.trail_name}"
  trail_log_prefix = "cloudtrail"
}

resource "aws_cloudtrail" "lake" {
  #checkov:skip=CKV_AWS_252:No one consumes per-file delivery notifications; the files are read from S3 (Athena) when an audit needs them.
  #checkov:skip=CKV2_AWS_10:The trail is audited from its files in S3; no CloudWatch metric filter reads it, so a log group would only duplicate it.
  name                          = local.trail_name
  s3_bucket_name                = aws_s3_bucket.logs.id
  s3_key_prefix                 = local.trail_log_prefix
  kms_key_id                    = aws_kms_key.lake.arn
  enable_log_file_validation    = true
  is_multi_region_trail         = true
  include_global_service_events = true

  advanced_event_selector {
    name = "Management events"
    field_selector {
      field  = "eventCategory"
      equals = ["Management"]
    }
  }

  advanced_event_selector {
    name = "Objects of the lake bucket"
    field_selector {
      field  = "eventCategory"
      equals = ["Data"]
    }
    field_selector {
      field  = "resources.type"
      equals = ["AWS::S3::Object"]
    }
    field_selector {
      field       = "resources.ARN"
      starts_with = ["${aws_s3_bucket.lake.arn}/"]
    }
  }

  depends_on = [aws_s3_bucket_policy.logs]
}
