"""Claude confirms or corrects the triage: one tool-use loop, bounded and fail-safe.

The model gets the evidence bundle and the triage as untrusted data, may call the same
read-only tools the evidence came from (plus `search_runbooks`), and answers only through
`submit_analysis`, whose schema carries the taxonomy. Every investigation is bounded by
steps, input tokens, seconds and dollars; when one runs out the model is asked once, with
the tool forced where the model allows it, to submit what it has. Anything else (no LLM,
the API unreachable, no valid answer, a category outside the taxonomy) leaves the triage
as the analysis with the reason, so an alarm always gets an answer.

There is one loop (HolmesGPT grew a streaming and a non-streaming copy; we do not stream).
Retries are ours, not the SDK's: the SDK would sleep for any `retry-after`, however long.
"""

from __future__ import annotations

import json
import logging
import random
import re
import time
from datetime import timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import anthropic
from pydantic import ValidationError

from bot.agent import prompts
from bot.agent.pricing import price_for
from bot.agent.prompts import EPHEMERAL, SUBMIT, Submission
from bot.agent.state import Run, total_input
from bot.agent.toolbox import handlers, run_tools, tool_error
from bot.config import Settings
from bot.engine.evidence import EvidenceBundle, estimate_tokens
from bot.engine.runbooks import Runbook
from bot.errors import LlmIncidentError
from bot.models import Investigation, Usage
from bot.observe.telemetry import Telemetry
from tools.aws import AwsClients, describe_error

log = logging.getLogger(__name__)

# Documented to answer 400 to a forced tool_choice; any other model that does is asked
# again without it.
NO_FORCED_TOOL = re.compile(r"sonnet-5-5")
RETRYABLE = (
    anthropic.RateLimitError,
    anthropic.InternalServerError,  # 500, 503, 504 and 529 (overloaded)
    anthropic.APIConnectionError,  # and timeouts
    anthropic.ConflictError,
    anthropic.RequestTimeoutError,
)


class StopError(LlmIncidentError):
    """The loop cannot go on; the message is the fallback reason."""


def _as_param(block: Any) -> dict[str, Any]:
    """A response content block as a request block (only the fields a request takes)."""
    if block.type == "text":
        return {"type": "text", "text": block.text}
    if block.type == "tool_use":
        return {"type": "tool_use", "id": block.id, "name": block.name, "input": block.input}
    return block.model_dump(exclude_none=True)  # thinking blocks go back as they came


def _retry_after(exc: Exception) -> float | None:
    """Seconds the API asked us to wait (`retry-after-ms`, `retry-after` seconds or date)."""
    headers = getattr(getattr(exc, "response", None), "headers", None) or {}
    try:
        if "retry-after-ms" in headers:
            return float(headers["retry-after-ms"]) / 1000
        value = headers.get("retry-after")
        if value is None:
            return None
        if value.replace(".", "", 1).isdigit():
            return float(value)
        return parsedate_to_datetime(value).timestamp() - time.time()
    except (TypeError, ValueError):
        return None


