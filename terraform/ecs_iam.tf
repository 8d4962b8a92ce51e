# The Dagster tasks' roles (ecs.tf), each with only what its process calls:
#   - the task execution role: ECS itself pulls the image, writes the logs and reads the
#     database secret when it starts a task;
#   - the webserver: terminating a run from the UI (the EcsRunLauncher's terminate) and reading
#     the compute logs it shows;
#   - the daemon: the EcsRunLauncher's calls (derived from dagster-aws's code by
#     tests/test_terraform.py) and, because schedules and sensors run the lake's code in the
#     daemon, the orchestrator's grants: the same policy document as the orchestrator role, so
#     the two never drift apart;
#   - a run: the orchestrator role itself (iam.tf), which trusts ecs-tasks.amazonaws.com.
# Two ECS calls authorise no resource (Service Authorization Reference: no resource type):
# ecr:GetAuthorizationToken and ecs:DescribeTaskDefinition; their statements name "*" and hold
# nothing else.

locals {
  ecs_task_arns          = "arn:${local.partition}:ecs:${local.region}:${local.account_id}:task/${aws_ecs_cluster.dagster.name}/*"
  dagster_compute_logs   = "_dagster/compute-logs/"
  dagster_run_revisions  = "${aws_ecs_task_definition.dagster["run"].arn_without_revision}:*"
  dagster_db_secret_arn  = aws_db_instance.dagster.master_user_secret[0].secret_arn
  ecs_tasks_service      = "ecs-tasks.amazonaws.com"
  ecs_tasks_of_this_acct = "arn:${local.partition}:ecs:${local.region}:${local.account_id}:*"
}

# ECS tasks of this account assume the Dagster roles (confused-deputy guard of the ECS docs).
data "aws_iam_policy_document" "ecs_tasks_trust" {
  statement {
    sid     = "EcsTasksOfThisAccount"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = [local.ecs_tasks_service]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = [local.ecs_tasks_of_this_acct]
    }
  }
}

# ---------------------------------------------------------------------------------------------
# Task execution role
# ---------------------------------------------------------------------------------------------

resource "aws_iam_role" "dagster_task_execution" {
  name                 = "${local.dagster_name}-task-execution"
  description          = "ECS starts the Dagster tasks: image pull, logs, the database secret."
  assume_role_policy   = data.aws_iam_policy_document.ecs_tasks_trust.json
  max_session_duration = 3600
}

