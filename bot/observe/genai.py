"""One chat call and one tool call in the GenAI semantic conventions' terms: the response's
attributes on the `chat` span, token and duration histograms, and (only when capture is
on) message content in the conventions' JSON shapes."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai
from opentelemetry.semconv.attributes import error_attributes
from opentelemetry.trace import Span, Status, StatusCode

if TYPE_CHECKING:
    from bot.observe.telemetry import Telemetry


@dataclass
class ChatCall:
    """What the agent tells the chat span once the response is in."""

    telemetry: Telemetry
    provider: str
    model: str
    span: Span | None = None
    response_model: str | None = None

    def done(self, response: Any) -> None:
        usage = response.usage
        tokens_in = (
            usage.input_tokens
            + (usage.cache_read_input_tokens or 0)
            + (usage.cache_creation_input_tokens or 0)
        )
        self.response_model = getattr(response, "model", None) or self.model
        span = self.span
        if span is not None and span.is_recording():
            attributes: dict[str, Any] = {
                gen_ai.GEN_AI_RESPONSE_MODEL: self.response_model,
                gen_ai.GEN_AI_RESPONSE_ID: response.id,
                gen_ai.GEN_AI_USAGE_INPUT_TOKENS: tokens_in,
                gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS: usage.output_tokens,
                gen_ai.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: usage.cache_read_input_tokens or 0,
                gen_ai.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: (
                    usage.cache_creation_input_tokens or 0
                ),
            }
            if response.stop_reason:
                attributes[gen_ai.GEN_AI_RESPONSE_FINISH_REASONS] = [response.stop_reason]
            if self.telemetry.capture_content:
                attributes[gen_ai.GEN_AI_OUTPUT_MESSAGES] = _output_json(response)
            span.set_attributes(attributes)
        labels = self._labels(None)  # the response model is known from here on
        histogram = self.telemetry.instruments.token_usage
        histogram.record(tokens_in, {**labels, gen_ai.GEN_AI_TOKEN_TYPE: "input"})
        histogram.record(usage.output_tokens, {**labels, gen_ai.GEN_AI_TOKEN_TYPE: "output"})

    def record_duration(self, seconds: float, error: str | None) -> None:
        self.telemetry.instruments.duration.record(seconds, self._labels(error))

    def _labels(self, error: str | None) -> dict[str, str]:
        labels = {
            gen_ai.GEN_AI_OPERATION_NAME: gen_ai.GenAiOperationNameValues.CHAT.value,
            gen_ai.GEN_AI_PROVIDER_NAME: self.provider,
            gen_ai.GEN_AI_REQUEST_MODEL: self.model,
        }
        if self.response_model:
            labels[gen_ai.GEN_AI_RESPONSE_MODEL] = self.response_model
        if error:
            labels[error_attributes.ERROR_TYPE] = error
        return labels


@dataclass
class ToolCall:
    span: Span
    capture_content: bool

    def result(self, text: str, error: str | None = None) -> None:
        if not self.span.is_recording():
            return
        if error:
            self.span.set_status(Status(StatusCode.ERROR, text[:300]))
            self.span.set_attribute(error_attributes.ERROR_TYPE, error)
        if self.capture_content:
            self.span.set_attribute(gen_ai.GEN_AI_TOOL_CALL_RESULT, text)


# -- message content in the conventions' JSON shapes -----------------------------------
def _part(block: dict[str, Any]) -> dict[str, Any]:
    kind = block.get("type")
    if kind == "text":
        return {"type": "text", "content": block.get("text", "")}
    if kind == "tool_use":
        return {
            "type": "tool_call",
            "id": block.get("id"),
            "name": block.get("name"),
            "arguments": block.get("input"),
        }
    if kind == "tool_result":
        return {
            "type": "tool_call_response",
            "id": block.get("tool_use_id"),
            "response": block.get("content"),
        }
    return {"type": str(kind)}


def system_json(system: Sequence[dict[str, Any]]) -> str:
    return json.dumps([_part(block) for block in system])


def messages_json(messages: Sequence[dict[str, Any]]) -> str:
    shaped = []
    for message in messages:
        content = message.get("content")
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        shaped.append({"role": message.get("role"), "parts": [_part(b) for b in blocks or []]})
    return json.dumps(shaped, default=str)


_FINISH = {"end_turn": "stop", "tool_use": "tool_call", "max_tokens": "length"}


def _output_json(response: Any) -> str:
    parts = [_part(block.model_dump()) for block in response.content]
    reason = _FINISH.get(response.stop_reason or "", response.stop_reason or "stop")
    return json.dumps([{"role": "assistant", "parts": parts, "finish_reason": reason}], default=str)
