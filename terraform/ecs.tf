# Dagster in AWS: one code location image (deploy/dagster/Dockerfile) run three ways on ECS
# Fargate, in the bank's private subnets:
#   - the webserver service (behind the load balancer of web.tf);
#   - the daemon service (schedules, sensors, the run queue, run monitoring);
#   - a run task per Dagster run, which the daemon's EcsRunLauncher starts from the "run" task
#     definition (dagster.yaml's run_launcher, rendered from the dagster_instance output).
# Dagster's own state is in PostgreSQL (database.tf); its logs in CloudWatch Logs.

locals {
  dagster_name       = "${var.name_prefix}-dagster"
  dagster_image      = "${aws_ecr_repository.dagster.repository_url}:${var.dagster_image_tag}"
  dagster_home       = "/opt/dagster/home"
  dagster_containers = ["webserver", "daemon", "run"]

  # The aws profile's environment (outputs.tf) and where Dagster finds its instance.
  dagster_environment = [
    for name, value in merge(local.lake_env, { DAGSTER_HOME = local.dagster_home }) :
    { name = name, value = value }
  ]
  # The database's credentials, from the secret RDS manages (database.tf); ECS reads them with
  # the task execution role when the task starts, so they are in no task definition or image.
  dagster_db_secrets = [
    { name = "DAGSTER_PG_USERNAME", valueFrom = "${aws_db_instance.dagster.master_user_secret[0].secret_arn}:username::" },
    { name = "DAGSTER_PG_PASSWORD", valueFrom = "${aws_db_instance.dagster.master_user_secret[0].secret_arn}:password::" },
  ]
  dagster_run_family = "${local.dagster_name}-run"
}

# ---------------------------------------------------------------------------------------------
# The image: immutable tags, scanned on push, encrypted with the lake key
# ---------------------------------------------------------------------------------------------

resource "aws_ecr_repository" "dagster" {
  name                 = "${var.name_prefix}/dagster"
  image_tag_mutability = "IMMUTABLE"

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = aws_kms_key.lake.arn
  }
}

# ---------------------------------------------------------------------------------------------
# Logs: one group per container, encrypted with the lake key (its policy admits CloudWatch Logs
# for these groups only, storage.tf)
# ---------------------------------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "dagster" {
  for_each          = toset(local.dagster_containers)
  name              = "/${var.name_prefix}/dagster/${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.lake.arn
}

# ---------------------------------------------------------------------------------------------
# The cluster and the tasks' network
# ---------------------------------------------------------------------------------------------

