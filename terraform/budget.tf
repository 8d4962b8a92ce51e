# What the lake costs, watched where AWS bills it (seed 003's budget alerts; ADR-0140): a
# monthly budget over the resources tagged project=lakehouse, and Cost Anomaly Detection on the
# same tag, both alerting through the lake's alert topic. The ledger (issue 16) says who caused a
# cost, a month at a time; these say within hours that spend is running away.
#
# Both read the `project` cost allocation tag, which the payer account activates once it has
# seen the tag on a bill (Billing > Cost allocation tags; docs/deploy.md): AWS refuses to
# activate a tag it has not billed yet, so a first apply could not do it.

# The lake's budget over the `project` tag, and a budget per team that asks for one
# (team_monthly_budgets_usd) over the `team` tag, which the lake's resources and runs carry
# (config/cost/tagging.yaml): a team hears within hours that its pipelines are running away,
# where the monthly ledger would say so at the month's end. `team` is activated like `project`
# (docs/deploy.md).
locals {
  budgets = merge(
    { monthly = { usd = var.monthly_budget_usd, tag = format(local.budget_tag, "project", local.provider_tags.project) } },
    {
      for team, usd in var.team_monthly_budgets_usd :
      "team-${team}-monthly" => { usd = usd, tag = format(local.budget_tag, "team", team) }
    },
  )
  # A budget's TagKeyValue filter, `user:<key>$<value>`: made with format, since "$${" in an HCL
  # string is an escaped "${", which would leave the reference unevaluated.
  budget_tag = "user:%s$%s"
  # When each alerts: spent 80% of the month's budget; on course to spend all of it.
  budget_alerts = [
    { threshold = 80, type = "ACTUAL" },
    { threshold = 100, type = "FORECASTED" },
  ]
}

resource "aws_budgets_budget" "lake" {
  for_each     = local.budgets
  name         = "${var.name_prefix}-${var.environment}-${each.key}"
  budget_type  = "COST"
  limit_amount = format("%.2f", each.value.usd)
  limit_unit   = "USD"
  time_unit    = "MONTHLY"

  cost_filter {
    name   = "TagKeyValue"
    values = [each.value.tag]
  }

  dynamic "notification" {
    for_each = local.budget_alerts
    content {
      comparison_operator       = "GREATER_THAN"
      threshold                 = notification.value.threshold
      threshold_type            = "PERCENTAGE"
      notification_type         = notification.value.type
      subscriber_sns_topic_arns = [aws_sns_topic.schema_drift_alerts.arn]
    }
  }
}

# The lake's budget was the resource itself before the teams' joined it.
moved {
  from = aws_budgets_budget.lake
  to   = aws_budgets_budget.lake["monthly"]
}

# Cost Explorer lives in us-east-1, whatever the lake's region (the billing provider).
resource "aws_ce_anomaly_monitor" "lake" {
  provider     = aws.billing
  name         = "${var.name_prefix}-${var.environment}-lake"
  monitor_type = "CUSTOM"

  monitor_specification = jsonencode({
    Tags = {
      Key          = "project"
      Values       = [local.provider_tags.project]
      MatchOptions = ["EQUALS"]
    }
  })
}

resource "aws_ce_anomaly_subscription" "lake" {
  provider         = aws.billing
  name             = "${var.name_prefix}-${var.environment}-lake"
  frequency        = "IMMEDIATE" # the only frequency an SNS subscriber may have
  monitor_arn_list = [aws_ce_anomaly_monitor.lake.arn]

  subscriber {
    type    = "SNS"
    address = aws_sns_topic.schema_drift_alerts.arn
  }

  threshold_expression {
    dimension {
      key           = "ANOMALY_TOTAL_IMPACT_ABSOLUTE"
      match_options = ["GREATER_THAN_OR_EQUAL"]
      values        = [format("%.2f", var.cost_anomaly_alert_usd)]
    }
  }
}
