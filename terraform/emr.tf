# The EMR Serverless Spark application that runs the lake's Spark jobs, and the job runtime image
# it runs them in (ADR-0043). Job logs use EMR Serverless managed persistence (on by default,
# encrypted, kept 30 days); the execution role therefore needs no CloudWatch Logs or log-bucket
# permissions.

resource "aws_emrserverless_application" "spark" {
  name          = "${var.name_prefix}-promotion"
  release_label = var.emr_release_label
  type          = "spark"
  architecture  = var.emr_architecture

  # Python 3.11 and the job code's native wheels (deploy/emr/Dockerfile); the job code itself is
  # uploaded by `lake deploy` to the lake bucket's _code/ prefix.
  image_configuration {
    image_uri = "${aws_ecr_repository.job_runtime.repository_url}:${var.emr_runtime_image_tag}"
  }

  auto_start_configuration {
    enabled = true
  }

  auto_stop_configuration {
    enabled              = true
    idle_timeout_minutes = var.emr_idle_timeout_minutes
  }

  maximum_capacity {
    cpu    = var.emr_max_capacity.cpu
    memory = var.emr_max_capacity.memory
    disk   = var.emr_max_capacity.disk
  }

  # EMR Serverless checks that it may pull the image when the application is created or updated.
  depends_on = [aws_ecr_repository_policy.job_runtime]
}

# ---------------------------------------------------------------------------------------------
# The job runtime image: built from deploy/emr/ and pushed under a tag that hashes that folder
# (`lake deploy` prints it), so tags are immutable and one tag always names one image.
# ---------------------------------------------------------------------------------------------

resource "aws_ecr_repository" "job_runtime" {
  name                 = "${var.name_prefix}/emr-job-runtime"
  image_tag_mutability = "IMMUTABLE"

  image_scanning_configuration {
    scan_on_push = true
  }

  # ECR decrypts through a grant it creates on the key for this repository: pulling needs no
  # KMS permission of the puller.
  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = aws_kms_key.lake.arn
  }
}

# Repository policies take no Resource element: the statement applies to this repository. The
# application's own ARN cannot be named here (the application depends on this policy), so the
# condition admits the EMR Serverless applications of this account and region.
data "aws_iam_policy_document" "job_runtime_pull" {
  statement {
    sid    = "EmrServerlessPullsJobRuntime"
    effect = "Allow"
    principals {
      type        = "Service"
      identifiers = ["emr-serverless.amazonaws.com"]
    }
    actions = [
      "ecr:BatchGetImage",
      "ecr:DescribeImages",
      "ecr:GetDownloadUrlForLayer",
    ]
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:emr-serverless:${local.region}:${local.account_id}:/applications/*"]
    }
  }
}

resource "aws_ecr_repository_policy" "job_runtime" {
  repository = aws_ecr_repository.job_runtime.name
  policy     = data.aws_iam_policy_document.job_runtime_pull.json
}