data "aws_iam_policy_document" "dagster_task_execution" {
  statement {
    sid       = "EcrSignIn"
    effect    = "Allow"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  # ECR decrypts the KMS-encrypted layers through its own grant on the key.
  statement {
    sid    = "PullDagsterImage"
    effect = "Allow"
    actions = [
      "ecr:BatchGetImage",
      "ecr:GetDownloadUrlForLayer",
    ]
    resources = [aws_ecr_repository.dagster.arn]
  }

  statement {
    sid    = "WriteContainerLogs"
    effect = "Allow"
    actions = [
      "logs:CreateLogStream",
      "logs:PutLogEvents",
    ]
    resources = [
      "${aws_cloudwatch_log_group.dagster["webserver"].arn}:log-stream:*",
      "${aws_cloudwatch_log_group.dagster["daemon"].arn}:log-stream:*",
      "${aws_cloudwatch_log_group.dagster["run"].arn}:log-stream:*",
    ]
  }

  statement {
    sid       = "ReadDatabaseSecret"
    effect    = "Allow"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [local.dagster_db_secret_arn]
  }

  # The database secret is encrypted with the lake key (database.tf); Secrets Manager decrypts
  # it for this role, and only through Secrets Manager.
  statement {
    sid       = "DecryptDatabaseSecret"
    effect    = "Allow"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.lake.arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${local.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "dagster_task_execution" {
  name   = "dagster-task-execution"
  role   = aws_iam_role.dagster_task_execution.id
  policy = data.aws_iam_policy_document.dagster_task_execution.json
}

# ---------------------------------------------------------------------------------------------
# Webserver
# ---------------------------------------------------------------------------------------------

resource "aws_iam_role" "dagster_webserver" {
  name                 = "${local.dagster_name}-webserver"
  description          = "The Dagster webserver: stops a run's task, reads compute logs."
  assume_role_policy   = data.aws_iam_policy_document.ecs_tasks_trust.json
  max_session_duration = 3600
}

data "aws_iam_policy_document" "dagster_webserver" {
  # Loading the run launcher resolves the run task definition's family to its ARN.
  statement {
    sid       = "ResolveRunTaskDefinition"
    effect    = "Allow"
    actions   = ["ecs:DescribeTaskDefinition"]
    resources = ["*"]
  }

  # "Terminate" in the UI: the launcher looks the run's task up and stops it.
  statement {
    sid    = "TerminateRunTasks"
    effect = "Allow"
    actions = [
      "ecs:DescribeTasks",
      "ecs:StopTask",
    ]
    resources = [local.ecs_task_arns]
  }

  # The runs' stdout/stderr, which the runs upload (S3ComputeLogManager, dagster_instance
  # output); the webserver only reads them.
  statement {
    sid       = "ReadComputeLogs"
    effect    = "Allow"
    actions   = ["s3:GetObject"]
    resources = ["${local.lake_arn}/_dagster/compute-logs/*"]
  }

  statement {
    sid       = "ListComputeLogs"
    effect    = "Allow"
    actions   = ["s3:ListBucket"]
    resources = [local.lake_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["_dagster/compute-logs/*"]
    }
  }

  statement {
    sid       = "DecryptComputeLogs"
    effect    = "Allow"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.lake.arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${local.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "dagster_webserver" {
  name   = "dagster-webserver"
  role   = aws_iam_role.dagster_webserver.id
  policy = data.aws_iam_policy_document.dagster_webserver.json
}

# ---------------------------------------------------------------------------------------------
# Daemon: the run launcher's calls, and the lake's (schedules and sensors run the lake's code)
# ---------------------------------------------------------------------------------------------

resource "aws_iam_role" "dagster_daemon" {
  name                 = "${local.dagster_name}-daemon"
  description          = "The Dagster daemon: launches and monitors runs as ECS tasks; its sensors and schedules do the orchestrator's work."
  assume_role_policy   = data.aws_iam_policy_document.ecs_tasks_trust.json
  max_session_duration = 3600
}

data "aws_iam_policy_document" "dagster_run_launcher" {
  statement {
    sid       = "ResolveRunTaskDefinition"
    effect    = "Allow"
    actions   = ["ecs:DescribeTaskDefinition"]
    resources = ["*"]
  }

  # Runs start from the run task definition only, in the Dagster cluster only.
  statement {
    sid       = "StartRunTasks"
    effect    = "Allow"
    actions   = ["ecs:RunTask"]
    resources = [local.dagster_run_revisions]
    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = [aws_ecs_cluster.dagster.arn]
    }
  }

  # The launcher tags each task with its Dagster run; tagging on creation is authorised as
  # TagResource, and only on RunTask.
  statement {
    sid       = "TagRunTasksAtLaunch"
    effect    = "Allow"
    actions   = ["ecs:TagResource"]
    resources = [local.ecs_task_arns]
    condition {
      test     = "StringEquals"
      variable = "ecs:CreateAction"
      values   = ["RunTask"]
    }
  }

  # Run monitoring polls the run's task; termination stops it.
  statement {
    sid    = "MonitorAndStopRunTasks"
    effect = "Allow"
    actions = [
      "ecs:DescribeTasks",
      "ecs:StopTask",
    ]
    resources = [local.ecs_task_arns]
  }

  # A failed run's last log lines go into its failure message.
  statement {
    sid       = "ReadFailedRunLogs"
    effect    = "Allow"
    actions   = ["logs:GetLogEvents"]
    resources = ["${aws_cloudwatch_log_group.dagster["run"].arn}:log-stream:*"]
  }

  # RunTask hands the run task definition's roles to ECS.
  statement {
    sid     = "PassRunRoles"
    effect  = "Allow"
    actions = ["iam:PassRole"]
    resources = [
      aws_iam_role.orchestrator.arn,
      aws_iam_role.dagster_task_execution.arn,
    ]
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = [local.ecs_tasks_service]
    }
  }
}

resource "aws_iam_role_policy" "dagster_daemon_run_launcher" {
  name   = "dagster-run-launcher"
  role   = aws_iam_role.dagster_daemon.id
  policy = data.aws_iam_policy_document.dagster_run_launcher.json
}

# The orchestrator's own document (iam.tf), not a copy: what the lake's code may do is granted
# in one place, and a sensor in the daemon may do what a run may.
resource "aws_iam_role_policy" "dagster_daemon_lake" {
  name   = "orchestrator"
  role   = aws_iam_role.dagster_daemon.id
  policy = data.aws_iam_policy_document.orchestrator.json
}
