"""Bedrock AgentCore Runtime names as AWS writes them, for scenarios (format 1.1).

AgentCore publishes its runtime metrics (`Invocations`, `Throttles`, `SystemErrors`,
`UserErrors`, `Latency`, `SessionCount`, `CPUUsed-vCPUHours`, `MemoryUsed-GBHours`, ...)
in the namespace `AWS/Bedrock-AgentCore` with the dimensions `Resource` (the runtime's
ARN), `Operation` (`InvokeAgentRuntime`) and `Name` (`<runtime name>::<endpoint>`), and
writes a runtime's logs to `/aws/bedrock-agentcore/runtimes/<runtime id>-<endpoint>`.
A scenario writer may give `Resource` as the bare runtime id; the expansion writes the
ARN, so that the alarm and the metrics the tools read carry what AWS would put there.
"""

from __future__ import annotations

import re

NAMESPACE = "AWS/Bedrock-AgentCore"
DEFAULT_ENDPOINT = "DEFAULT"
OPERATION = "InvokeAgentRuntime"
# A runtime id is its name (letters, digits, underscores) and a 10-character suffix.
_RUNTIME_ID = re.compile(r"^[a-zA-Z][a-zA-Z0-9_]{0,47}-[a-zA-Z0-9]{10}$")
_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9_]{0,47}::[a-zA-Z0-9_-]+$")


def runtime_arn(region: str, account: str, runtime_id: str) -> str:
    return f"arn:aws:bedrock-agentcore:{region}:{account}:runtime/{runtime_id}"


def runtime_name(runtime_id: str) -> str:
    """`support_agent-Xy12AbCd34` -> `support_agent` (the id is the name and a suffix)."""
    return runtime_id.rsplit("-", 1)[0] if "-" in runtime_id else runtime_id


def runtime_log_group(runtime_id: str, endpoint: str = DEFAULT_ENDPOINT) -> str:
    return f"/aws/bedrock-agentcore/runtimes/{runtime_id}-{endpoint}"


def check_dimensions(namespace: str, dimensions: dict[str, str]) -> None:
    """A scenario's AgentCore dimensions in AWS's form, or a ValueError saying which."""
    if namespace != NAMESPACE:
        return
    name = dimensions.get("Name")
    if name is not None and not _NAME.match(name):
        raise ValueError(
            f"dimension Name {name!r} of an {NAMESPACE} metric is written "
            "<runtime name>::<endpoint>, e.g. support_agent::DEFAULT"
        )
    resource = dimensions.get("Resource")
    if resource is not None and not resource.startswith("arn:") and not _RUNTIME_ID.match(resource):
        raise ValueError(
            f"dimension Resource {resource!r} of an {NAMESPACE} metric is a runtime ARN "
            "or a runtime id such as support_agent-Xy12AbCd34"
        )


def full_dimensions(
    namespace: str, dimensions: dict[str, str], region: str, account: str
) -> dict[str, str]:
    """The dimensions as AWS publishes them: a bare runtime id in `Resource` becomes its ARN."""
    resource = dimensions.get("Resource")
    if namespace != NAMESPACE or not resource or resource.startswith("arn:"):
        return dict(dimensions)
    return {**dimensions, "Resource": runtime_arn(region, account, resource)}
