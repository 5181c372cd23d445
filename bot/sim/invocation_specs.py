"""The `invocations` block of a scenario (1.1): Bedrock model invocation log records.

A service with model invocation logging writes one record per model call to a CloudWatch
Logs group; with a guardrail attached, the record carries the guardrail's trace in the
shape of the API that was called (Converse: `trace.guardrail.inputAssessment` and
`outputAssessments`; InvokeModel: `amazon-bedrock-trace` and
`amazon-bedrock-guardrailAction`). A shape here says which API, which model, at what
rate, with how many tokens, and, per phase, how often the guardrail intervenes, on which
side and finding what; `bot.sim.expand.invocations` writes the records.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from bot.models import GuardrailRef
from bot.sim.specs import Spec
from bot.sim.syntax import Offset, Rate, Share

# What each policy finds, and what a guardrail does about it by default.
POLICIES = {
    "topic": "BLOCKED",
    "content": "BLOCKED",
    "prompt_attack": "BLOCKED",
    "word": "BLOCKED",
    "pii": "ANONYMIZED",
    "regex": "ANONYMIZED",
    "grounding": "BLOCKED",
}


def _token_range(value: Any) -> Any:
    """`800-1200` (or a single number) -> (800, 1200)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return (value, value)
    if isinstance(value, str):
        low, _, high = value.partition("-")
        try:
            bounds = (int(low), int(high or low))
        except ValueError:
            raise ValueError(f"token count {value!r} is not a range such as 800-1200") from None
        if bounds[0] > bounds[1] or bounds[0] < 0:
            raise ValueError(f"token count {value!r} must run from low to high")
        return bounds
    return value


class FindingSpec(Spec):
    """One thing the guardrail finds on an intervened request."""

    policy: Literal["topic", "content", "prompt_attack", "word", "pii", "regex", "grounding"]
    name: str = Field(min_length=1)  # topic name, filter or PII type, word, regex name
    confidence: Literal["NONE", "LOW", "MEDIUM", "HIGH"] = "HIGH"
    score: float | None = Field(default=None, ge=0, le=1)  # grounding and relevance
    threshold: float | None = Field(default=None, ge=0, le=1)
    action: str | None = None  # by default BLOCKED, or ANONYMIZED for pii and regex


class InvocationPhase(Spec):
    start: Offset | None = Field(default=None, alias="from")
    end: Offset | None = Field(default=None, alias="to")
    rate: Rate | None = None
    intervened: Share = 0.0  # share of records the guardrail intervenes on
    side: Literal["input", "output"] = "input"
    findings: list[FindingSpec] = Field(default_factory=list)
    error: Share = 0.0  # share of records that failed (errorCode, no response)
    error_code: str = "ThrottlingException"
    input_tokens: tuple[int, int] | None = None
    output_tokens: tuple[int, int] | None = None

    @field_validator("input_tokens", "output_tokens", mode="before")
    @classmethod
    def _tokens(cls, value: Any) -> Any:
        return _token_range(value)


class InvocationSpec(Spec):
    operation: Literal["Converse", "ConverseStream", "InvokeModel"] = "Converse"
    model: str = Field(min_length=1)
    rate: Rate
    group: str | None = None  # the service's invocation_log_group by default
    caller: str | None = None  # identity.arn; the service's first function's role by default
    modality: Literal["text", "image"] = "text"
    input_tokens: tuple[int, int] = (800, 1200)
    output_tokens: tuple[int, int] = (150, 400)
    guardrail: GuardrailRef | None = None
    phases: list[InvocationPhase] = Field(default_factory=list)

    @field_validator("input_tokens", "output_tokens", mode="before")
    @classmethod
    def _tokens(cls, value: Any) -> Any:
        return _token_range(value)
