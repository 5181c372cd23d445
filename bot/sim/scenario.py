"""Scenario files (SCENARIO_FORMAT.md, version 1): reading and validating them.

A scenario is outside input like any other: a malformed one is rejected with
one message that names the file and the field path (`metrics[2].segments[0].from`),
never with a traceback. Unknown keys are accepted, so that a newer writer does
not break an older reader, and reported as warnings.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from bot.errors import BadInputError, format_validation_error
from bot.models import Category, ServiceEntry

log = logging.getLogger(__name__)

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
_OFFSET = re.compile(r"^([+-]?)((?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+)$")
_OFFSET_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_RATE = re.compile(r"^(\d+(?:\.\d+)?)\s*/\s*(s|sec|m|min|h|hr|hour)$")
_RATE_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600, "hour": 3600}


class ScenarioError(BadInputError):
    """A scenario file that cannot be used; the message names the file and field."""


def parse_offset(value: Any) -> timedelta:
    """`-45m`, `+5m`, `-90s`, `0`, `-2d`, `-1h30m` -> a signed timedelta from T0."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("an offset is a time such as -45m or +5m, not a boolean")
    if isinstance(value, int | float):
        if value == 0:
            return timedelta(0)
        raise ValueError(f"offset {value!r} needs a unit: s, m, h or d (e.g. -45m)")
    if not isinstance(value, str):
        raise ValueError(f"an offset is a time such as -45m or +5m, not {type(value).__name__}")
    text = value.strip().replace(" ", "")
    if text in {"0", "+0", "-0", "T0", "t0"}:
        return timedelta(0)
    match = _OFFSET.match(text)
    if not match:
        raise ValueError(f"offset {value!r} is not a time such as -45m, +5m, -90s or -2d")
    seconds = sum(
        float(number) * _UNITS[unit] for number, unit in _OFFSET_PART.findall(match.group(2))
    )
    return timedelta(seconds=-seconds if match.group(1) == "-" else seconds)


def parse_duration(value: Any) -> float:
    """`2400ms`, `2.4s`, `1m` -> seconds (a positive float)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"a duration is written like 2400ms or 2.4s, not {value!r}")
    if isinstance(value, int | float):
        raise ValueError(f"duration {value!r} needs a unit: ms or s (e.g. 2400ms)")
    text = value.strip().replace(" ", "")
    match = _OFFSET.match(text)
    if not match or match.group(1) == "-":
        raise ValueError(f"duration {value!r} is not a duration such as 2400ms or 2.4s")
    return parse_offset(text).total_seconds()


def parse_rate(value: Any) -> float:
    """`120/m`, `0.5/m`, `3/s`, `10/h` -> events per second."""
    if not isinstance(value, str):
        raise ValueError(f"a rate is written like 120/m, 0.5/m or 3/s, not {value!r}")
    match = _RATE.match(value.strip())
    if not match:
        raise ValueError(f"rate {value!r} is not a rate such as 120/m, 0.5/m or 3/s")
    return float(match.group(1)) / _RATE_UNITS[match.group(2)]


Offset = Annotated[timedelta, BeforeValidator(parse_offset)]
Duration = Annotated[float, BeforeValidator(parse_duration)]
Rate = Annotated[float, BeforeValidator(parse_rate)]
Share = Annotated[float, Field(ge=0.0, le=1.0)]


def _text_map(value: Any) -> Any:
    """Dimension maps: YAML turns `GuardrailVersion: 4` into an int; AWS wants text."""
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    return value


TextMap = Annotated[dict[str, str], BeforeValidator(_text_map)]


class _Spec(BaseModel):
    """Base of every scenario model: unknown keys are kept aside and warned about."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)


class TemplatePart(BaseModel):
    """A piece of a log template: literal text, or a placeholder with its argument."""

    model_config = ConfigDict(frozen=True)

    kind: str  # "text", "uuid", "int", "float", "hex", "choice", "ip", "ts"
    text: str = ""
    low: float = 0
    high: float = 0
    options: tuple[str, ...] = ()


