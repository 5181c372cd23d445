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
from bot.sim.specs import Override, TraceSpec

HTTP_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}
_DEFAULT_STATUS = {"fault": 500, "error": 400, "throttle": 429}


def _phase_overrides(spec: TraceSpec, offset: timedelta, scenario: Scenario):
    """The root and per-span overrides in force at `offset`; later phases win."""
    root: Override | None = None
    spans: dict[str, Override] = {}
    for phase in spec.phases:
        start, end = window_span(phase.start, phase.end, scenario)
        if start <= offset < end:
            if phase.root is not None:
                root = phase.root
            spans.update(phase.spans)
    return root, spans


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
        root_override, span_overrides = _phase_overrides(spec, began - t0, scenario)
        root_duration = _duration(spec.root.duration, spec.root.jitter, root_override, rng)
        cursor = began + timedelta(milliseconds=1)
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
        finished = max(began + timedelta(seconds=root_duration), cursor + timedelta(milliseconds=1))
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
        documents.append(json.dumps(root, separators=(",", ":")))
    return documents


def _duration(base: float, jitter: float, override: Override | None, rng: random.Random) -> float:
    if override is not None and override.duration is not None:
        base = override.duration
    if override is not None and override.jitter is not None:
        jitter = override.jitter
    return max(0.001, jittered(base, jitter, rng))
