"""Trace shapes as the X-Ray segment documents the traces tool fetches.

A shape is a request path (a root and its subsegments) at a rate, and its phases change
durations and failure shares over time; the investigation looks for the span that
slowed or failed, and since when. Each trace is drawn on its own from the phase in force
when it began, and a failing subsegment fails its root with the same status, so the
tools see both the failing requests and the span to blame.
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta
from typing import Any

from bot.sim.expand.draws import jittered, seeded, spread, window_span
from bot.sim.scenario import Scenario
from bot.sim.specs import LambdaSpec, Override, TraceSpec

HTTP_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}
_DEFAULT_STATUS = {"fault": 500, "error": 400, "throttle": 429}


def _phase_overrides(spec: TraceSpec, offset: timedelta, scenario: Scenario):
    """The root, per-span and Lambda overrides in force at `offset`; later phases win."""
    root: Override | None = None
    spans: dict[str, Override] = {}
    lambda_: dict[str, float] = {}
    for phase in spec.phases:
        start, end = window_span(phase.start, phase.end, scenario)
        if start <= offset < end:
            if phase.root is not None:
                root = phase.root
            spans.update(phase.spans)
            if phase.lambda_ is not None:
                lambda_.update(phase.lambda_.model_dump(exclude_none=True))
    return root, spans, lambda_


def _failure(override: Override | None, rng: random.Random) -> str | None:
    if override is None:
        return None
    draw = rng.random()
    for kind in ("fault", "error", "throttle"):
        share = getattr(override, kind)
        if draw < share:
            return kind
        draw -= share
    return None


def _mark_failed(document: dict[str, Any], kind: str, status: int, message: str | None, rng):
    document[kind] = True
    if kind == "throttle":
        document["error"] = True
    document.setdefault("http", {}).setdefault("response", {})["status"] = status
    if message:
        document["cause"] = {
            "exceptions": [{"id": f"{rng.getrandbits(64):016x}", "message": message}]
        }


def expand_traces(scenario: Scenario, spec: TraceSpec, index: int, t0: datetime) -> list[str]:
    """Trace shapes -> X-Ray segment documents (one root segment per trace)."""
    rng = seeded(scenario.seed, "traces", index)
    start, end = window_span(None, None, scenario)
    documents: list[str] = []
    for began in spread(t0 + start, t0 + end, spec.rate, rng):
        root_override, span_overrides, lambda_now = _phase_overrides(spec, began - t0, scenario)
        root_duration = _duration(spec.root.duration, spec.root.jitter, root_override, rng)
        lambda_part = _lambda_part(spec.lambda_, lambda_now, rng) if spec.lambda_ else None
        cursor = began + timedelta(milliseconds=1, seconds=lambda_part[0] if lambda_part else 0)
        handler_start = cursor
        subsegments: list[dict[str, Any]] = []
        failures: list[tuple[str, int, str | None]] = []
        for span in spec.spans:
            override = span_overrides.get(span.name)
            duration = _duration(span.duration, span.jitter, override, rng)
            sub: dict[str, Any] = {
                "id": f"{rng.getrandbits(64):016x}",
                "name": span.service if span.namespace == "aws" and span.service else span.name,
                "start_time": cursor.timestamp(),
                "end_time": (cursor + timedelta(seconds=duration)).timestamp(),
            }
            if span.namespace:
                sub["namespace"] = span.namespace
            if span.namespace == "aws":
                sub["aws"] = {"operation": span.name}
            if span.service:
                sub["annotations"] = {"service": span.service}
            kind = _failure(override, rng)
            if kind and override is not None:
                status = override.http_status or _DEFAULT_STATUS[kind]
                _mark_failed(sub, kind, status, override.message, rng)
                failures.append((kind, status, None))
            subsegments.append(sub)
            cursor += timedelta(seconds=duration, microseconds=500)
        finished = max(
            handler_start + timedelta(seconds=root_duration, milliseconds=-1),
            cursor + timedelta(milliseconds=1),
        )
        method, _, path = spec.root.name.partition(" ")
        root: dict[str, Any] = {
            "name": spec.root.service,
            "id": f"{rng.getrandbits(64):016x}",
            "trace_id": f"1-{int(began.timestamp()):08x}-{rng.getrandbits(96):024x}",
            "start_time": began.timestamp(),
            "end_time": finished.timestamp(),
            "annotations": {"operation": spec.root.name, "trace_shape": spec.name},
            "subsegments": subsegments,
        }
        if method in HTTP_METHODS and path:
            root["http"] = {"request": {"method": method, "url": path}, "response": {"status": 200}}
        own = _failure(root_override, rng)
        if own and root_override is not None:
            status = root_override.http_status or _DEFAULT_STATUS[own]
            _mark_failed(root, own, status, root_override.message, rng)
        elif failures:
            kind, status, _ = failures[0]
            _mark_failed(root, kind, status, None, rng)
        if lambda_part is None:
            documents.append(json.dumps(root, separators=(",", ":")))
        else:
            function = (spec.lambda_.function if spec.lambda_ else None) or spec.root.service
            documents += lambda_documents(function, root, began, handler_start, lambda_part, rng)
    return documents


def _duration(base: float, jitter: float, override: Override | None, rng: random.Random) -> float:
    if override is not None and override.duration is not None:
        base = override.duration
    if override is not None and override.jitter is not None:
        jitter = override.jitter
    return max(0.001, jittered(base, jitter, rng))


def _lambda_part(
    shape: LambdaSpec, now: dict[str, float], rng: random.Random
) -> tuple[float, float]:
    """(Initialization seconds, 0 when warm; Overhead seconds) of one invocation."""
    cold_share = now.get("cold_start", shape.cold_start)
    init = now.get("init", shape.init)
    overhead = now.get("overhead", shape.overhead)
    cold = rng.random() < cold_share
    return (jittered(init, 0.15, rng) if cold else 0.0, jittered(overhead, 0.3, rng))


_INFERRED_ORIGINS = {
    "dynamodb": "AWS::DynamoDB::Table",
    "s3": "AWS::S3::Bucket",
    "sqs": "AWS::SQS::Queue",
    "lambda": "AWS::Lambda",
}


def lambda_documents(
    function: str,
    handler: dict[str, Any],
    began: datetime,
    handler_start: datetime,
    part: tuple[float, float],
    rng: random.Random,
) -> list[str]:
    """One invocation as Lambda's X-Ray integration records it: the Lambda service's
    segment, the function's segment (Initialization on a cold start, Invocation holding
    the calls, Overhead), and an inferred segment for each AWS call."""
    init_s, overhead_s = part
    arn = f"arn:aws:lambda:us-east-1:000000000000:function:{function}"
    trace_id = handler["trace_id"]
    service_id, function_id = f"{rng.getrandbits(64):016x}", f"{rng.getrandbits(64):016x}"
    start = began.timestamp()
    handler_begun, handler_end = handler_start.timestamp(), handler["end_time"]
    ends = handler_end + overhead_s
    parts: list[dict[str, Any]] = []
    if init_s:
        parts.append(_part("Initialization", start + 0.001, start + 0.001 + init_s, arn, rng))
    invocation = _part("Invocation", handler_begun, handler_end, arn, rng)
    invocation["subsegments"] = handler["subsegments"]
    for key in ("fault", "error", "throttle", "cause"):
        if key in handler:
            invocation[key] = handler[key]
    parts += [invocation, _part("Overhead", handler_end, ends, arn, rng)]
    function_segment: dict[str, Any] = {
        "id": function_id,
        "name": function,
        "trace_id": trace_id,
        "parent_id": service_id,
        "start_time": start + 0.001 if init_s else handler_begun,
        "end_time": ends,
        "origin": "AWS::Lambda::Function",
        "aws": {"function_arn": arn, "resource_names": [function]},
        "annotations": handler["annotations"],
        "subsegments": parts,
    }
    status = (handler.get("http") or {}).get("response", {}).get("status", 200)
    service_segment: dict[str, Any] = {
        "id": service_id,
        "name": function,
        "trace_id": trace_id,
        "start_time": start,
        "end_time": ends + 0.001,
        "origin": "AWS::Lambda",
        "resource_arn": arn,
        "http": {"response": {"status": status}},
        "aws": {"request_id": str(rng.getrandbits(64))},
    }
    for key in ("fault", "error", "throttle"):
        if key in handler:
            function_segment[key] = service_segment[key] = handler[key]
    if "cause" in handler:
        function_segment["cause"] = handler["cause"]
    documents = [service_segment, function_segment]
    for sub in handler["subsegments"]:
        if sub.get("namespace") != "aws":
            continue
        inferred = {
            "id": f"{rng.getrandbits(64):016x}",
            "name": sub["name"],
            "trace_id": trace_id,
            "parent_id": sub["id"],
            "start_time": sub["start_time"],
            "end_time": sub["end_time"],
            "inferred": True,
            "origin": _INFERRED_ORIGINS.get(str(sub["name"]).lower(), f"AWS::{sub['name']}"),
            "aws": dict(sub.get("aws") or {}),
        }
        for key in ("fault", "error", "throttle", "http"):
            if key in sub:
                inferred[key] = sub[key]
        documents.append(inferred)
    return [json.dumps(document, separators=(",", ":")) for document in documents]


def _part(name: str, start: float, end: float, arn: str, rng: random.Random) -> dict[str, Any]:
    return {
        "id": f"{rng.getrandbits(64):016x}",
        "name": name,
        "start_time": start,
        "end_time": end,
        "aws": {"function_arn": arn},
    }