class Agent:
    """Built once from settings; `analyze` may run for many investigations concurrently."""

    def __init__(
        self,
        client: anthropic.Anthropic | anthropic.AnthropicBedrock | None,
        settings: Settings,
        unavailable: str = "no LLM configured",
        telemetry: Telemetry | None = None,
    ) -> None:
        self.client = client
        self.settings = settings
        self.unavailable = unavailable
        self.telemetry = telemetry or Telemetry.disabled()
        definitions = prompts.tool_definitions()
        self.version = prompts.prompt_version(definitions)
        self.tools = [*definitions[:-1], {**definitions[-1], "cache_control": EPHEMERAL}]
        self.system = [
            {"type": "text", "text": prompts.system_prompt(), "cache_control": EPHEMERAL}
        ]
        if client is not None and not price_for(settings.llm_model or "").known:
            log.warning("no price for %s: costs are counted at Sonnet prices", settings.llm_model)

    @property
    def llm(self) -> tuple[str, str, str] | None:
        """(provider, model, prompt version) when a client is configured."""
        if self.client is None:
            return None
        return self.settings.llm_provider, self.settings.llm_model or "", self.version

    def analyze(
        self,
        investigation: Investigation,
        bundle: EvidenceBundle,
        runbooks: list[Runbook],
        aws: AwsClients,
    ) -> Investigation:
        """The investigation with Claude's answer on top, or the triage with the reason."""
        if self.client is None:
            return investigation.model_copy(update={"fallback_reason": self.unavailable})
        base = investigation.model_copy(update={"prompt_version": self.version})
        cfg = self.settings
        model = cfg.llm_model or ""
        run = Run(model, time.monotonic(), not NO_FORCED_TOOL.search(model))
        lookback = timedelta(hours=cfg.change_lookback_hours)
        defaults = prompts.tool_defaults(bundle, lookback, cfg.cloudtrail_log_group)
        user = prompts.user_prompt(bundle, base.hypotheses, runbooks, defaults, base.seen_before)
        run.messages.append({"role": "user", "content": [{"type": "text", "text": user}]})
        run.last_input = estimate_tokens(user + json.dumps([self.system, self.tools]))
        if run.last_input > cfg.llm_max_input_tokens:
            why = f"over budget: the prompt alone is about {run.last_input} tokens"
            return self._fallback(base, run, why)
        tools = handlers(aws, runbooks, defaults)
        final: str | None = None  # why the next call is the last one
        reason = ""  # the fallback reason if that last call brings no valid answer
        while True:
            if final is None and (budget := self._budget_out(run)) is not None:
                final, reason = budget
            if final is not None:
                self._nudge(run, prompts.FINAL_NUDGE.format(why=final))
            try:
                response = self._create(run, last=final is not None)
            except StopError as stop:
                return self._fallback(base, run, str(stop))
            content = [_as_param(b) for b in response.content] or [{"type": "text", "text": "-"}]
            run.messages.append({"role": "assistant", "content": content})
            uses = [block for block in content if block["type"] == "tool_use"]
            results: list[dict[str, Any]] = []
            for use in (u for u in uses if u["name"] == SUBMIT):
                try:
                    answer = Submission.model_validate(use["input"])
                except ValidationError as exc:
                    reason = prompts.rejection(use["input"], exc)
                    results.append(
                        tool_error(use["id"], f"{SUBMIT} rejected: {prompts.invalid_input(exc)}")
                    )
                    continue
                return self._answer(base, run, answer, runbooks)
            if final is not None:
                return self._fallback(base, run, reason)
            if not uses:
                nudge = {"type": "text", "text": prompts.PLAIN_TEXT_NUDGE}
                run.messages.append({"role": "user", "content": [nudge]})
                final = "This is your last turn."
                reason = f"no valid {SUBMIT}: the model answered in plain text"
                continue
            if results:  # a rejected submission gets one more, forced, chance
                final = f"Your {SUBMIT} was rejected (see its tool result)."
            calls = [u for u in uses if u["name"] != SUBMIT]
            results += run_tools(run, tools, calls, self.settings, self.telemetry)
            order = {use["id"]: i for i, use in enumerate(uses)}
            results.sort(key=lambda r: order[r["tool_use_id"]])
            run.messages.append({"role": "user", "content": results})

    def _budget_out(self, run: Run) -> tuple[str, str] | None:
        """Whether the next call must be the last: (the nudge, the fallback reason). Room is
        kept for that last call: a budget counts as out when it could not pay two more."""
        cfg = self.settings
        added = estimate_tokens(json.dumps(run.messages[-1]["content"])) if run.steps else 0
        next_cost = run.last_cost + added * price_for(run.model).input / 1e6
        checks = (
            (run.steps + 1 >= cfg.llm_max_steps, f"step budget ({cfg.llm_max_steps})"),
            (
                run.steps and run.remaining(cfg.llm_deadline_s) < max(5.0, 2 * run.slowest_s),
                f"deadline ({cfg.llm_deadline_s:.0f}s)",
            ),
            (
                total_input(run.usage) + 2 * (run.last_input + added) > cfg.llm_max_input_tokens,
                f"input-token budget ({cfg.llm_max_input_tokens})",
            ),
            (
                run.steps and run.usage.cost_usd + 2 * next_cost > cfg.llm_max_cost_usd,
                f"cost budget (${cfg.llm_max_cost_usd:.2f})",
            ),
        )
        for out, budget in checks:
            if out:
                return f"The {budget} is used up.", f"{budget} used up without a valid {SUBMIT}"
        return None

    @staticmethod
    def _nudge(run: Run, text: str) -> None:
        content = run.messages[-1]["content"]
        if not any(block.get("text") == text for block in content):
            content.append({"type": "text", "text": text})

    def _create(self, run: Run, last: bool) -> Any:
        """One Messages call with our retries: backoff, `retry-after` honoured up to a cap,
        the fallback model on overload, never past the deadline."""
        cfg = self.settings
        attempt = 0
        while True:
            remaining = run.remaining(cfg.llm_deadline_s)
            if remaining < 1.0:
                raise StopError(
                    f"deadline ({cfg.llm_deadline_s:.0f}s) passed without a valid {SUBMIT}"
                )
            forced = last and run.forced_ok
            tail = run.messages[-1]
            marked = [*tail["content"][:-1], {**tail["content"][-1], "cache_control": EPHEMERAL}]
            began = time.monotonic()
            messages = [*run.messages[:-1], {**tail, "content": marked}]
            try:
                with self.telemetry.chat(
                    cfg.llm_provider or "anthropic",
                    run.model,
                    cfg.llm_max_output_tokens,
                    self.system,
                    messages,
                ) as call:
                    response = self.client.messages.create(  # type: ignore[union-attr]
                        model=run.model,
                        max_tokens=cfg.llm_max_output_tokens,
                        system=self.system,
                        tools=self.tools,  # in every request, the last one too (Bedrock needs it)
                        tool_choice={"type": "tool", "name": SUBMIT}
                        if forced
                        else {"type": "auto"},
                        messages=messages,
                        timeout=min(cfg.llm_request_timeout_s, remaining),
                    )
                    call.done(response)
            except anthropic.BadRequestError as exc:
                if forced and "tool_choice" in str(exc):
                    log.info("model %s refuses a forced tool_choice; asking without", run.model)
                    run.forced_ok = False
                    continue
                raise StopError(f"LLM request rejected: {describe_error(exc)}") from exc
            except RETRYABLE as exc:
                overloaded = isinstance(exc, anthropic.OverloadedError)
                if overloaded and cfg.llm_fallback_model and run.model != cfg.llm_fallback_model:
                    log.warning("model %s overloaded; using %s", run.model, cfg.llm_fallback_model)
                    self._switch_model(run, cfg.llm_fallback_model)
                    continue
                attempt += 1
                time.sleep(self._wait(exc, attempt, remaining))
                continue
            except anthropic.APIError as exc:
                raise StopError(f"LLM request rejected: {describe_error(exc)}") from exc
            run.slowest_s = max(run.slowest_s, time.monotonic() - began)
            self._count(run, response)
            return response

    def _wait(self, exc: Exception, attempt: int, remaining: float) -> float:
        """How long to wait before retry `attempt`, or StopError when not to retry."""
        cfg = self.settings
        why = f"LLM unavailable after {attempt} attempts: {describe_error(exc)}"
        if attempt > cfg.llm_max_retries:
            raise StopError(why) from exc
        asked = _retry_after(exc)
        if asked is not None and asked > cfg.llm_max_retry_wait_s:
            cap = f"retry-after {asked:.0f}s is over the {cfg.llm_max_retry_wait_s:.0f}s cap"
            raise StopError(f"{why} ({cap})") from exc
        backoff = 0.5 * 2 ** (attempt - 1) * random.uniform(0.75, 1.0)  # noqa: S311 - jitter
        wait_s = max(asked if asked is not None else min(backoff, cfg.llm_max_retry_wait_s), 0.0)
        if wait_s >= remaining - 1.0:
            raise StopError(f"{why} (no time left to retry)") from exc
        return wait_s

    @staticmethod
    def _switch_model(run: Run, model: str) -> None:
        """Thinking blocks belong to the model that wrote them: dropped on a switch."""
        run.model, run.forced_ok = model, not NO_FORCED_TOOL.search(model)
        for message in run.messages:
            if message["role"] == "assistant":
                kept = [b for b in message["content"] if "thinking" not in b["type"]]
                message["content"] = kept or [{"type": "text", "text": "-"}]

    @staticmethod
    def _count(run: Run, response: Any) -> None:
        raw = response.usage
        usage = Usage(
            input_tokens=raw.input_tokens,
            output_tokens=raw.output_tokens,
            cache_read_input_tokens=raw.cache_read_input_tokens or 0,
            cache_creation_input_tokens=raw.cache_creation_input_tokens or 0,
        )
        usage.cost_usd = price_for(run.model).cost(usage)
        run.usage = run.usage + usage
        run.steps += 1
        run.last_input, run.last_cost = total_input(usage), usage.cost_usd

    @staticmethod
    def _answer(
        base: Investigation, run: Run, answer: Submission, runbooks: list[Runbook]
    ) -> Investigation:
        """Claude's hypothesis first (redacted), then the triage's other categories, most
        likely first: one hypothesis per category, so the list reads as alternatives."""
        log.info("LLM answered %s after %d steps", answer.category.value, run.steps)
        others = [h for h in base.hypotheses if h.category != answer.category]
        others.sort(key=lambda h: h.confidence, reverse=True)
        update = {"hypotheses": [answer.hypothesis(runbooks), *others], "source": "llm"}
        return base.model_copy(
            update={**update, "steps": run.steps, "usage": run.usage, "model": run.model}
        )

    @staticmethod
    def _fallback(base: Investigation, run: Run, reason: str) -> Investigation:
        log.warning("LLM analysis fell back to triage after %d steps: %s", run.steps, reason)
        update = {"source": "triage", "fallback_reason": reason, "steps": run.steps}
        model = run.model if run.steps else None  # the model that was paid for, if any
        return base.model_copy(update={**update, "usage": run.usage, "model": model})


