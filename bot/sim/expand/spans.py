"""Span shapes (format 1.1) as the JSON events CloudWatch Transaction Search stores.

With Transaction Search on, every OpenTelemetry span lands as one JSON log event in
`aws/spans`; an agent's incident shows in those spans (a tool's error share, steps per
turn, finish reasons), so the simulator writes them in that very form: `resource`,
`scope`, `traceId` (32 hex, its first 8 the start second, as X-Ray ids are), `spanId`,
`parentSpanId`, `name`, `kind`, `startTimeUnixNano`, `endTimeUnixNano`, `durationNano`,
`attributes`, `status` and an `exception` event on a failed span. Each trace is drawn on
its own from the phases in force when it began; children run one after another inside
the root, which is stretched to cover them. Draws are seeded per shape (`draws`).
"""

from __future__ import annotations

import functools
import itertools
import json
import random
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.sim.expand.draws import jittered, seeded, spread, window_span
from bot.sim.expand.logs import render_template
from bot.sim.expand.telemetry import LogEvent, LogStream
from bot.sim.scenario import Scenario
from bot.sim.span_specs import (
    Attributes,
    AttributeValue,
    ChildSpanSpec,
    LoopSpec,
    SpanOverride,
    SpanShapeSpec,
)
from bot.sim.syntax import compile_template

SPANS_STREAM = "default"
_NUMBER_ONLY = re.compile(r"^\{(int|float):[^{}]*\}$")
_DROPPED_ON_FAILURE = ("gen_ai.usage.", "gen_ai.response.")
_GAP = timedelta(milliseconds=2)  # between one child's end and the next one's start
DEFAULT_ERROR_TYPE = "_OTHER"  # the GenAI conventions' error.type when nothing better is known


@dataclass
class _Now:
    """The overrides in force at one moment, merged over the phases that cover it."""

    rate: float
    root: dict[str, Any] = field(default_factory=dict)
    children: dict[str, dict[str, Any]] = field(default_factory=dict)


def _merge(into: dict[str, Any], override: SpanOverride) -> None:
    """Later phases win key by key; attribute maps merge."""
    given = override.model_dump(exclude_unset=True, exclude_none=True, exclude={"attributes"})
    into.update(given)
    if override.attributes:
        into["attributes"] = {**into.get("attributes", {}), **override.attributes}


def _now(shape: SpanShapeSpec, scenario: Scenario, offset: timedelta) -> _Now:
    now = _Now(rate=shape.rate)
    for phase in shape.phases:
        start, end = window_span(phase.start, phase.end, scenario)
        if not start <= offset < end:
            continue
        if phase.rate is not None:
            now.rate = phase.rate
        if phase.root is not None:
            _merge(now.root, phase.root)
        for name, override in phase.children.items():
            _merge(now.children.setdefault(name, {}), override)
    return now


def _starts(shape: SpanShapeSpec, scenario: Scenario, t0: datetime, rng: random.Random):
    """Trace start times: the window cut at every phase edge, each piece at its own rate."""
    start, end = window_span(None, None, scenario)
    edges = {start, end}
    for phase in shape.phases:
        for edge in window_span(phase.start, phase.end, scenario):
            if start < edge < end:
                edges.add(edge)
    ordered = sorted(edges)
    found: list[datetime] = []
    for left, right in itertools.pairwise(ordered):
        rate = _now(shape, scenario, left).rate
        found += spread(t0 + left, t0 + right, rate, rng)
    return found


# A shape's few distinct strings are filled thousands of times: compile each once.
_compiled = functools.lru_cache(maxsize=4096)(compile_template)


def fill(value: AttributeValue, at: datetime, rng: random.Random) -> AttributeValue:
    """Placeholders filled afresh; a lone `{int:..}` / `{float:..}` becomes a number."""
    if isinstance(value, list):
        return [fill(item, at, rng) for item in value]  # type: ignore[misc]
    if not isinstance(value, str):
        return value
    parts = _compiled(value)
    if len(parts) == 1 and parts[0].kind == "text":
        return parts[0].text  # no placeholder: the text itself
    text = render_template(parts, at, rng)
    if _NUMBER_ONLY.match(value.strip()):
        kinds = {part.kind for part in parts if part.kind != "text"}
        return int(text) if kinds == {"int"} else float(text)
    return text


def _filled(values: Attributes, at: datetime, rng: random.Random) -> dict[str, Any]:
    return {key: fill(value, at, rng) for key, value in values.items()}


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _nanos(at: datetime) -> int:
    """Exact nanoseconds since the epoch (no float rounding of the timestamp)."""
    return (at - _EPOCH) // timedelta(microseconds=1) * 1000


@dataclass
class _Failure:
    error_type: str
    message: str


