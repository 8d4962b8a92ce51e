# The schema registry and the raw-file index: the aws profile's RegistryStore (DynamoDB).
# Keys mirror the SQLite store: (source_id, version) and (source_id, key).

resource "aws_dynamodb_table" "schema_registry" {
  name                        = var.registry_table_name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "source_id"
  range_key                   = "version"
  deletion_protection_enabled = true

  attribute {
    name = "source_id"
    type = "S"
  }

  attribute {
    name = "version"
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

resource "aws_dynamodb_table" "raw_file_index" {
  name                        = var.file_index_table_name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "source_id"
  range_key                   = "key"
  deletion_protection_enabled = true

  attribute {
    name = "source_id"
    type = "S"
  }

  attribute {
    name = "key"
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
