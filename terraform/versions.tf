# Provider and Terraform versions, and the tags every resource carries.

terraform {
  # 1.10: the S3 backend's own lock file (use_lockfile), no DynamoDB lock table.
  required_version = ">= 1.10.0"

  # State lives in the bucket terraform/bootstrap/ creates; which bucket and key is the
  # environment's (terraform init -backend-config=env/<env>.s3.tfbackend, docs/deploy.md).
  backend "s3" {}

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.80, < 6.0"
    }
  }
}

provider "aws" {
  region = var.region

  # Credentials come from the environment (profile, SSO or instance role), never from here.
  default_tags {
    tags = local.provider_tags
  }
}

# AWS Data Exports has one endpoint, in us-east-1: the lake's CUR export (cost.tf) is created
# there, whatever the lake's region; it delivers to the lake bucket in its own region.
provider "aws" {
  alias  = "billing"
  region = "us-east-1"

  default_tags {
    tags = local.provider_tags
  }
}

# The recovery region (dr.tf): the lake bucket's replica, the database's replicated backups and
# the DynamoDB tables' replicas are created there. Without dr_region nothing uses it, and it
# points at the lake's own region.
provider "aws" {
  alias  = "dr"
  region = coalesce(var.dr_region, var.region)

  default_tags {
    tags = local.provider_tags
  }
}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_region" "current" {}

locals {
  # Every taggable resource of both providers carries these, the modules' included: team,
  # pipeline and environment are the tags the bill is attributed by (config/cost/tagging.yaml);
  # a pipeline's module sets its own pipeline and team over them (pipelines/<name>/main.tf).
  provider_tags = merge(var.tags, {
    project             = "lakehouse"
    managed_by          = "terraform"
    data_classification = "confidential"
    team                = var.team
    pipeline            = var.pipeline
    environment         = var.environment
  })

  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name

  # Globally unique by default: bucket names are shared by every AWS account.
  lake_bucket_name = coalesce(var.lake_bucket_name, "${var.name_prefix}-lake-${local.account_id}-${local.region}")
  log_bucket_name  = coalesce(var.log_bucket_name, "${var.name_prefix}-access-logs-${local.account_id}-${local.region}")
}
