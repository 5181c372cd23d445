"""Scenario files (docs/scenario-format.md, `version: 1` or `1.1`): reading and validating them.

A scenario is outside input like any other: a malformed one is rejected with
one message that names the file and the field path (`metrics[2].segments[0].from`),
never with a traceback. Unknown keys are accepted, so that a newer writer does
not break an older reader, and reported as warnings. This module holds the whole
scenario and its reading; its parts are `bot.sim.specs` and the syntax of their values
`bot.sim.syntax`. The names imported from here before that split still are (`__all__`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BeforeValidator, Field, ValidationError, field_validator

from bot.errors import BadInputError, format_validation_error
from bot.models import ServiceEntry
from bot.sim.invocation_specs import InvocationSpec
from bot.sim.span_specs import SpanShapeSpec
from bot.sim.specs import (
    AlarmSpec,
    ChangeSpec,
    Expected,
    LogGroupSpec,
    MetricSpec,
    Override,
    Spec,
    TraceSpec,
    Window,
    unknown_keys,
)
from bot.sim.syntax import (
    TemplatePart,
    compile_template,
    parse_duration,
    parse_offset,
    parse_rate,
)

__all__ = [
    "AlarmSpec",
    "LogGroupSpec",
    "MetricSpec",
    "Override",
    "Scenario",
    "ScenarioError",
    "TemplatePart",
    "TraceSpec",
    "compile_template",
    "load_scenario",
    "parse_duration",
    "parse_offset",
    "parse_rate",
    "parse_scenario",
    "scenario_files",
]

log = logging.getLogger(__name__)


class ScenarioError(BadInputError):
    """A scenario file that cannot be used; the message names the file and field."""


def _account_text(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:012d}"
    return value


VERSIONS = ("1", "1.1")


def _version_text(value: Any) -> Any:
    """`1`, `1.0`, `1.1` as YAML reads them (numbers) or as text -> "1" or "1.1"."""
    if isinstance(value, bool):
        raise ValueError("version is a number, 1 or 1.1")
    if isinstance(value, int | float):
        value = {1.0: "1", 1.1: "1.1"}.get(float(value), str(value))
    if isinstance(value, str) and value.strip() in {"1", "1.0"}:
        return "1"
    if isinstance(value, str) and value.strip() == "1.1":
        return "1.1"
    raise ValueError(f"{value!r} is not a version this reader knows: 1 or 1.1")


class Scenario(Spec):
    version: Annotated[Literal["1", "1.1"], BeforeValidator(_version_text)]
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
    invocations: list[InvocationSpec] = Field(default_factory=list)  # 1.1
    spans: list[SpanShapeSpec] = Field(default_factory=list)  # 1.1
    expected: Expected | None = None
    notes: str = ""

    @field_validator(
        "metrics",
        "logs",
        "traces",
        "spans",
        "changes",
        "invocations",
        "alarms_also_firing",
        mode="before",
    )
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return [] if value is None else value


def parse_scenario(data: Any, source: str = "<scenario>") -> Scenario:
    """Validate already-loaded YAML data as a scenario."""
    if not isinstance(data, dict):
        raise ScenarioError(f"{source}: a scenario is a YAML mapping, got {type(data).__name__}")
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(format_validation_error(source, exc)) from None
    for key in unknown_keys(scenario):
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