_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([a-z]+)(?::([^{}]*))?\}|[{}]")
_RANGE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*-\s*(-?\d+(?:\.\d+)?)\s*$")


def compile_template(template: str) -> tuple[TemplatePart, ...]:
    """Split a template into literal text and placeholders, rejecting unknown ones."""
    parts: list[TemplatePart] = []
    buffer: list[str] = []
    position = 0
    for match in _PLACEHOLDER.finditer(template):
        buffer.append(template[position : match.start()])
        position = match.end()
        token = match.group(0)
        if token in ("{{", "}}"):
            buffer.append(token[0])
            continue
        name, arg = match.group(1), match.group(2)
        if name is None:
            raise ValueError(
                f"unbalanced {token!r} at character {match.start()}: write literal braces as "
                "{{ and }}"
            )
        if buffer:
            parts.append(TemplatePart(kind="text", text="".join(buffer)))
            buffer = []
        parts.append(_placeholder(name, arg))
    buffer.append(template[position:])
    if any(buffer):
        parts.append(TemplatePart(kind="text", text="".join(buffer)))
    return tuple(parts)


def _placeholder(name: str, arg: str | None) -> TemplatePart:
    if name in ("uuid", "ip", "ts"):
        if arg is not None:
            raise ValueError(f"placeholder {{{name}}} takes no argument")
        return TemplatePart(kind=name)
    if name in ("int", "float"):
        match = _RANGE.match(arg or "")
        if not match:
            raise ValueError(f"placeholder {{{name}:A-B}} needs a range, got {arg!r}")
        low, high = float(match.group(1)), float(match.group(2))
        if low > high:
            raise ValueError(f"placeholder {{{name}:{arg}}} has its range backwards")
        return TemplatePart(kind=name, low=low, high=high)
    if name == "hex":
        if not (arg or "").strip().isdigit() or not 0 < int(arg or 0) <= 64:
            raise ValueError(f"placeholder {{hex:N}} needs N from 1 to 64, got {arg!r}")
        return TemplatePart(kind="hex", low=int(arg or 0))
    if name == "choice":
        if arg is None or arg == "":
            raise ValueError("placeholder {choice:a|b} needs at least one option")
        return TemplatePart(kind="choice", options=tuple(arg.split("|")))
    raise ValueError(f"unknown placeholder {{{name}}}: use uuid, int, float, hex, choice, ip or ts")


class Window(_Spec):
    start: Offset = timedelta(minutes=-60)
    tail: Offset = timedelta(minutes=5)

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.start >= timedelta(0):
            raise ValueError("window.start must lie before T0 (e.g. -60m)")
        if self.tail < timedelta(0):
            raise ValueError("window.tail must be zero or after T0 (e.g. 5m)")
        return self


class Segment(_Spec):
    start: Offset | None = Field(default=None, alias="from")
    end: Offset | None = Field(default=None, alias="to")
    value: float
    jitter: float = Field(default=0.0, ge=0.0)
    ramp: bool = False


class MetricSpec(_Spec):
    namespace: str = Field(min_length=1)
    name: str = Field(min_length=1)
    dimensions: TextMap = Field(default_factory=dict)
    unit: str | None = None
    period: int = Field(default=60, ge=1)
    segments: list[Segment] = Field(default_factory=list)


class LogPatternSpec(_Spec):
    template: str
    rate: Rate
    start: Offset | None = Field(default=None, alias="from")
    end: Offset | None = Field(default=None, alias="to")

    @field_validator("template")
    @classmethod
    def _valid_template(cls, value: str) -> str:
        compile_template(value)
        return value


class LogLineSpec(_Spec):
    at: Offset
    message: str

    @field_validator("message")
    @classmethod
    def _valid_template(cls, value: str) -> str:
        compile_template(value)
        return value


class LogGroupSpec(_Spec):
    group: str = Field(min_length=1)
    stream: str | None = None
    patterns: list[LogPatternSpec] = Field(default_factory=list)
    lines: list[LogLineSpec] = Field(default_factory=list)


