# The Dagster webserver behind an Application Load Balancer: HTTPS only (HTTP redirects), a
# modern TLS policy, and nobody reaches Dagster before signing in to the Cognito user pool
# (the ADR on the webserver's sign-in). Access logs go to the access-log bucket.

locals {
  webserver_host        = coalesce(var.domain_name, aws_lb.dagster.dns_name)
  cognito_domain_prefix = coalesce(var.cognito_domain_prefix, "${local.dagster_name}-${local.account_id}")
  alb_log_prefix        = "alb/${local.dagster_name}"
}

resource "aws_security_group" "load_balancer" {
  name        = "${local.dagster_name}-alb"
  description = "Dagster webserver load balancer: HTTPS (and the redirect from HTTP) from the bank's networks"
  vpc_id      = var.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "load_balancer" {
  for_each          = { for pair in setproduct(var.webserver_ingress_cidrs, [80, 443]) : "${pair[0]}:${pair[1]}" => pair }
  security_group_id = aws_security_group.load_balancer.id
  description       = each.value[1] == 443 ? "HTTPS from ${each.value[0]}" : "HTTP (redirected to HTTPS) from ${each.value[0]}"
  cidr_ipv4         = each.value[0]
  ip_protocol       = "tcp"
  from_port         = each.value[1]
  to_port           = each.value[1]
}

resource "aws_vpc_security_group_egress_rule" "load_balancer_to_webserver" {
  security_group_id            = aws_security_group.load_balancer.id
  description                  = "To the webserver tasks"
  referenced_security_group_id = aws_security_group.dagster_tasks.id
  ip_protocol                  = "tcp"
  from_port                    = 3000
  to_port                      = 3000
}

# authenticate-cognito calls the user pool's token endpoint from the load balancer.
resource "aws_vpc_security_group_egress_rule" "load_balancer_to_cognito" {
  security_group_id = aws_security_group.load_balancer.id
  description       = "HTTPS to the Cognito token endpoint"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_lb" "dagster" {
  #checkov:skip=CKV2_AWS_28:The bank's WAF (AWS Firewall Manager policy) is associated centrally; every request is authenticated by Cognito before it reaches Dagster, and the load balancer admits only webserver_ingress_cidrs.
  name                       = "${local.dagster_name}-web"
  load_balancer_type         = "application"
  internal                   = var.load_balancer_internal
  subnets                    = var.load_balancer_subnet_ids
  security_groups            = [aws_security_group.load_balancer.id]
  drop_invalid_header_fields = true
  enable_deletion_protection = var.deletion_protection
  desync_mitigation_mode     = "strictest"

  access_logs {
    bucket  = aws_s3_bucket.logs.id
    prefix  = local.alb_log_prefix
    enabled = true
  }

  depends_on = [aws_s3_bucket_policy.logs]
}

resource "aws_lb_target_group" "webserver" {
  name                 = "${local.dagster_name}-web"
  port                 = 3000
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = var.vpc_id
  deregistration_delay = 30

  health_check {
    path                = "/server_info"
    matcher             = "200"
    interval            = 30
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }
}

resource "aws_lb_listener" "http_redirect" {
  load_balancer_arn = aws_lb.dagster.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type = "redirect"
    redirect {
      port        = "443"
      protocol    = "HTTPS"
      status_code = "HTTP_301"
    }
  }
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.dagster.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.certificate_arn

  default_action {
    type  = "authenticate-cognito"
    order = 1
    authenticate_cognito {
      user_pool_arn              = aws_cognito_user_pool.dagster.arn
      user_pool_client_id        = aws_cognito_user_pool_client.dagster.id
      user_pool_domain           = aws_cognito_user_pool_domain.dagster.domain
      on_unauthenticated_request = "authenticate"
      session_timeout            = 28800 # a working day
    }
  }

  default_action {
    type             = "forward"
    order            = 2
    target_group_arn = aws_lb_target_group.webserver.arn
  }
}

# ---------------------------------------------------------------------------------------------
# Sign-in: a Cognito user pool of the platform's operators (admins create the users; no
# self-service sign-up), MFA required. The bank's IdP can be federated into this pool (SAML or
# OIDC identity provider) without touching the listener.
# ---------------------------------------------------------------------------------------------

resource "aws_cognito_user_pool" "dagster" {
  name                     = "${local.dagster_name}-users"
  deletion_protection      = var.deletion_protection ? "ACTIVE" : "INACTIVE"
  mfa_configuration        = "ON"
  username_attributes      = ["email"]
  auto_verified_attributes = ["email"]

  admin_create_user_config {
    allow_admin_create_user_only = true
  }

  software_token_mfa_configuration {
    enabled = true
  }

  password_policy {
    minimum_length                   = 14
    require_lowercase                = true
    require_uppercase                = true
    require_numbers                  = true
    require_symbols                  = true
    temporary_password_validity_days = 3
  }

  account_recovery_setting {
    recovery_mechanism {
      name     = "verified_email"
      priority = 1
    }
  }
}

resource "aws_cognito_user_pool_domain" "dagster" {
  domain       = local.cognito_domain_prefix
  user_pool_id = aws_cognito_user_pool.dagster.id
}

# The load balancer is this client: Cognito generates its secret, which passes from this
# resource to the listener and is in no variable or file of this repository.
resource "aws_cognito_user_pool_client" "dagster" {
  name                                 = "${local.dagster_name}-alb"
  user_pool_id                         = aws_cognito_user_pool.dagster.id
  generate_secret                      = true
  allowed_oauth_flows_user_pool_client = true
  allowed_oauth_flows                  = ["code"]
  allowed_oauth_scopes                 = ["openid", "email"]
  supported_identity_providers         = ["COGNITO"]
  callback_urls                        = ["https://${local.webserver_host}/oauth2/idpresponse"]
  prevent_user_existence_errors        = "ENABLED"
  enable_token_revocation              = true
  access_token_validity                = 60
  id_token_validity                    = 60
  refresh_token_validity               = 1

  token_validity_units {
    access_token  = "minutes"
    id_token      = "minutes"
    refresh_token = "days"
  }
}
