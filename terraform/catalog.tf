# The Glue Data Catalog database of the curated tables. Tables and partitions are created by
# the orchestrator when it publishes (the partition's location is the published folder).

resource "aws_glue_catalog_database" "curated" {
  name        = var.glue_database_name
  description = "Curated tables of the ${var.name_prefix} lake; partitions point at published folders."

  # Tables live under curated/ of the lake bucket.
  location_uri = "s3://${aws_s3_bucket.lake.bucket}/curated/"

  # Created once Lake Formation gives new databases no IAMAllowedPrincipals grant, which
  # definer views refuse (consumers.tf).
  depends_on = [aws_lakeformation_data_lake_settings.this]
}

# The masked views of access control (lake_assets/access/views.py), one per dataset and subject
# profile, named <dataset>__<profile>, which the view definer keeps in step with the policies
# (resources/aws/glue_views.py, consumers.tf). A database of their own: a consumer's role is
# granted its profile's views here and nothing of the curated database.
resource "aws_glue_catalog_database" "views" {
  name        = "${var.glue_database_name}_views"
  description = "Masked views of the ${var.name_prefix} lake's curated tables, one per dataset and subject profile."

  depends_on = [aws_lakeformation_data_lake_settings.this]
}

# Catalog metadata (table and partition definitions, which reveal column names of confidential
# data) encrypted with the lake key. This is one setting per account and region: switch it off
# with manage_glue_catalog_encryption where another stack owns it.
resource "aws_glue_data_catalog_encryption_settings" "this" {
  count      = var.manage_glue_catalog_encryption ? 1 : 0
  catalog_id = local.account_id

  data_catalog_encryption_settings {
    encryption_at_rest {
      catalog_encryption_mode = "SSE-KMS"
      sse_aws_kms_key_id      = aws_kms_key.lake.arn
    }

    connection_password_encryption {
      return_connection_password_encrypted = true
      aws_kms_key_id                       = aws_kms_key.lake.arn
    }
  }
}
