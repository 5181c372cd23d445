"""Scenario -> the raw telemetry AWS would hold for it.

Expansion is a pure function of the scenario and T0: every random choice draws
from a stream seeded by the scenario's `seed` and the item's position, so two
expansions with the same seed and T0 are identical, and editing one log pattern
does not reshuffle the others. Writing the result into an AWS endpoint is
`bot.sim.seeding`'s job.
"""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.models import Alarm, AlarmState
from bot.sim.scenario import (
    AlarmSpec,
    LogGroupSpec,
    MetricSpec,
    Override,
    Scenario,
    TemplatePart,
    TraceSpec,
    compile_template,
)

HTTP_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}
_DEFAULT_STATUS = {"fault": 500, "error": 400, "throttle": 429}
_COMPARISON_WORDS = {
    "GreaterThanThreshold": "greater than",
    "GreaterThanOrEqualToThreshold": "greater than or equal to",
    "LessThanThreshold": "less than",
    "LessThanOrEqualToThreshold": "less than or equal to",
}


@dataclass(frozen=True)
class MetricSeries:
    namespace: str
    name: str
    dimensions: dict[str, str]
    unit: str | None
    period: int
    points: list[tuple[datetime, float]]


@dataclass(frozen=True)
class LogEvent:
    timestamp_ms: int
    message: str


@dataclass(frozen=True)
class LogStream:
    group: str
    stream: str
    events: list[LogEvent]


@dataclass(frozen=True)
class Telemetry:
    """Everything a scenario puts into an AWS account, anchored at `t0`."""

    t0: datetime
    start: datetime
    end: datetime
    region: str
    account: str
    alarm: Alarm
    also_firing: list[Alarm]
    metrics: list[MetricSeries] = field(default_factory=list)
    logs: list[LogStream] = field(default_factory=list)
    trace_documents: list[str] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)


def anchor_t0(scenario: Scenario, now: datetime | None = None) -> datetime:
    """T0 for a live or emulated account: now minus the tail, on a whole minute."""
    now = now or datetime.now(UTC)
    t0 = now - scenario.window.tail
    return t0.replace(second=0, microsecond=0)


def _rng(seed: int, *key: object) -> random.Random:
    # Reproducible noise for synthetic telemetry, not security: a seeded PRNG is the point.
    return random.Random(":".join(str(part) for part in (seed, *key)))  # noqa: S311


def _span(spec_start: timedelta | None, spec_end: timedelta | None, scenario: Scenario):
    start = spec_start if spec_start is not None else scenario.window.start
    end = spec_end if spec_end is not None else scenario.window.tail
    return start, end


def _jittered(value: float, jitter: float, rng: random.Random) -> float:
    if jitter <= 0:
        return value
    return value * (1 + rng.uniform(-jitter, jitter))


