# Every DynamoDB table of the aws profile, one per store in resources/aws/. Keys mirror the
# SQLite stores; all are on demand, with point-in-time recovery, deletion protection and the
# lake's customer managed key, and, with dr_region, a replica in the recovery region (dr.tf).
#   schema_registry     (source_id, version)   resources/aws/dynamo_registry.py
#   raw_file_index      (source_id, key)       resources/aws/dynamo_registry.py
#   lineage             (run_id, state)        resources/aws/dynamo_lineage.py
#   events              (idempotency_key)      resources/aws/dynamo_events.py: the conditional
#                                              put on the key is the deduplication
#   event_state         (pk, sk)               resources/aws/dynamo_events.py
#   compaction_history  (dataset, entry)       resources/aws/dynamo_compaction.py: records keyed
#                                              "<started_at>#<partition>#<run_id>", and the
#                                              per-dataset lease (dataset, "lease")
#   access_audit        (decision_id)          resources/aws/dynamo_access_audit.py: one item per
#                                              access decision, appended with a conditional put

locals {
  dynamodb_tables = {
    schema_registry    = { name = var.registry_table_name, hash_key = "source_id", range_key = "version" }
    raw_file_index     = { name = var.file_index_table_name, hash_key = "source_id", range_key = "key" }
    lineage            = { name = var.lineage_table_name, hash_key = "run_id", range_key = "state" }
    events             = { name = var.events_table_name, hash_key = "idempotency_key", range_key = null }
    event_state        = { name = var.event_state_table_name, hash_key = "pk", range_key = "sk" }
    compaction_history = { name = var.compaction_history_table_name, hash_key = "dataset", range_key = "entry" }
    access_audit       = { name = var.access_audit_table_name, hash_key = "decision_id", range_key = null }
  }
}

resource "aws_dynamodb_table" "lake" {
  for_each = local.dynamodb_tables

  name                        = each.value.name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = each.value.hash_key
  range_key                   = each.value.range_key
  deletion_protection_enabled = true

  dynamic "attribute" {
    for_each = compact([each.value.hash_key, each.value.range_key])
    content {
      name = attribute.value
      type = "S"
    }
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.lake.arn
  }

  # With dr_region (dr.tf), each table has a replica there (a global table): DynamoDB replicates
  # every write through the table's stream, which replicas require with both images. Only the
  # lake's region writes; the replica is read by a recovery deployment, so the global tables'
  # last-writer-wins never meets two writers of one item (the conditional puts of the events'
  # deduplication, the compaction lease and the audit trail stay within one region).
  stream_enabled   = local.dr_enabled
  stream_view_type = local.dr_enabled ? "NEW_AND_OLD_IMAGES" : null

  dynamic "replica" {
    for_each = local.dr_enabled ? [var.dr_region] : []
    content {
      region_name            = replica.value
      kms_key_arn            = aws_kms_key.dr[0].arn
      point_in_time_recovery = true
      propagate_tags         = true
    }
  }
}

# The tables were one resource block each; these keep a deployed stack's tables in place.
moved {
  from = aws_dynamodb_table.schema_registry
  to   = aws_dynamodb_table.lake["schema_registry"]
}

moved {
  from = aws_dynamodb_table.raw_file_index
  to   = aws_dynamodb_table.lake["raw_file_index"]
}

moved {
  from = aws_dynamodb_table.lineage
  to   = aws_dynamodb_table.lake["lineage"]
}

moved {
  from = aws_dynamodb_table.events
  to   = aws_dynamodb_table.lake["events"]
}

moved {
  from = aws_dynamodb_table.event_state
  to   = aws_dynamodb_table.lake["event_state"]
}

moved {
  from = aws_dynamodb_table.compaction_history
  to   = aws_dynamodb_table.lake["compaction_history"]
}
