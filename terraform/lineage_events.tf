# Lineage runs (resources/lineage_store.py) and data-ready events with the dependency
# sensor's state (resources/event_store.py). Keys mirror the SQLite stores.

resource "aws_dynamodb_table" "lineage" {
  name                        = var.lineage_table_name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "run_id"
  range_key                   = "state"
  deletion_protection_enabled = true

  attribute {
    name = "run_id"
    type = "S"
  }

  attribute {
    name = "state"
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

# One item per idempotency key: the conditional put is the deduplication.
resource "aws_dynamodb_table" "events" {
  name                        = var.events_table_name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "idempotency_key"
  deletion_protection_enabled = true

  attribute {
    name = "idempotency_key"
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

resource "aws_dynamodb_table" "event_state" {
  name                        = var.event_state_table_name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "pk"
  range_key                   = "sk"
  deletion_protection_enabled = true

  attribute {
    name = "pk"
    type = "S"
  }

  attribute {
    name = "sk"
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
