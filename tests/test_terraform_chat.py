"""Alerts in Slack through AWS Chatbot (terraform/chat.tf, ADR-0151), read from the HCL as the
other Terraform tests read it; what the channel receives is tested on the moto server
(tests/test_aws_messaging.py::test_sns_notifier_delivers_the_alert_to_a_subscribed_queue)."""

from __future__ import annotations

import pytest
from terraform_config import (
    one,
    policy_document,
    resources_of,
    statements_of,
    terraform_config,
    variables_of,
)


@pytest.fixture(scope="module")
def config() -> dict[str, list]:
    return terraform_config()


def test_the_slack_channel_reads_the_alert_topic_and_can_run_nothing(config):
    channel = one(list(resources_of(config, "aws_chatbot_slack_channel_configuration").values()))
    assert channel["count"] == "${local.slack_alerts ? 1 : 0}"
    assert channel["sns_topic_arns"] == ["${aws_sns_topic.schema_drift_alerts.arn}"]
    assert (channel["slack_team_id"], channel["slack_channel_id"]) == (
        "${var.slack_team_id}",
        "${var.slack_channel_id}",
    )
    # Chatbot's default guardrail is AdministratorAccess: denied, and each member's own role.
    assert channel["guardrail_policy_arns"] == ["arn:${local.partition}:iam::aws:policy/AWSDenyAll"]
    assert channel["user_authorization_required"] is True

    role = resources_of(config, "aws_iam_role")["chatbot"]
    assert role["assume_role_policy"] == "${data.aws_iam_policy_document.chatbot_trust.json}"
    [trust] = statements_of(policy_document(config, "chatbot_trust"))
    assert trust["principals"] == [{"type": "Service", "identifiers": ["chatbot.amazonaws.com"]}]
    attached = [
        policy
        for kind in ("aws_iam_role_policy", "aws_iam_role_policy_attachment")
        for policy in resources_of(config, kind).values()
        if "aws_iam_role.chatbot" in str(policy.get("role", ""))
    ]
    assert attached == []  # notifications only

    variables = variables_of(config)
    assert variables["slack_team_id"]["default"] is None
    assert variables["slack_channel_id"]["default"] is None