def expand_metric(scenario: Scenario, spec: MetricSpec, index: int, t0: datetime) -> MetricSeries:
    """Piecewise segments -> one datapoint per period; later segments win."""
    rng = _rng(scenario.seed, "metric", index)
    period = timedelta(seconds=spec.period)
    values: dict[timedelta, float] = {}
    previous: float | None = None
    for segment in spec.segments:
        start, end = _span(segment.start, segment.end, scenario)
        first = -((-start) // period) * period  # the first whole period at or after start
        slots = []
        slot = first
        while slot < end:
            slots.append(slot)
            slot += period
        origin = previous if previous is not None else 0.0
        for position, slot in enumerate(slots):
            value = segment.value
            if segment.ramp:
                share = position / (len(slots) - 1) if len(slots) > 1 else 1.0
                value = origin + (segment.value - origin) * share
            value = max(0.0, _jittered(value, segment.jitter, rng))
            if spec.unit == "Count":
                value = float(round(value))
            values[slot] = value
        previous = segment.value
    points = [(t0 + offset, values[offset]) for offset in sorted(values)]
    return MetricSeries(
        spec.namespace, spec.name, dict(spec.dimensions), spec.unit, spec.period, points
    )


def render_template(parts: tuple[TemplatePart, ...], at: datetime, rng: random.Random) -> str:
    """Fill a compiled template's placeholders afresh."""
    out: list[str] = []
    for part in parts:
        kind = part.kind
        if kind == "text":
            out.append(part.text)
        elif kind == "uuid":
            out.append(str(uuid.UUID(int=rng.getrandbits(128), version=4)))
        elif kind == "int":
            out.append(str(rng.randint(int(part.low), int(part.high))))
        elif kind == "float":
            out.append(f"{rng.uniform(part.low, part.high):.2f}")
        elif kind == "hex":
            digits = int(part.low)
            out.append(f"{rng.getrandbits(digits * 4):0{digits}x}")
        elif kind == "choice":
            out.append(rng.choice(part.options))
        elif kind == "ip":
            out.append(".".join(str(rng.randint(1, 254)) for _ in range(4)))
        elif kind == "ts":
            out.append(at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z")
    return "".join(out)


def _spread(start: datetime, end: datetime, per_second: float, rng: random.Random):
    """`rate` events spread evenly in [start, end), each jittered within its interval."""
    seconds = (end - start).total_seconds()
    count = int(per_second * seconds + 1e-9)
    if count <= 0:
        return []
    interval = seconds / count
    return [start + timedelta(seconds=(i + rng.random()) * interval) for i in range(count)]


def expand_logs(scenario: Scenario, spec: LogGroupSpec, index: int, t0: datetime) -> LogStream:
    rng = _rng(scenario.seed, "logs", index)
    stream = spec.stream or (f"{t0:%Y/%m/%d}/[$LATEST]{rng.getrandbits(128):032x}")
    events: list[LogEvent] = []
    for number, pattern in enumerate(spec.patterns):
        pattern_rng = _rng(scenario.seed, "logs", index, "pattern", number)
        parts = compile_template(pattern.template)
        start, end = _span(pattern.start, pattern.end, scenario)
        for at in _spread(t0 + start, t0 + end, pattern.rate, pattern_rng):
            events.append(LogEvent(_ms(at), render_template(parts, at, pattern_rng)))
    line_rng = _rng(scenario.seed, "logs", index, "lines")
    for line in spec.lines:
        at = t0 + line.at
        events.append(
            LogEvent(_ms(at), render_template(compile_template(line.message), at, line_rng))
        )
    events.sort(key=lambda event: event.timestamp_ms)
    return LogStream(spec.group, stream, events)


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def _phase_overrides(spec: TraceSpec, offset: timedelta, scenario: Scenario):
    """The root and per-span overrides in force at `offset`; later phases win."""
    root: Override | None = None
    spans: dict[str, Override] = {}
    for phase in spec.phases:
        start, end = _span(phase.start, phase.end, scenario)
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
    rng = _rng(scenario.seed, "traces", index)
    start, end = _span(None, None, scenario)
    documents: list[str] = []
    for began in _spread(t0 + start, t0 + end, spec.rate, rng):
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
    return max(0.001, _jittered(base, jitter, rng))


def expand_change(scenario: Scenario, index: int, t0: datetime) -> dict[str, Any]:
    """A change -> a CloudTrail event as `LookupEvents` returns it."""
    change = scenario.changes[index]
    rng = _rng(scenario.seed, "change", index)
    at = t0 + change.at
    event_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    user = change.user or f"arn:aws:iam::{scenario.account}:user/unknown"
    record = {
        "eventVersion": "1.09",
        "userIdentity": {"type": _identity_type(user), "arn": user, "accountId": scenario.account},
        "eventTime": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": change.event_source,
        "eventName": change.event_name,
        "awsRegion": scenario.region,
        "sourceIPAddress": "AWS Internal",
        "userAgent": "aws-cli/2",
        "requestParameters": change.request or None,
        "responseElements": None,
        "requestID": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "eventID": event_id,
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": scenario.account,
    }
    resources = []
    if change.resource:
        resources.append(
            {"ResourceType": _resource_type(change.event_source), "ResourceName": change.resource}
        )
    return {
        "EventId": event_id,
        "EventName": change.event_name,
        "ReadOnly": "false",
        "EventTime": at,
        "EventSource": change.event_source,
        "Username": user,
        "Resources": resources,
        "CloudTrailEvent": json.dumps(record),
    }


def _identity_type(user: str) -> str:
    if ":assumed-role/" in user:
        return "AssumedRole"
    if user.endswith(":root"):
        return "Root"
    return "IAMUser"


def _resource_type(event_source: str) -> str:
    service = event_source.split(".", 1)[0]
    return {
        "lambda": "AWS::Lambda::Function",
        "iam": "AWS::IAM::Role",
        "bedrock": "AWS::Bedrock::Resource",
        "s3": "AWS::S3::Bucket",
        "dynamodb": "AWS::DynamoDB::Table",
        "ecs": "AWS::ECS::Service",
    }.get(service, f"AWS::{service.capitalize()}::Resource")


def metric_values(
    series: list[MetricSeries], namespace: str, name: str, dimensions: dict[str, str]
) -> list[tuple[datetime, float]]:
    for candidate in series:
        if (candidate.namespace, candidate.name, candidate.dimensions) == (
            namespace,
            name,
            dimensions,
        ):
            return candidate.points
    return []


def alarm_reason(spec: AlarmSpec, points: list[tuple[datetime, float]], t0: datetime) -> str:
    """A `NewStateReason` like CloudWatch writes, from the metric's own values."""
    words = _COMPARISON_WORDS.get(spec.comparison, "outside")
    period = timedelta(seconds=spec.period)
    datapoints: list[tuple[datetime, float]] = []
    for back in range(spec.evaluation_periods, 0, -1):
        bucket_start = t0 - back * period
        inside = [v for at, v in points if bucket_start <= at < bucket_start + period]
        if inside:
            value = (
                sum(inside)
                if spec.statistic in ("Sum", "SampleCount")
                else (
                    max(inside)
                    if spec.statistic == "Maximum"
                    else min(inside)
                    if spec.statistic == "Minimum"
                    else sum(inside) / len(inside)
                )
            )
            datapoints.append((bucket_start, value))
    threshold = f"{spec.threshold:.1f}"
    if not datapoints:
        return (
            f"Threshold Crossed: no datapoints were received for {spec.evaluation_periods} "
            f"period(s) and the alarm treats missing data as breaching the threshold ({threshold})."
        )
    shown = ", ".join(f"{value:.1f} ({at:%d/%m/%y %H:%M:%S})" for at, value in reversed(datapoints))
    count = len(datapoints)
    noun = "datapoint" if count == 1 else "datapoints"
    verb = "was" if count == 1 else "were"
    return (
        f"Threshold Crossed: {count} {noun} [{shown}] {verb} {words} the threshold ({threshold})."
    )


def alarm_from_spec(
    scenario: Scenario, spec: AlarmSpec, changed_at: datetime, series: list[MetricSeries]
) -> Alarm:
    reason = spec.reason or alarm_reason(
        spec, metric_values(series, spec.namespace, spec.metric, spec.dimensions), changed_at
    )
    return Alarm(
        name=spec.name,
        description=spec.description,
        namespace=spec.namespace,
        metric=spec.metric,
        dimensions=dict(spec.dimensions),
        statistic=spec.statistic,
        period=spec.period,
        evaluation_periods=spec.evaluation_periods,
        threshold=spec.threshold,
        comparison=spec.comparison,
        state=AlarmState.ALARM,
        previous_state=AlarmState.OK,
        reason=reason,
        changed_at=changed_at,
        region=scenario.region,
        account=scenario.account,
        arn=f"arn:aws:cloudwatch:{scenario.region}:{scenario.account}:alarm:{spec.name}",
    )


def expand(scenario: Scenario, t0: datetime) -> Telemetry:
    """The whole scenario's telemetry, with T0 at `t0`."""
    t0 = t0.astimezone(UTC)
    metrics = [expand_metric(scenario, spec, i, t0) for i, spec in enumerate(scenario.metrics)]
    alarm = alarm_from_spec(scenario, scenario.alarm, t0, metrics)
    also = [
        alarm_from_spec(scenario, spec, t0 + (spec.at or timedelta(0)), metrics)
        for spec in scenario.alarms_also_firing
    ]
    return Telemetry(
        t0=t0,
        start=t0 + scenario.window.start,
        end=t0 + scenario.window.tail,
        region=scenario.region,
        account=scenario.account,
        alarm=alarm,
        also_firing=also,
        metrics=metrics,
        logs=[expand_logs(scenario, spec, i, t0) for i, spec in enumerate(scenario.logs)],
        trace_documents=[
            doc
            for i, spec in enumerate(scenario.traces)
            for doc in expand_traces(scenario, spec, i, t0)
        ],
        changes=[expand_change(scenario, i, t0) for i in range(len(scenario.changes))],
    )
