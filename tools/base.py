"""What every read-only tool is: a name, a pydantic input, and a result in two forms.

The text form is what an LLM reads (compact, already ranked); the data form is
what triage and the Slack blocks compute with. Keeping both in one result means
the model and the deterministic triage always look at the same evidence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tools.aws import AwsClients

InputT = TypeVar("InputT", bound=BaseModel)


def utc(value: datetime) -> datetime:
    """Every instant is timezone-aware UTC; naive ones (boto3 gives both) are taken as UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


class TimeRange(BaseModel):
    """The window a tool looks at; `onset` splits it into baseline and recent."""

    model_config = ConfigDict(frozen=True)

    start: datetime
    end: datetime
    onset: datetime
    t0: datetime | None = None  # the alarm's moment; evidence lines are written relative to it

    @model_validator(mode="after")
    def _ordered(self) -> TimeRange:
        if self.t0 is None:
            object.__setattr__(self, "t0", self.onset)
        for name in ("start", "end", "onset", "t0"):
            object.__setattr__(self, name, utc(getattr(self, name)))
        if self.start >= self.end:
            raise ValueError("start must be before end")
        if not self.start <= self.onset <= self.end:
            object.__setattr__(self, "onset", min(max(self.onset, self.start), self.end))
        return self

    @property
    def baseline_seconds(self) -> float:
        return max((self.onset - self.start).total_seconds(), 1.0)

    @property
    def recent_seconds(self) -> float:
        return max((self.end - self.onset).total_seconds(), 1.0)

    def minutes_from_t0(self, at: datetime) -> float:
        return (utc(at) - self.t0) / timedelta(minutes=1)  # type: ignore[operator]

    def is_recent(self, at: datetime) -> bool:
        return utc(at) >= self.onset


class ToolInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timeout_s: float = Field(default=20.0, gt=0, le=120)


@dataclass
class ToolResult:
    """What a tool found: `text` for an LLM, `data` for code, `notes` for caveats."""

    tool: str
    text: str
    data: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


class ToolError(RuntimeError):
    """A tool could not answer; the message says why, in one line."""


class Tool(Generic[InputT]):
    """Base class: subclasses set `name`, `description`, `Input` and implement `run`."""

    name: ClassVar[str]
    description: ClassVar[str]
    Input: ClassVar[type[BaseModel]]

    def __init__(self, aws: AwsClients) -> None:
        self.aws = aws

    def run(self, params: InputT) -> ToolResult:  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, raw: dict[str, Any] | BaseModel) -> ToolResult:
        """Validate untrusted arguments (e.g. from an LLM tool call) and run."""
        params = raw if isinstance(raw, self.Input) else self.Input.model_validate(raw)
        return self.run(params)  # type: ignore[arg-type]


def fmt_number(value: float) -> str:
    """`38`, `0.25`, `1.2k`: numbers as short as an SRE writes them."""
    magnitude = abs(value)
    if magnitude >= 10_000:
        return f"{value / 1000:.0f}k"
    if magnitude >= 1000:
        return f"{value / 1000:.1f}k"
    if magnitude >= 100 or float(value).is_integer():
        return f"{value:.0f}"
    if magnitude >= 1:
        return f"{value:.1f}"
    return f"{value:.2f}"


def fmt_offset(minutes: float) -> str:
    """Minutes relative to the alarm -> `T0-12m`, `T0+3m`, `T0-26h`, `T0`."""
    if abs(minutes) < 0.5:
        return "T0"
    sign = "-" if minutes < 0 else "+"
    minutes = abs(minutes)
    if minutes >= 180:
        return f"T0{sign}{minutes / 60:.0f}h"
    return f"T0{sign}{minutes:.0f}m"
