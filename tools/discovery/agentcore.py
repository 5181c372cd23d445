"""Amazon Bedrock AgentCore: agent runtimes, their roles and what their environment names.

`ListAgentRuntimes` names the runtimes; `GetAgentRuntime` gives each one's role and
environment variables, scanned for Bedrock identifiers like a Lambda function's.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, Field

from tools.aws import AwsClients
from tools.discovery.base import Notes, Progress, attempt
from tools.discovery.references import Reference, from_environment


class AgentRuntime(BaseModel):
    id: str
    name: str = ""
    arn: str = ""
    role_arn: str = ""
    references: list[Reference] = Field(default_factory=list)

    @property
    def log_group_prefix(self) -> str:
        """Each endpoint logs to `/aws/bedrock-agentcore/runtimes/<id>-<endpoint>`."""
        return f"/aws/bedrock-agentcore/runtimes/{self.id}-"


def read_agent_runtimes(
    aws: AwsClients,
    notes: Notes,
    progress: Progress,
    known_guardrails: Iterable[str] = (),
    known_knowledge_bases: Iterable[str] = (),
) -> list[AgentRuntime]:
    client = aws.client("bedrock-agentcore-control")
    guardrails, bases = list(known_guardrails), list(known_knowledge_bases)

    def listed() -> list[AgentRuntime]:
        found: list[AgentRuntime] = []
        for page in client.get_paginator("list_agent_runtimes").paginate():
            found += [
                AgentRuntime(
                    id=raw["agentRuntimeId"],
                    name=raw.get("agentRuntimeName", ""),
                    arn=raw.get("agentRuntimeArn", ""),
                )
                for raw in page.get("agentRuntimes", [])
                if raw.get("agentRuntimeId")
            ]
        progress(f"AgentCore runtimes: {len(found)}")
        return found

    runtimes = attempt(notes, "bedrock-agentcore:ListAgentRuntimes", listed, [], progress)
    for runtime in runtimes:

        def detail(runtime: AgentRuntime = runtime) -> None:
            found = client.get_agent_runtime(agentRuntimeId=runtime.id)
            runtime.role_arn = found.get("roleArn", "")
            env = found.get("environmentVariables") or {}
            runtime.references = from_environment(env, guardrails, bases)

        attempt(notes, f"bedrock-agentcore:GetAgentRuntime ({runtime.id})", detail, None, progress)
    return runtimes