resource "aws_ecs_cluster" "dagster" {
  name = local.dagster_name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

resource "aws_ecs_cluster_capacity_providers" "dagster" {
  cluster_name       = aws_ecs_cluster.dagster.name
  capacity_providers = ["FARGATE"]

  default_capacity_provider_strategy {
    capacity_provider = "FARGATE"
    weight            = 1
  }
}

# Every Dagster task (webserver, daemon, runs) shares this group: the database admits it, the
# load balancer reaches the webserver through it.
resource "aws_security_group" "dagster_tasks" {
  name        = "${local.dagster_name}-tasks"
  description = "Dagster webserver, daemon and run tasks"
  vpc_id      = var.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "webserver_from_load_balancer" {
  security_group_id            = aws_security_group.dagster_tasks.id
  description                  = "The load balancer reaches the webserver"
  referenced_security_group_id = aws_security_group.load_balancer.id
  ip_protocol                  = "tcp"
  from_port                    = 3000
  to_port                      = 3000
}

resource "aws_vpc_security_group_egress_rule" "tasks_to_database" {
  security_group_id            = aws_security_group.dagster_tasks.id
  description                  = "Dagster's storage in PostgreSQL"
  referenced_security_group_id = aws_security_group.database.id
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
}

# AWS APIs (S3, DynamoDB, Glue, SQS, SNS, EMR Serverless, ECS, ECR, Secrets Manager, Logs) over
# HTTPS, through the VPC's NAT gateway or endpoints; nothing else leaves the tasks.
resource "aws_vpc_security_group_egress_rule" "tasks_to_aws_apis" {
  security_group_id = aws_security_group.dagster_tasks.id
  description       = "HTTPS to AWS APIs"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

# ---------------------------------------------------------------------------------------------
# Task definitions: one image, three commands
# ---------------------------------------------------------------------------------------------

locals {
  # What each container adds to the shared definition: the webserver serves the UI on 3000 and
  # is healthy when /server_info answers; the daemon runs the daemons; the run launcher sets each
  # run's command itself (dagster api execute_run ...).
  dagster_container_settings = {
    webserver = {
      command      = ["dagster-webserver", "-w", "workspace.yaml", "-h", "0.0.0.0", "-p", "3000"]
      portMappings = [{ containerPort = 3000, protocol = "tcp" }]
      healthCheck = {
        command     = ["CMD-SHELL", "python -c \"import urllib.request; urllib.request.urlopen('http://localhost:3000/server_info')\""]
        interval    = 30
        timeout     = 5
        retries     = 3
        startPeriod = 120
      }
    }
    daemon = {
      command = ["dagster-daemon", "run"]
    }
    run = {}
  }
  dagster_task_roles = {
    webserver = aws_iam_role.dagster_webserver.arn
    daemon    = aws_iam_role.dagster_daemon.arn
    # A run does the lake's work: the orchestrator's grants (iam.tf), nothing of ECS.
    run = aws_iam_role.orchestrator.arn
  }
  dagster_families = {
    webserver = "${local.dagster_name}-webserver"
    daemon    = "${local.dagster_name}-daemon"
    run       = local.dagster_run_family
  }
}

resource "aws_ecs_task_definition" "dagster" {
  for_each                 = local.dagster_families
  family                   = each.value
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.dagster_task_sizes[each.key].cpu
  memory                   = var.dagster_task_sizes[each.key].memory
  execution_role_arn       = aws_iam_role.dagster_task_execution.arn
  task_role_arn            = local.dagster_task_roles[each.key]

  # A new image is a new revision; the old one stays active, so a daemon that resolved the run
  # family before the apply still launches until its own replacement starts.
  skip_destroy = true

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  container_definitions = jsonencode([
    merge(
      {
        # The run launcher names the container it overrides: "run" (dagster.yaml's container_name).
        name                   = each.key
        image                  = local.dagster_image
        essential              = true
        environment            = local.dagster_environment
        secrets                = local.dagster_db_secrets
        readonlyRootFilesystem = false # Dagster writes its compute logs' staging and the code server's socket under DAGSTER_HOME
        logConfiguration = {
          logDriver = "awslogs"
          options = {
            awslogs-group         = aws_cloudwatch_log_group.dagster[each.key].name
            awslogs-region        = local.region
            awslogs-stream-prefix = each.key
          }
        }
      },
      local.dagster_container_settings[each.key],
    )
  ])
}

# ---------------------------------------------------------------------------------------------
# Services: one webserver, exactly one daemon (Dagster allows one per instance)
# ---------------------------------------------------------------------------------------------

resource "aws_ecs_service" "webserver" {
  name                   = "${local.dagster_name}-webserver"
  cluster                = aws_ecs_cluster.dagster.id
  task_definition        = aws_ecs_task_definition.dagster["webserver"].arn
  desired_count          = 1
  launch_type            = "FARGATE"
  platform_version       = "LATEST"
  propagate_tags         = "SERVICE"
  enable_execute_command = false

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.dagster_tasks.id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.webserver.arn
    container_name   = "webserver"
    container_port   = 3000
  }

  health_check_grace_period_seconds = 180

  depends_on = [aws_lb_listener.https]
}

resource "aws_ecs_service" "daemon" {
  name                   = "${local.dagster_name}-daemon"
  cluster                = aws_ecs_cluster.dagster.id
  task_definition        = aws_ecs_task_definition.dagster["daemon"].arn
  desired_count          = 1
  launch_type            = "FARGATE"
  platform_version       = "LATEST"
  propagate_tags         = "SERVICE"
  enable_execute_command = false

  # Two daemons at once would both launch the queued runs: stop the old one first.
  deployment_minimum_healthy_percent = 0
  deployment_maximum_percent         = 100

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.dagster_tasks.id]
    assign_public_ip = false
  }
}