class SpanSpec(_Spec):
    name: str = Field(min_length=1)
    service: str | None = None
    namespace: str | None = None
    duration: Duration
    jitter: float = Field(default=0.0, ge=0.0)


class RootSpec(_Spec):
    service: str = Field(min_length=1)
    name: str = Field(min_length=1)
    duration: Duration
    jitter: float = Field(default=0.0, ge=0.0)


class Override(_Spec):
    """How a span or the root behaves during a phase."""

    duration: Duration | None = None
    jitter: float | None = Field(default=None, ge=0.0)
    fault: Share = 0.0
    error: Share = 0.0
    throttle: Share = 0.0
    http_status: int | None = Field(default=None, ge=100, le=599)
    message: str | None = None


class PhaseSpec(_Spec):
    start: Offset | None = Field(default=None, alias="from")
    end: Offset | None = Field(default=None, alias="to")
    root: Override | None = None
    spans: dict[str, Override] = Field(default_factory=dict)


class TraceSpec(_Spec):
    name: str = Field(min_length=1)
    rate: Rate
    root: RootSpec
    spans: list[SpanSpec] = Field(default_factory=list)
    phases: list[PhaseSpec] = Field(default_factory=list)

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


class ChangeSpec(_Spec):
    at: Offset
    event_source: str = Field(min_length=1)
    event_name: str = Field(min_length=1)
    resource: str | None = None
    user: str | None = None
    request: dict[str, Any] = Field(default_factory=dict)


class AlarmSpec(_Spec):
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


class Expected(_Spec):
    category: Category
    evidence: list[str] = Field(default_factory=list)
    acceptable: list[Category] = Field(default_factory=list)


def _account_text(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:012d}"
    return value


class Scenario(_Spec):
    version: Literal[1]
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    title: str = ""
    seed: int = 0
    region: str = Field(default="us-east-1", pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")
    account: Annotated[str, BeforeValidator(_account_text)] = Field(
        default="123456789012", pattern=r"^\d{12}$"
    )
    window: Window = Field(default_factory=Window)
    service: ServiceEntry
    alarm: AlarmSpec
    alarms_also_firing: list[AlarmSpec] = Field(default_factory=list)
    metrics: list[MetricSpec] = Field(default_factory=list)
    logs: list[LogGroupSpec] = Field(default_factory=list)
    traces: list[TraceSpec] = Field(default_factory=list)
    changes: list[ChangeSpec] = Field(default_factory=list)
    expected: Expected | None = None
    notes: str = ""

    @field_validator("metrics", "logs", "traces", "changes", "alarms_also_firing", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return [] if value is None else value


def _unknown_keys(model: BaseModel, path: str = "") -> list[str]:
    found = [f"{path}.{key}" if path else key for key in (model.model_extra or {})]
    for name, value in model:
        child = f"{path}.{name}" if path else name
        if isinstance(value, _Spec):
            found += _unknown_keys(value, child)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, _Spec):
                    found += _unknown_keys(item, f"{child}[{index}]")
    return found


def parse_scenario(data: Any, source: str = "<scenario>") -> Scenario:
    """Validate already-loaded YAML data as a scenario."""
    if not isinstance(data, dict):
        raise ScenarioError(f"{source}: a scenario is a YAML mapping, got {type(data).__name__}")
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(format_validation_error(source, exc)) from None
    for key in _unknown_keys(scenario):
        log.warning("%s: unknown key %s ignored", source, key)
    return scenario


def load_scenario(path: Path | str) -> Scenario:
    """Read and validate one scenario file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScenarioError(f"{path}: not valid YAML{where}: {problem}") from None
    return parse_scenario(data, str(path))


def scenario_files(*folders: Path | str) -> list[Path]:
    """Every `*.yaml` / `*.yml` file of the folders (or the files themselves), sorted."""
    found: list[Path] = []
    for folder in folders:
        folder = Path(folder)
        if folder.is_file():
            found.append(folder)
        else:
            found += sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])
    return found
