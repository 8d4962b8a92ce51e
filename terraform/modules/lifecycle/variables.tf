variable "bucket" {
  description = "The bucket the rules apply to (its id)."
  type        = string
}

variable "rules" {
  description = "The lifecycle rules in S3's order, shaped as local.lake_lifecycle_rules (storage.tf): a null prefix is the whole bucket, a null action is one the rule does not take."
  type = list(object({
    id                                     = string
    prefix                                 = string
    abort_incomplete_multipart_upload_days = number
    expiration_days                        = number
    expired_object_delete_marker           = bool
    noncurrent_version_expiration_days     = number
    transitions = list(object({
      days          = number
      storage_class = string
    }))
  }))
}
