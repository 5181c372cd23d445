"""Amazon Bedrock: guardrails, knowledge bases and their data sources, inference profiles,
provisioned throughput, and where model invocations are logged.

Each list is read on its own, so a region or endpoint that lacks one (an emulator answers
500 for several) costs that list only, with a note.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from tools.aws import AwsClients
from tools.discovery.base import Notes, Progress, attempt


class Guardrail(BaseModel):
    id: str
    arn: str = ""
    name: str = ""
    version: str = "DRAFT"


class KnowledgeBase(BaseModel):
    id: str
    name: str = ""
    data_sources: list[str] = Field(default_factory=list)  # "name (id)"


class InferenceProfile(BaseModel):
    id: str
    arn: str = ""
    kind: str = ""  # SYSTEM_DEFINED | APPLICATION
    models: list[str] = Field(default_factory=list)  # the model ids it routes to


class ProvisionedThroughput(BaseModel):
    id: str  # the last part of the provisioned model ARN
    arn: str
    name: str = ""
    model: str = ""  # the foundation model id behind it


class BedrockEstate(BaseModel):
    guardrails: list[Guardrail] = Field(default_factory=list)
    knowledge_bases: list[KnowledgeBase] = Field(default_factory=list)
    inference_profiles: list[InferenceProfile] = Field(default_factory=list)
    provisioned: list[ProvisionedThroughput] = Field(default_factory=list)
    invocation_log_group: str | None = None


def _last(arn: str) -> str:
    return arn.rsplit("/", 1)[-1] if arn else ""


def _rank(version: str) -> int:
    return int(version) if version.isdigit() else -1


def read_guardrails(aws: AwsClients, notes: Notes, progress: Progress) -> list[Guardrail]:
    def read() -> list[Guardrail]:
        client = aws.client("bedrock")
        found: dict[str, Guardrail] = {}
        for page in client.get_paginator("list_guardrails").paginate():
            for raw in page.get("guardrails", []):
                if not raw.get("id"):
                    continue
                # Listed once per version: keep the highest numbered one (else DRAFT).
                version = str(raw.get("version") or "DRAFT")
                kept = found.get(raw["id"])
                if kept is None or _rank(version) > _rank(kept.version):
                    found[raw["id"]] = Guardrail(
                        id=raw["id"],
                        arn=raw.get("arn", ""),
                        name=raw.get("name", ""),
                        version=version,
                    )
        progress(f"guardrails: {len(found)}")
        return list(found.values())

    return attempt(notes, "bedrock:ListGuardrails", read, [], progress)


def read_knowledge_bases(aws: AwsClients, notes: Notes, progress: Progress) -> list[KnowledgeBase]:
    client = aws.client("bedrock-agent")

    def read() -> list[KnowledgeBase]:
        found: list[KnowledgeBase] = []
        for page in client.get_paginator("list_knowledge_bases").paginate():
            found += [
                KnowledgeBase(id=raw["knowledgeBaseId"], name=raw.get("name", ""))
                for raw in page.get("knowledgeBaseSummaries", [])
                if raw.get("knowledgeBaseId")
            ]
        progress(f"knowledge bases: {len(found)}")
        return found

    bases = attempt(notes, "bedrock:ListKnowledgeBases", read, [], progress)
    for base in bases:

        def sources(base: KnowledgeBase = base) -> list[str]:
            pages = client.get_paginator("list_data_sources").paginate(knowledgeBaseId=base.id)
            return [
                f"{raw.get('name') or '?'} ({raw['dataSourceId']})"
                for page in pages
                for raw in page.get("dataSourceSummaries", [])
                if raw.get("dataSourceId")
            ]

        base.data_sources = attempt(
            notes, f"bedrock:ListDataSources ({base.id})", sources, [], progress
        )
    return bases


def read_inference_profiles(
    aws: AwsClients, notes: Notes, progress: Progress
) -> list[InferenceProfile]:
    def read() -> list[InferenceProfile]:
        client = aws.client("bedrock")
        found: list[InferenceProfile] = []
        for page in client.get_paginator("list_inference_profiles").paginate():
            for raw in page.get("inferenceProfileSummaries", []):
                if raw.get("inferenceProfileId"):
                    found.append(
                        InferenceProfile(
                            id=raw["inferenceProfileId"],
                            arn=raw.get("inferenceProfileArn", ""),
                            kind=raw.get("type", ""),
                            models=[_last(m.get("modelArn", "")) for m in raw.get("models", [])],
                        )
                    )
        progress(f"inference profiles: {len(found)}")
        return found

    return attempt(notes, "bedrock:ListInferenceProfiles", read, [], progress)


def read_provisioned(
    aws: AwsClients, notes: Notes, progress: Progress
) -> list[ProvisionedThroughput]:
    def read() -> list[ProvisionedThroughput]:
        client = aws.client("bedrock")
        found: list[ProvisionedThroughput] = []
        for page in client.get_paginator("list_provisioned_model_throughputs").paginate():
            for raw in page.get("provisionedModelSummaries", []):
                arn = raw.get("provisionedModelArn", "")
                if arn:
                    found.append(
                        ProvisionedThroughput(
                            id=_last(arn),
                            arn=arn,
                            name=raw.get("provisionedModelName", ""),
                            model=_last(raw.get("foundationModelArn") or raw.get("modelArn", "")),
                        )
                    )
        progress(f"provisioned throughput: {len(found)}")
        return found

    return attempt(notes, "bedrock:ListProvisionedModelThroughputs", read, [], progress)


def read_invocation_log_group(aws: AwsClients, notes: Notes, progress: Progress) -> str | None:
    """The log group model invocations are logged to, when invocation logging is on."""

    def read() -> str | None:
        config = aws.client("bedrock").get_model_invocation_logging_configuration()
        cloudwatch = (config.get("loggingConfig") or {}).get("cloudWatchConfig") or {}
        return cloudwatch.get("logGroupName") or None

    return attempt(notes, "bedrock:GetModelInvocationLoggingConfiguration", read, None, progress)


def read_bedrock(aws: AwsClients, notes: Notes, progress: Progress) -> BedrockEstate:
    return BedrockEstate(
        guardrails=read_guardrails(aws, notes, progress),
        knowledge_bases=read_knowledge_bases(aws, notes, progress),
        inference_profiles=read_inference_profiles(aws, notes, progress),
        provisioned=read_provisioned(aws, notes, progress),
        invocation_log_group=read_invocation_log_group(aws, notes, progress),
    )
