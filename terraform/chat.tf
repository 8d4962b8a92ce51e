# Alerts in Slack through AWS Chatbot (ADR-0151): the channel subscribes to the lake's alert
# topic, so CloudWatch's alarms arrive as Chatbot renders them, and the lake's own alerts (schema
# breaks, dead letters, SLO burns, ...) as the custom notifications resources/aws/sns.py sends to
# HTTPS subscribers. No webhook URL to keep secret and no code in the lake that calls Slack.
# The Slack workspace is authorised once in the Chatbot console (that gives slack_team_id);
# created when both IDs are set.

variable "slack_team_id" {
  description = "The Slack workspace authorised with AWS Chatbot (e.g. T07EA123LEP); null: no Slack."
  type        = string
  default     = null
}

variable "slack_channel_id" {
  description = "The Slack channel the lake's alerts go to (e.g. C07EZ1ABC23)."
  type        = string
  default     = null
}

locals {
  slack_alerts = var.slack_team_id != null && var.slack_channel_id != null
}

data "aws_iam_policy_document" "chatbot_trust" {
  statement {
    sid     = "AwsChatbot"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["chatbot.amazonaws.com"]
    }
  }
}

# The channel's role has no policy: the channel receives notifications and runs no command.
resource "aws_iam_role" "chatbot" {
  count                = local.slack_alerts ? 1 : 0
  name                 = "${var.name_prefix}-alerts-chat"
  description          = "AWS Chatbot's role for the lake's Slack alert channel: notifications only."
  assume_role_policy   = data.aws_iam_policy_document.chatbot_trust.json
  max_session_duration = 3600
}

resource "aws_chatbot_slack_channel_configuration" "alerts" {
  count              = local.slack_alerts ? 1 : 0
  configuration_name = "${var.name_prefix}-alerts"
  iam_role_arn       = aws_iam_role.chatbot[0].arn
  slack_team_id      = var.slack_team_id
  slack_channel_id   = var.slack_channel_id
  sns_topic_arns     = [aws_sns_topic.schema_drift_alerts.arn]
  # Without a guardrail Chatbot applies AdministratorAccess to what a channel member may run;
  # deny everything: the channel is for reading alerts.
  guardrail_policy_arns       = ["arn:${local.partition}:iam::aws:policy/AWSDenyAll"]
  user_authorization_required = true
  logging_level               = "ERROR"
}