class _Trace:
    """One trace being laid out: its ids, its spans in order, the root's first failure."""

    def __init__(self, shape: SpanShapeSpec, scenario: Scenario, began: datetime, rng):
        self.shape, self.scenario, self.rng = shape, scenario, rng
        self.trace_id = f"{int(began.timestamp()):08x}{rng.getrandbits(96):024x}"
        self.root_id = self.span_id()
        self.spans: list[dict[str, Any]] = []
        self.failure: _Failure | None = None

    def span_id(self) -> str:
        return f"{self.rng.getrandbits(64) or 1:016x}"

    def resource(self, at: datetime) -> dict[str, Any]:
        attributes: dict[str, Any] = {
            "service.name": self.shape.service,
            "cloud.provider": "aws",
            "cloud.region": self.scenario.region,
        }
        attributes.update(_filled(self.shape.resource, at, self.rng))
        return {"attributes": attributes}

    def event(
        self,
        name: str,
        kind: str,
        start: datetime,
        end: datetime,
        attributes: dict[str, Any],
        failure: _Failure | None,
        span_id: str,
        parent: str | None,
    ) -> dict[str, Any]:
        begin_ns, end_ns = _nanos(start), _nanos(end)
        event: dict[str, Any] = {
            "resource": self.resource(start),
            "scope": {"name": self.shape.scope},
            "traceId": self.trace_id,
            "spanId": span_id,
        }
        if parent:
            event["parentSpanId"] = parent
        event |= {
            "name": name,
            "kind": kind,
            "startTimeUnixNano": begin_ns,
            "endTimeUnixNano": end_ns,
            "durationNano": end_ns - begin_ns,
            "attributes": attributes,
            "status": {"code": "UNSET"},
        }
        if failure is not None:
            attributes["error.type"] = failure.error_type
            event["status"] = {"code": "ERROR", "message": failure.message}
            event["events"] = [
                {
                    "name": "exception",
                    "timeUnixNano": end_ns,
                    "attributes": {
                        "exception.type": failure.error_type,
                        "exception.message": failure.message,
                    },
                }
            ]
        return event

    def failure_of(self, now: dict[str, Any], at: datetime) -> _Failure | None:
        share = now.get("error", 0.0)
        if not share or self.rng.random() >= share:
            return None
        error_type = now.get("error_type") or DEFAULT_ERROR_TYPE
        message = now.get("message") or ""
        return _Failure(
            str(fill(error_type, at, self.rng)),
            str(fill(message, at, self.rng)) if message else "",
        )

    def child(self, spec: ChildSpanSpec, now: dict[str, Any], cursor: datetime) -> datetime:
        """One run of a child span from `cursor`; returns where the next one starts."""
        duration = jittered(
            now.get("duration", spec.duration), now.get("jitter", spec.jitter), self.rng
        )
        end = cursor + timedelta(seconds=max(0.001, duration))
        attributes = _filled({**spec.attributes, **now.get("attributes", {})}, cursor, self.rng)
        failure = self.failure_of(now, cursor)
        if failure is not None:
            kept = set(now.get("attributes", {}))
            attributes = {
                key: value
                for key, value in attributes.items()
                if key in kept or not key.startswith(_DROPPED_ON_FAILURE)
            }
            if now.get("propagate", True) and self.failure is None:
                self.failure = failure
        name = now.get("name") or spec.name
        self.spans.append(
            self.event(
                name, spec.kind, cursor, end, attributes, failure, self.span_id(), self.root_id
            )
        )
        return end + _GAP


def _lay_out(
    shape: SpanShapeSpec, scenario: Scenario, began: datetime, now: _Now, rng: random.Random
) -> list[dict[str, Any]]:
    trace = _Trace(shape, scenario, began, rng)
    cursor = began + timedelta(milliseconds=1)
    for child in shape.children:
        if isinstance(child, LoopSpec):
            loop_now = now.children.get(child.loop.name, {})
            for _ in range(loop_now.get("repeat", child.loop.repeat)):
                for inner in child.children:
                    inner_now = now.children.get(inner.name, {})
                    for _ in range(inner_now.get("repeat", inner.repeat)):
                        cursor = trace.child(inner, inner_now, cursor)
        else:
            child_now = now.children.get(child.name, {})
            for _ in range(child_now.get("repeat", child.repeat)):
                cursor = trace.child(child, child_now, cursor)
    root_spec, root_now = shape.root, now.root
    duration = jittered(
        root_now.get("duration", root_spec.duration),
        root_now.get("jitter", root_spec.jitter),
        rng,
    )
    end = max(began + timedelta(seconds=max(0.001, duration)), cursor)
    attributes = _filled({**root_spec.attributes, **root_now.get("attributes", {})}, began, rng)
    failure = trace.failure_of(root_now, began) or trace.failure
    if failure is not None:
        kept = set(root_now.get("attributes", {}))
        attributes = {
            key: value
            for key, value in attributes.items()
            if key in kept or not key.startswith(_DROPPED_ON_FAILURE)
        }
    name = root_now.get("name") or root_spec.name
    root = trace.event(name, root_spec.kind, began, end, attributes, failure, trace.root_id, None)
    return [root, *trace.spans]


def expand_spans(scenario: Scenario, t0: datetime) -> list[LogStream]:
    """Every span shape -> events in the service's spans log group, in time order."""
    if not scenario.spans:
        return []
    events: list[LogEvent] = []
    for index, shape in enumerate(scenario.spans):
        rng = seeded(scenario.seed, "spans", index)
        for began in _starts(shape, scenario, t0, rng):
            now = _now(shape, scenario, began - t0)
            for span in _lay_out(shape, scenario, began, now, rng):
                at_ms = span["startTimeUnixNano"] // 1_000_000
                events.append(LogEvent(at_ms, json.dumps(span, separators=(",", ":"))))
    events.sort(key=lambda event: event.timestamp_ms)
    return [LogStream(scenario.service.spans_log_group, SPANS_STREAM, events)]
