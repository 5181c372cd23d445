"""CloudWatch Logs: the log groups the account has, to keep only ones that exist.

A function logs to `/aws/lambda/<name>` unless configured otherwise, an AgentCore runtime
to `/aws/bedrock-agentcore/runtimes/<id>-<endpoint>`; the catalog lists a group only when
the account has it, so the log source of an investigation never reads a group in vain.
"""

from __future__ import annotations

from tools.aws import AwsClients
from tools.discovery.base import Notes, Progress, attempt


def read_log_groups(aws: AwsClients, notes: Notes, progress: Progress) -> list[str] | None:
    """Every log group name of the region; None when they cannot be listed."""

    def read() -> list[str] | None:
        client = aws.client("logs")
        names: list[str] = []
        for page in client.get_paginator("describe_log_groups").paginate():
            names += [g["logGroupName"] for g in page.get("logGroups", []) if g.get("logGroupName")]
            progress(f"log groups: {len(names)}")
        return names

    return attempt(notes, "logs:DescribeLogGroups", read, None, progress)
