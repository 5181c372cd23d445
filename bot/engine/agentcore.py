"""Bedrock AgentCore Runtime: which alarms, series and log groups are a service's runtimes'.

AgentCore publishes its runtime metrics (Invocations, Throttles, SystemErrors, UserErrors,
Latency, SessionCount, CPU and memory use) in the `AWS/Bedrock-AgentCore` namespace with
the dimensions `Resource` (the runtime's ARN, `...:runtime/<runtime id>`), `Operation`
and `Name` (`<runtime>::<endpoint>`), and writes the agent's own output to
`/aws/bedrock-agentcore/runtimes/<runtime id>-<endpoint>` (`-DEFAULT` for the default
endpoint). Its `Throttles` count AgentCore's own refusals (TPS and session quotas), not
Bedrock's: they say the runtime is saturated, not that the model throttles.
"""

from __future__ import annotations

from tools.aws import AwsClients
from tools.metric_discovery import MetricLookup

NAMESPACE = "AWS/Bedrock-AgentCore"
LOG_PREFIX = "/aws/bedrock-agentcore/runtimes/"


def runtime_name(runtime_id: str) -> str:
    """`support_agent-Xy12AbCd34` -> `support_agent`: the name AgentCore adds an id to."""
    head, _, tail = runtime_id.rpartition("-")
    return head if head and len(tail) >= 8 else runtime_id


def names_runtime(dimensions: dict[str, str], runtimes: list[str]) -> bool:
    """Whether a `Resource` or `Name` dimension names one of these runtime ids."""
    values = [dimensions.get("Resource", ""), dimensions.get("Name", "")]
    for runtime in runtimes:
        if any(runtime in value for value in values if value):
            return True
        name = dimensions.get("Name", "").split("::", 1)[0]
        if name and name == runtime_name(runtime):
            return True
    return False


def runtime_lookups(runtimes: list[str]) -> list[MetricLookup]:
    """The filtered ListMetrics calls that find these runtimes' series (their `Resource`
    ARN ends with the runtime id) and the account's aggregates (a `Service` dimension, no
    `Resource`): a session quota is the account's, so the account's active sessions say
    whether a runtime was refused for want of room."""
    if not runtimes:
        return []
    found = [MetricLookup(NAMESPACE, "Resource", None, runtime) for runtime in runtimes]
    return [*found, MetricLookup(NAMESPACE, "Service", None)]


def runtime_log_groups(aws: AwsClients, runtimes: list[str]) -> list[str]:
    """Each runtime's log groups, one per endpoint (DescribeLogGroups by prefix)."""
    groups: list[str] = []
    client = aws.client("logs")
    for runtime in runtimes:
        answer = client.describe_log_groups(logGroupNamePrefix=f"{LOG_PREFIX}{runtime}-", limit=10)
        groups += [g["logGroupName"] for g in answer.get("logGroups", [])]
    return groups
