"""The model's tool calls: what each name runs, run concurrently under the run's deadline.

Each answer is capped in tokens and delimited as untrusted data (`prompts`); an exact
repeat of an earlier call is refused with a pointer to its result (HolmesGPT's lesson);
a tool's failure or a malformed argument becomes an error result the model can act on.
"""

from __future__ import annotations

import contextvars
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

from pydantic import ValidationError

from bot.agent import prompts
from bot.agent.prompts import SEARCH_RUNBOOKS, RunbookQuery
from bot.agent.state import Run
from bot.config import Settings
from bot.engine.runbooks import Runbook, search
from bot.observe.telemetry import Telemetry
from tools import TOOLS
from tools.aws import AwsClients, describe_error
from tools.base import Tool

Handler = Callable[[dict[str, Any], float], str]


def tool_error(tool_use_id: str, text: str) -> dict[str, Any]:
    return {"type": "tool_result", "tool_use_id": tool_use_id, "content": text, "is_error": True}


def handlers(
    aws: AwsClients, runbooks: list[Runbook], defaults: dict[str, dict[str, Any]]
) -> dict[str, Handler]:
    """What each tool name the model may call runs: the read-only AWS tools (the
    investigation's window and resources filled in where the model left them out) and
    the runbook search."""

    def aws_tool(tool: Tool) -> Handler:
        def handle(args: dict[str, Any], timeout_s: float) -> str:
            result = tool({**defaults[tool.name], **args, "timeout_s": timeout_s})
            return "\n".join([result.text, *(f"- note: {n}" for n in result.notes)])

        return handle

    def runbook_search(args: dict[str, Any], timeout_s: float) -> str:
        query = RunbookQuery.model_validate(args)
        found = search(runbooks, query.query)[: query.limit]
        return "\n\n".join(prompts.runbook_text(b) for b in found) or "no runbook matches"

    return {t.name: aws_tool(t(aws)) for t in TOOLS} | {SEARCH_RUNBOOKS: runbook_search}


def run_tools(
    run: Run,
    handlers: dict[str, Handler],
    uses: list[dict[str, Any]],
    settings: Settings,
    telemetry: Telemetry,
) -> list[dict[str, Any]]:
    """The tool calls of one turn, concurrently; each answer capped and delimited."""
    remaining = run.remaining(settings.llm_deadline_s)
    timeout_s = max(1.0, min(20.0, remaining - max(5.0, 2 * run.slowest_s)))
    results: dict[str, dict[str, Any]] = {}
    jobs = []
    for use in uses:
        key = use["name"] + json.dumps(use["input"], sort_keys=True, default=str)
        if use["name"] not in handlers:
            results[use["id"]] = tool_error(use["id"], f"unknown tool {use['name']!r}")
        elif key in run.seen:
            results[use["id"]] = tool_error(
                use["id"],
                f"not run: the same call was made at step {run.seen[key]}; its result is "
                "above. Change the arguments or submit.",
            )
        else:
            run.seen[key] = run.steps
            jobs.append(use)

    def one(use: dict[str, Any]) -> dict[str, Any]:
        name = use["name"]
        with telemetry.tool(name, use["id"], use["input"]) as span:
            try:
                text = handlers[name](dict(use["input"] or {}), timeout_s)
            except ValidationError as exc:
                answer = tool_error(use["id"], prompts.invalid_input(exc))
                span.result(answer["content"], type(exc).__qualname__)
                return answer
            except Exception as exc:  # a tool's failure is information for the model
                answer = tool_error(use["id"], f"{name} failed: {describe_error(exc)}")
                span.result(answer["content"], type(exc).__qualname__)
                return answer
            text = prompts.tool_result_text(name, text, settings.llm_tool_result_tokens)
            span.result(text)
        return {"type": "tool_result", "tool_use_id": use["id"], "content": text}

    if len(jobs) == 1:
        results[jobs[0]["id"]] = one(jobs[0])
    elif jobs:
        pool = ThreadPoolExecutor(max_workers=min(len(jobs), 6), thread_name_prefix="tool")
        # Each job runs in a copy of this thread's context: its span is then a child of
        # the investigation's, not a root of its own.
        futures = {pool.submit(contextvars.copy_context().run, one, use): use["id"] for use in jobs}
        done, late = wait(futures, timeout=timeout_s + 2)
        pool.shutdown(wait=False, cancel_futures=True)
        results |= {futures[f]: f.result() for f in done}
        late_text = f"no answer within {timeout_s:.0f}s"
        results |= {futures[f]: tool_error(futures[f], late_text) for f in late}
    return [results[use["id"]] for use in uses]
