"""The parts of a scenario: window, metrics, logs, traces, changes, alarms, expectation.

One pydantic model per block of the format (docs/scenario-format.md), each validating
what it can check on its own (a template's placeholders, a phase naming a known span, a
CloudWatch statistic), so that an error names the field path that is wrong. All are
frozen, and all keep unknown keys aside rather than rejecting them (`Spec`): a newer
writer must not break an older reader, and `unknown_keys` lists them for a warning.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bot.models import Category
from bot.sim.agentcore import check_dimensions
from bot.sim.syntax import Duration, Offset, Rate, Share, TextMap, compile_template


class Spec(BaseModel):
    """Base of every scenario model: unknown keys are kept aside and warned about."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)


class Window(Spec):
    start: Offset = timedelta(minutes=-60)
    tail: Offset = timedelta(minutes=5)

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.start >= timedelta(0):
            raise ValueError("window.start must lie before T0 (e.g. -60m)")
        if self.tail < timedelta(0):
            raise ValueError("window.tail must be zero or after T0 (e.g. 5m)")
        return self


class Segment(Spec):
    start: Offset | None = Field(default=None, alias="from")
    end: Offset | None = Field(default=None, alias="to")
    value: float
    jitter: float = Field(default=0.0, ge=0.0)
    ramp: bool = False


class MetricSpec(Spec):
    namespace: str = Field(min_length=1)
    name: str = Field(min_length=1)
    dimensions: TextMap = Field(default_factory=dict)
    unit: str | None = None
    period: int = Field(default=60, ge=1)
    segments: list[Segment] = Field(default_factory=list)

    @model_validator(mode="after")
    def _agentcore_dimensions(self) -> MetricSpec:
        check_dimensions(self.namespace, self.dimensions)
        return self


class LogPatternSpec(Spec):
    template: str
    rate: Rate
    start: Offset | None = Field(default=None, alias="from")
    end: Offset | None = Field(default=None, alias="to")

    @field_validator("template")
    @classmethod
    def _valid_template(cls, value: str) -> str:
        compile_template(value)
        return value


class LogLineSpec(Spec):
    at: Offset
    message: str

    @field_validator("message")
    @classmethod
    def _valid_template(cls, value: str) -> str:
        compile_template(value)
        return value


class LogGroupSpec(Spec):
    group: str = Field(min_length=1)
    stream: str | None = None
    # 1.1: `json` writes the group as a Lambda function on the JSON log format does.
    format: Literal["text", "json"] = "text"
    patterns: list[LogPatternSpec] = Field(default_factory=list)
    lines: list[LogLineSpec] = Field(default_factory=list)


class SpanSpec(Spec):
    name: str = Field(min_length=1)
    service: str | None = None
    namespace: str | None = None
    duration: Duration
    jitter: float = Field(default=0.0, ge=0.0)


class RootSpec(Spec):
    service: str = Field(min_length=1)
    name: str = Field(min_length=1)
    duration: Duration
    jitter: float = Field(default=0.0, ge=0.0)


class LambdaSpec(Spec):
    """1.1: a trace shape written as Lambda's X-Ray integration writes it: the Lambda
    service's segment, the function's segment with Initialization (on a cold start),
    Invocation (holding the spans) and Overhead."""

    function: str | None = None  # the function's name; the root's service by default
    cold_start: Share = 0.02  # share of invocations that start cold
    init: Duration = 0.4  # Initialization time of a cold start
    overhead: Duration = 0.01  # extension time after the response


class LambdaOverride(Spec):
    cold_start: Share | None = None
    init: Duration | None = None
    overhead: Duration | None = None


class Override(Spec):
    """How a span or the root behaves during a phase."""

    duration: Duration | None = None
    jitter: float | None = Field(default=None, ge=0.0)
    fault: Share = 0.0
    error: Share = 0.0
    throttle: Share = 0.0
    http_status: int | None = Field(default=None, ge=100, le=599)
    message: str | None = None


class PhaseSpec(Spec):
    start: Offset | None = Field(default=None, alias="from")
    end: Offset | None = Field(default=None, alias="to")
    root: Override | None = None
    spans: dict[str, Override] = Field(default_factory=dict)
    lambda_: LambdaOverride | None = Field(default=None, alias="lambda")  # 1.1


class TraceSpec(Spec):
    name: str = Field(min_length=1)
    rate: Rate
    root: RootSpec
    spans: list[SpanSpec] = Field(default_factory=list)
    phases: list[PhaseSpec] = Field(default_factory=list)
    lambda_: LambdaSpec | None = Field(default=None, alias="lambda")  # 1.1

    @model_validator(mode="after")
    def _phases_name_spans(self) -> TraceSpec:
        known = {span.name for span in self.spans}
        for index, phase in enumerate(self.phases):
            for name in phase.spans:
                if name not in known:
                    raise ValueError(
                        f"phases[{index}].spans names {name!r}, which is not one of the "
                        f"trace's spans ({', '.join(sorted(known)) or 'none'})"
                    )
        return self


class ChangeSpec(Spec):
    at: Offset
    event_source: str = Field(min_length=1)
    event_name: str = Field(min_length=1)
    resource: str | None = None
    user: str | None = None
    request: dict[str, Any] = Field(default_factory=dict)


class AlarmSpec(Spec):
    name: str = Field(min_length=1, max_length=255)
    description: str = ""
    namespace: str = Field(min_length=1)
    metric: str = Field(min_length=1)
    dimensions: TextMap = Field(default_factory=dict)
    statistic: str = "Average"
    period: int = Field(default=60, ge=1)
    evaluation_periods: int = Field(default=1, ge=1)
    threshold: float = 0.0
    comparison: Literal[
        "GreaterThanThreshold",
        "GreaterThanOrEqualToThreshold",
        "LessThanThreshold",
        "LessThanOrEqualToThreshold",
        "LessThanLowerOrGreaterThanUpperThreshold",
        "LessThanLowerThreshold",
        "GreaterThanUpperThreshold",
    ] = "GreaterThanThreshold"
    reason: str | None = None
    at: Offset | None = None

    @model_validator(mode="after")
    def _agentcore_dimensions(self) -> AlarmSpec:
        check_dimensions(self.namespace, self.dimensions)
        return self

    @field_validator("statistic")
    @classmethod
    def _known_statistic(cls, value: str) -> str:
        if value in {"Sum", "Average", "Maximum", "Minimum", "SampleCount"}:
            return value
        if re.fullmatch(r"(p|tm|wm|tc|ts)\d{1,2}(\.\d+)?|IQM", value):
            return value
        raise ValueError(
            f"statistic {value!r} is not a CloudWatch statistic "
            "(Sum, Average, Maximum, Minimum, SampleCount, p99, ...)"
        )


class Expected(Spec):
    category: Category
    evidence: list[str] = Field(default_factory=list)
    acceptable: list[Category] = Field(default_factory=list)


def unknown_keys(model: BaseModel, path: str = "") -> list[str]:
    """The field paths of every key the models did not know (`metrics[0].colour`)."""
    found = [f"{path}.{key}" if path else key for key in (model.model_extra or {})]
    for name, value in model:
        child = f"{path}.{name}" if path else name
        if isinstance(value, Spec):
            found += unknown_keys(value, child)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, Spec):
                    found += unknown_keys(item, f"{child}[{index}]")
    return found