def build_agent(settings: Settings, telemetry: Telemetry | None = None) -> Agent:
    """The agent the settings ask for; without a usable provider it returns the triage and
    says why. Nothing is called here: a missing or wrong key shows on the first request."""
    timeout = anthropic.Timeout(settings.llm_request_timeout_s, connect=5.0)
    if settings.llm_provider == "bedrock":
        bedrock = anthropic.AnthropicBedrock(
            aws_region=settings.aws_region, max_retries=0, timeout=timeout
        )
        return Agent(bedrock, settings, telemetry=telemetry)
    if settings.llm_provider == "anthropic" and settings.anthropic_api_key is not None:
        client = anthropic.Anthropic(
            api_key=settings.anthropic_api_key.get_secret_value(),
            base_url=settings.anthropic_base_url,  # None: the SDK reads ANTHROPIC_BASE_URL
            max_retries=0,  # ours: see Agent._wait
            timeout=timeout,
        )
        return Agent(client, settings, telemetry=telemetry)
    if settings.llm_provider == "anthropic":
        return Agent(None, settings, "no LLM configured: ANTHROPIC_API_KEY is not set", telemetry)
    return Agent(
        None, settings, "no LLM configured (set ANTHROPIC_API_KEY or LLM_PROVIDER)", telemetry
    )
