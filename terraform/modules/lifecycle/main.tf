# A bucket's lifecycle made of rules shaped as local.lake_lifecycle_rules (storage.tf). HCL shares
# a block body only through a module: the lake bucket (storage.tf) and its replica (dr.tf) both
# call this one, so the replica expires what the lake expires, the same way.

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  bucket = var.bucket

  dynamic "rule" {
    for_each = var.rules
    content {
      id     = rule.value.id
      status = "Enabled"
      # The provider wants a filter in every rule: a null prefix leaves it empty (whole bucket).
      filter {
        prefix = rule.value.prefix
      }
      dynamic "abort_incomplete_multipart_upload" {
        for_each = rule.value.abort_incomplete_multipart_upload_days == null ? [] : [rule.value.abort_incomplete_multipart_upload_days]
        content {
          days_after_initiation = abort_incomplete_multipart_upload.value
        }
      }
      dynamic "noncurrent_version_expiration" {
        for_each = rule.value.noncurrent_version_expiration_days == null ? [] : [rule.value.noncurrent_version_expiration_days]
        content {
          noncurrent_days = noncurrent_version_expiration.value
        }
      }
      dynamic "expiration" {
        for_each = rule.value.expiration_days == null && rule.value.expired_object_delete_marker == null ? [] : [rule.value]
        content {
          days                         = expiration.value.expiration_days
          expired_object_delete_marker = expiration.value.expired_object_delete_marker
        }
      }
      dynamic "transition" {
        for_each = rule.value.transitions
        content {
          days          = transition.value.days
          storage_class = transition.value.storage_class
        }
      }
    }
  }
}
