# The bill the lake ingests (issue 16, ADR-0104's CUR source): a CUR 2.0 export of AWS Data
# Exports, hourly, with resource ids and split cost allocation, delivered as Parquet into the
# lake bucket at exports/lake-cur/ (<S3 prefix>/<export name>/, the prefix the cost/cur asset
# lands deliveries from: lake_assets/tables/locations.py CUR_EXPORT_PREFIX). Each delivery
# overwrites the month's files; the asset copies each new one into raw/ before anything reads
# it. The query selects exactly the columns the CUR source reads (lake_assets/cost/model.py
# CUR_COLUMNS and OPTIONAL_CUR_COLUMNS; tests/test_terraform.py holds the two together).

locals {
  cur_export_name = "lake-cur"
  # The ARNs of this account's exports (Data Exports names them export/<name>-<id>), as AWS's
  # bucket policy for an export names them.
  cur_export_arn_pattern = "arn:${local.partition}:bcm-data-exports:us-east-1:${local.account_id}:export/*"
  cur_columns = [
    "identity_line_item_id",
    "bill_billing_period_start_date",
    "line_item_usage_start_date",
    "line_item_usage_end_date",
    "line_item_line_item_type",
    "line_item_product_code",
    "line_item_resource_id",
    "line_item_usage_type",
    "line_item_operation",
    "line_item_usage_amount",
    "line_item_unblended_cost",
    "line_item_net_unblended_cost",
    "resource_tags",
    "split_line_item_split_cost",
    "split_line_item_unused_cost",
    "split_line_item_parent_resource_id",
  ]
}

resource "aws_bcmdataexports_export" "cur" {
  provider = aws.billing

  export {
    name        = local.cur_export_name
    description = "${var.name_prefix}: the CUR 2.0 line items the lake attributes to teams, pipelines and datasets"

    data_query {
      query_statement = "SELECT ${join(", ", local.cur_columns)} FROM COST_AND_USAGE_REPORT"
      table_configurations = {
        COST_AND_USAGE_REPORT = {
          # AWS sets the account's primary billing view when none is given, and the provider
          # then reports an inconsistent result on apply: named here as AWS would set it.
          BILLING_VIEW_ARN                      = "arn:${local.partition}:billing::${local.account_id}:billingview/primary"
          TIME_GRANULARITY                      = "HOURLY"
          INCLUDE_RESOURCES                     = "TRUE"
          INCLUDE_SPLIT_COST_ALLOCATION_DATA    = "TRUE"
          INCLUDE_MANUAL_DISCOUNT_COMPATIBILITY = "FALSE"
        }
      }
    }

    destination_configurations {
      s3_destination {
        s3_bucket = aws_s3_bucket.lake.bucket
        s3_prefix = "exports"
        s3_region = local.region
        s3_output_configurations {
          overwrite   = "OVERWRITE_REPORT"
          format      = "PARQUET"
          compression = "PARQUET"
          output_type = "CUSTOM"
        }
      }
    }

    refresh_cadence {
      frequency = "SYNCHRONOUS"
    }
  }

  # Data Exports checks the bucket policy when the export is created.
  depends_on = [aws_s3_bucket_policy.lake]
}
