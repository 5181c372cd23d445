"""Read-only discovery of an AWS account's GenAI estate, for `llm-incident discover`.

One module per service family reads what it can (`lambdas`, `roles`, `logs`, `bedrock`,
`agentcore`, `xray`, `alarms`, `tags`); `read_inventory` runs them in an order where each
can use what the earlier ones found (the guardrail and knowledge-base ids the account has
help recognise them in environment variables). Any call that fails or is not offered is a
`Note`, never an exception. The catalog is built from the inventory in
`bot.engine.discovery`: this package, like all of `tools`, knows nothing of `bot`.

Calls: Describe*/List*/Get* only (the `DiscoverEstate` statement of deploy/iam-policy.json).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from tools.aws import AwsClients
from tools.discovery.agentcore import AgentRuntime, read_agent_runtimes
from tools.discovery.alarms import MetricAlarm, read_alarms
from tools.discovery.base import Note, Notes, Progress, quiet
from tools.discovery.bedrock import BedrockEstate, read_bedrock
from tools.discovery.lambdas import LambdaFunction, read_functions
from tools.discovery.logs import read_log_groups
from tools.discovery.roles import RoleAccess, read_role_access
from tools.discovery.tags import read_tags
from tools.discovery.xray import ServiceGraph, read_service_graph

__all__ = ["Inventory", "Note", "read_inventory"]


class Inventory(BaseModel):
    """Everything discovery read from one region of one account."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    region: str
    tags: dict[str, dict[str, str]] = Field(default_factory=dict)  # ARN -> tags
    bedrock: BedrockEstate = Field(default_factory=BedrockEstate)
    runtimes: list[AgentRuntime] = Field(default_factory=list)
    functions: list[LambdaFunction] = Field(default_factory=list)
    roles: dict[str, RoleAccess] = Field(default_factory=dict)
    log_groups: list[str] | None = None  # None: they could not be listed
    alarms: list[MetricAlarm] = Field(default_factory=list)
    graph: ServiceGraph = Field(default_factory=ServiceGraph)
    notes: list[Note] = Field(default_factory=list)


def read_inventory(
    aws: AwsClients, progress: Progress = quiet, now: datetime | None = None
) -> Inventory:
    notes = Notes()
    progress("reading resource tags")
    tags = read_tags(aws, notes, progress)
    progress("reading Bedrock guardrails, knowledge bases, profiles, provisioned throughput")
    bedrock = read_bedrock(aws, notes, progress)
    guardrails = [g.id for g in bedrock.guardrails]
    bases = [k.id for k in bedrock.knowledge_bases]
    progress("reading AgentCore runtimes")
    runtimes = read_agent_runtimes(aws, notes, progress, guardrails, bases)
    progress("reading Lambda functions")
    functions = read_functions(aws, notes, progress, guardrails, bases)
    progress("reading the IAM roles of functions and runtimes")
    role_arns = [f.role_arn for f in functions if f.role_arn]
    role_arns += [r.role_arn for r in runtimes if r.role_arn]
    roles = read_role_access(aws, role_arns, notes, progress)
    progress("reading log groups")
    log_groups = read_log_groups(aws, notes, progress)
    progress("reading CloudWatch alarms")
    alarms = read_alarms(aws, notes, progress)
    progress("reading the X-Ray service graph")
    graph = read_service_graph(aws, notes, progress, now)
    return Inventory(
        region=aws.region,
        tags=tags,
        bedrock=bedrock,
        runtimes=runtimes,
        functions=functions,
        roles=roles,
        log_groups=log_groups,
        alarms=alarms,
        graph=graph,
        notes=notes.items,
    )
