# The provider is the caller's (the root's aws, or aws.dr for the replica): its default_tags and
# the root's version constraint (terraform/versions.tf) hold here, so none is repeated.

terraform {
  required_providers {
    aws = {
      source = "hashicorp/aws"
    }
  }
}
