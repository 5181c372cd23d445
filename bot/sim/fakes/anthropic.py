"""A scripted fake of the Anthropic Messages API on loopback, for the real `anthropic` client.

The SDK sends through httpx2, which respx cannot intercept, so the fake is a real HTTP
server (`bot.sim.fakes.http.serve`) the client reaches through `base_url`. It speaks
`POST /v1/messages`, and Bedrock's `POST /model/<id>/invoke` as `AnthropicBedrock` calls
it; it records every request (JSON body, headers, arrival time) in `requests`. Each
request takes the next turn of the script: a reply (content blocks), an error (status,
headers, body), or a callable that builds either from the request.

Usage is computed the way the API reports it, including prompt caching: the fake keeps
the prefixes marked with `cache_control` it has seen, so a later request that repeats a
cached prefix reports `cache_read_input_tokens`, and the first one that marks it reports
`cache_creation_input_tokens`. Tokens are counted as four characters each.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from bot.sim.fakes.http import serve

MIN_CACHEABLE_TOKENS = 1024


@dataclass
class Reply:
    """One assistant message: its content blocks, stop reason and optional fixed usage."""

    content: list[dict[str, Any]]
    stop_reason: str = "end_turn"
    usage: dict[str, int] | None = None
    delay_s: float = 0.0


@dataclass
class Failure:
    """An HTTP error answer, as the API sends it."""

    status: int
    kind: str
    message: str = "error"
    headers: dict[str, str] = field(default_factory=dict)


Turn = Reply | Failure | Callable[[dict[str, Any]], "Reply | Failure"]


def text(words: str) -> dict[str, Any]:
    return {"type": "text", "text": words}


def tool_use(name: str, tool_input: dict[str, Any], id: str | None = None) -> dict[str, Any]:
    return {
        "type": "tool_use",
        "id": id or f"toolu_{uuid.uuid4().hex[:12]}",
        "name": name,
        "input": tool_input,
    }


def calls(*blocks: dict[str, Any]) -> Reply:
    """An assistant turn that calls one or more tools."""
    return Reply(list(blocks), stop_reason="tool_use")


def submit(
    category: str = "bad_deployment",
    root_cause: str = "Version 57 raises TypeError on text blocks since its deploy one minute "
    "before the onset.",
    confidence: float = 0.8,
    evidence: list[str] | None = None,
    remediation: list[str] | None = None,
    runbook: str | None = "bad-deployment",
    **extra: Any,
) -> Reply:
    """An assistant turn that answers through `submit_analysis`."""
    answer = {
        "category": category,
        "root_cause": root_cause,
        "confidence": confidence,
        "evidence": evidence if evidence is not None else ["TypeError since T0-4m"],
        "remediation": remediation if remediation is not None else ["Roll back to version 56"],
        "runbook": runbook,
        **extra,
    }
    return calls(tool_use("submit_analysis", answer))


def overloaded() -> Failure:
    return Failure(529, "overloaded_error", "Overloaded")


def rate_limited(retry_after: str) -> Failure:
    return Failure(429, "rate_limit_error", "Rate limited", {"retry-after": retry_after})


@dataclass
class Request:
    """One request the fake received: its JSON body, headers and arrival time."""

    body: dict[str, Any]
    headers: dict[str, str]
    at: float
    path: str = "/v1/messages"

    @property
    def texts(self) -> list[tuple[str, str]]:
        """Every piece of text sent, as (where, text): system, user, tool_result, assistant."""
        found = [("system", block["text"]) for block in self.body.get("system") or []]
        for message in self.body["messages"]:
            content = message["content"]
            if isinstance(content, str):
                found.append((message["role"], content))
                continue
            for block in content:
                if block["type"] == "text":
                    found.append((message["role"], block["text"]))
                elif block["type"] == "tool_result":
                    inner = block.get("content") or []
                    if isinstance(inner, str):
                        found.append(("tool_result", inner))
                    else:
                        found += [("tool_result", part.get("text", "")) for part in inner]
        return found

    @property
    def tool_results(self) -> list[dict[str, Any]]:
        last = self.body["messages"][-1]
        content = last["content"] if isinstance(last["content"], list) else []
        return [block for block in content if block.get("type") == "tool_result"]


def _tokens(segment: Any) -> int:
    return math.ceil(len(json.dumps(segment, sort_keys=True)) / 4)


def _segments(body: dict[str, Any]) -> Iterator[tuple[Any, bool]]:
    """The prompt in cache order (tools, system, messages), block by block, with whether
    each block carries a cache breakpoint; `cache_control` itself is not content."""

    def plain(block: Any) -> tuple[Any, bool]:
        if isinstance(block, dict) and "cache_control" in block:
            return {k: v for k, v in block.items() if k != "cache_control"}, True
        return block, False

    for tool in body.get("tools") or []:
        yield plain(tool)
    system = body.get("system") or []
    for block in [{"type": "text", "text": system}] if isinstance(system, str) else system:
        yield plain(block)
    for message in body["messages"]:
        content = message["content"]
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        for block in blocks:
            seg, marked = plain(block)
            yield {"role": message["role"], "block": seg}, marked


@dataclass
class FakeAnthropic:
    script: list[Turn] = field(default_factory=list)
    url: str = ""
    requests: list[Request] = field(default_factory=list)
    cached: set[str] = field(default_factory=set)
    busy_s: float = 0.0  # time spent answering (parsing, cache bookkeeping), for benchmarks
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, *turns: Turn) -> None:
        with self._lock:
            self.script.extend(turns)

    def usage(self, body: dict[str, Any]) -> dict[str, int]:
        """Input tokens split into cache reads, cache writes and the rest, like the API."""
        digest = hashlib.sha256()
        total = 0
        boundaries: list[tuple[int, str]] = []  # (tokens so far, prefix hash) per block
        last_mark = -1
        for index, (segment, marked) in enumerate(_segments(body)):
            digest.update(json.dumps(segment, sort_keys=True).encode())
            total += _tokens(segment)
            boundaries.append((total, digest.copy().hexdigest()))
            if marked:
                last_mark = index
        read = 0
        with self._lock:
            for tokens, key in reversed(boundaries[: last_mark + 1]):
                if key in self.cached:
                    read = tokens
                    break
            written = 0
            if last_mark >= 0 and boundaries[last_mark][0] >= MIN_CACHEABLE_TOKENS:
                written = boundaries[last_mark][0] - read
                self.cached.update(key for _, key in boundaries[: last_mark + 1])
        return {
            "input_tokens": total - read - written,
            "cache_read_input_tokens": read,
            "cache_creation_input_tokens": written,
        }

    def handle(self, path: str, headers: dict[str, str], raw: bytes):
        began = time.perf_counter()
        try:
            return self._answer(path, headers, raw)
        finally:
            with self._lock:
                self.busy_s += time.perf_counter() - began

    def _answer(self, path: str, headers: dict[str, str], raw: bytes):
        # The Messages API, or Bedrock's InvokeModel as AnthropicBedrock calls it.
        bedrock = re.fullmatch(r"/model/([^/]+)/invoke", path.split("?")[0])
        if not path.startswith("/v1/messages") and bedrock is None:
            return 404, {}, b'{"type":"error","error":{"type":"not_found_error","message":"?"}}'
        body = json.loads(raw or b"{}")
        if bedrock is not None:
            body.setdefault("model", unquote(bedrock.group(1)))
        with self._lock:
            self.requests.append(Request(body, headers, time.monotonic(), path))
            turn = self.script.pop(0) if self.script else None
        if turn is None:
            turn = Failure(500, "api_error", "the fake's script is exhausted")
        if callable(turn):
            turn = turn(body)
        if isinstance(turn, Failure):
            payload = {"type": "error", "error": {"type": turn.kind, "message": turn.message}}
            answer_headers = {"Content-Type": "application/json", **turn.headers}
            return turn.status, answer_headers, json.dumps(payload).encode()
        if turn.delay_s:
            time.sleep(turn.delay_s)
        usage = turn.usage or {**self.usage(body), "output_tokens": _tokens(turn.content)}
        usage.setdefault("output_tokens", _tokens(turn.content))
        message = {
            "id": f"msg_{len(self.requests):04d}",
            "type": "message",
            "role": "assistant",
            "model": body.get("model", "claude"),
            "content": turn.content,
            "stop_reason": turn.stop_reason,
            "stop_sequence": None,
            "usage": usage,
        }
        return 200, {"Content-Type": "application/json"}, json.dumps(message).encode()


@contextmanager
def fake_anthropic(*turns: Turn) -> Iterator[FakeAnthropic]:
    """A running fake with the given script; its `url` is the client's `base_url`."""
    fake = FakeAnthropic(list(turns))
    with serve(fake.handle) as url:
        fake.url = url
        yield fake
