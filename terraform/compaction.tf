# Compaction history and the per-dataset compaction lease (resources/compaction_history.py).
# Records are keyed (dataset, "<started_at>#<partition>#<run_id>"); the lease is the item
# (dataset, "lease"), taken with a conditional write that expires.

resource "aws_dynamodb_table" "compaction_history" {
  name                        = var.compaction_history_table_name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "dataset"
  range_key                   = "entry"
  deletion_protection_enabled = true

  attribute {
    name = "dataset"
    type = "S"
  }

  attribute {
    name = "entry"
    type = "S"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.lake.arn
  }
}
