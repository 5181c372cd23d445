"""Lambda functions: names, roles, log groups, tracing, and what their environment names.

`ListFunctions` returns each function's configuration, environment variables included, so
one paginated call reads them all. The variables are scanned for Bedrock identifiers
(`tools.discovery.references`) and dropped: only identifiers leave this module.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tools.aws import AwsClients
from tools.discovery.base import Notes, Progress, attempt
from tools.discovery.references import Reference, from_environment


class _Record(BaseModel):
    """The fields of a `ListFunctions` entry discovery uses (AWS's names)."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field(alias="FunctionName", min_length=1)
    arn: str = Field(alias="FunctionArn", min_length=1)
    role: str = Field(default="", alias="Role")
    environment: dict[str, Any] = Field(default_factory=dict, alias="Environment")
    tracing: dict[str, Any] = Field(default_factory=dict, alias="TracingConfig")
    logging: dict[str, Any] = Field(default_factory=dict, alias="LoggingConfig")


class LambdaFunction(BaseModel):
    """A function as discovery keeps it: no environment values, only what they name."""

    name: str
    arn: str
    role_arn: str = ""
    log_group: str
    traced: bool = False
    references: list[Reference] = Field(default_factory=list)


def _function(record: _Record, guardrails: Iterable[str], bases: Iterable[str]) -> LambdaFunction:
    variables = record.environment.get("Variables") or {}
    return LambdaFunction(
        name=record.name,
        arn=record.arn,
        role_arn=record.role,
        # A function may log to a group of its own choosing (advanced logging controls).
        log_group=record.logging.get("LogGroup") or f"/aws/lambda/{record.name}",
        traced=record.tracing.get("Mode") == "Active",
        references=from_environment(
            variables if isinstance(variables, dict) else {}, guardrails, bases
        ),
    )


def read_functions(
    aws: AwsClients,
    notes: Notes,
    progress: Progress,
    known_guardrails: Iterable[str] = (),
    known_knowledge_bases: Iterable[str] = (),
) -> list[LambdaFunction]:
    """Every function of the region, page by page."""
    guardrails, bases = list(known_guardrails), list(known_knowledge_bases)

    def read() -> list[LambdaFunction]:
        client = aws.client("lambda")
        found: list[LambdaFunction] = []
        for page in client.get_paginator("list_functions").paginate():
            for raw in page.get("Functions", []):
                try:
                    found.append(_function(_Record.model_validate(raw), guardrails, bases))
                except ValidationError as exc:
                    progress(f"skipped a malformed ListFunctions entry: {exc.errors()[0]['msg']}")
            progress(f"Lambda functions: {len(found)}")
        return found

    return attempt(notes, "lambda:ListFunctions", read, [], progress)
